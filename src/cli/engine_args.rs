//! The options every command that runs a model shares ([`EngineArgs`]: device, precision,
//! threads, models, memory budget, tile size), and the parsers of their values.

use std::path::PathBuf;

use brushwork::models::{ModelSet, Precision};
use brushwork::{Device, StylizerOptions};
use clap::Args;

use super::UsageError;

/// Options shared by every command that runs a model.
#[derive(Debug, Args, Clone)]
pub struct EngineArgs {
    /// Where the networks run: auto (the fastest that starts: tensorrt, cuda, then openvino
    /// where the CPU has AVX-512 BF16 or AMX, then cpu), cpu (ONNX Runtime), openvino (OpenVINO
    /// on the CPU, fetched once from PyPI), cuda, cuda:N, tensorrt or tensorrt:N (GPU providers
    /// need a build with --features cuda / tensorrt and ONNX Runtime's GPU library).
    #[arg(long, default_value = "auto", value_name = "DEVICE")]
    pub device: Device,

    /// The transformation network's variant: auto (bf16 on openvino where the CPU has it, fp32
    /// on the CPU, fp16 on a GPU), int8 (the published model, every activation rounded to 8
    /// bits), fp32 or fp16 (float graphs of the same weights, with pre- and post-processing in
    /// the graph), bf16 (the fp32 graph computed in bfloat16; openvino only).
    #[arg(long, default_value = "auto", value_name = "PRECISION", value_parser = parse_precision)]
    // Spelled out so that clap takes the parser's `Option` as the value ("auto" is `None`)
    // instead of making the flag optional.
    pub precision: std::option::Option<Precision>,

    /// Threads per inference, at most 4 per CPU thread; by default ONNX Runtime uses one per
    /// physical core.
    #[arg(long, value_name = "N", value_parser = crate::cli::whole_number::<u16>(1, Some(1024)))]
    pub threads: Option<u16>,

    /// Load style_predict.onnx and style_transform.onnx (and, if there, style_transform_fp32.onnx,
    /// style_transform_fp16.onnx, multistyle26.onnx, the tiled_*.bundle files for large
    /// pictures, and style_transform_trunk.onnx with norm_params.bin, which OpenVINO runs in
    /// place of the fp32 graph, tiled_trunk.bundle in tiles) from DIR instead of the built-in
    /// models.
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,

    /// Pictures whose untiled run would need more memory than this run in tiles, with the
    /// whole picture's statistics (same result, bounded memory): e.g. 1GiB, 800MB, 2.5GiB
    /// (KB, MB, GB are powers of 1000; KiB, MiB, GiB and K, M, G of 1024); at least 96MiB.
    /// Default: 1GiB (on a GPU, 3/4 of its free memory), exceeded rather than refused by a picture that cannot fit
    /// it even in tiles; a budget given here is kept, and such a picture is refused.
    #[arg(long, value_name = "SIZE", value_parser = parse_budget)]
    pub memory_budget: Option<u64>,

    /// The side of a tile, in pixels, for pictures that run in tiles (a multiple of 4, at
    /// least 64).
    #[arg(long, value_name = "PX", default_value_t = brushwork::DEFAULT_TILE_SIDE,
          value_parser = parse_tile_side)]
    pub tile_size: u32,

    /// Say what runs where, and how long each step takes.
    #[arg(short, long)]
    pub verbose: bool,
}

impl EngineArgs {
    /// The same options as command-line arguments, for a child `brushwork` (bench runs one per
    /// size). Kept beside the fields; a test parses them back.
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut v: Vec<std::ffi::OsString> =
            vec!["--device".into(), self.device.to_string().into()];
        if let Some(p) = self.precision {
            v.extend(["--precision".into(), p.to_string().into()]);
        }
        if let Some(t) = self.threads {
            v.extend(["--threads".into(), t.to_string().into()]);
        }
        if let Some(m) = &self.models {
            v.extend(["--models".into(), m.clone().into_os_string()]);
        }
        if let Some(b) = self.memory_budget {
            v.extend(["--memory-budget".into(), format!("{b}B").into()]);
        }
        v.extend(["--tile-size".into(), self.tile_size.to_string().into()]);
        if self.verbose {
            v.push("--verbose".into());
        }
        v
    }

    pub fn options(&self) -> anyhow::Result<StylizerOptions> {
        if self.verbose {
            // The library's debug lines (what `auto` tried, an engine's compile time) too.
            log::set_max_level(log::LevelFilter::Debug);
        }
        let models = match &self.models {
            Some(dir) => ModelSet::from_dir(dir)?,
            None => ModelSet::embedded(),
        };
        if let Some(n) = self.threads {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            if usize::from(n) > 4 * cores {
                return Err(UsageError(format!(
                    "--threads {n}: this machine has {cores} CPU threads; use at most {}",
                    4 * cores
                ))
                .into());
            }
        }
        Ok(StylizerOptions {
            models,
            threads: self.threads.map(usize::from),
            device: self.device,
            precision: self.precision,
            memory_budget: self.memory_budget,
            tile_side: self.tile_size,
            workload: None,
        })
    }
}

/// A size in bytes with its unit: B, KB, MB, GB (powers of 1000), KiB, MiB, GiB (of 1024).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number.parse().map_err(|_| {
        format!("'{s}' is not a size; write it as 1GiB, 800MB or 2.5GiB (with a dot)")
    })?;
    let unit_bytes: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "kib" | "k" => 1024.0,
        "mib" | "m" => 1024.0 * 1024.0,
        "gib" | "g" => 1024.0 * 1024.0 * 1024.0,
        "" => {
            return Err(format!(
                "'{s}' has no unit; write it as 1GiB, 800MB or 2.5GiB"
            ))
        }
        _ => {
            return Err(format!(
                "'{s}': unknown unit; use B, KB, MB, GB, KiB, MiB or GiB"
            ))
        }
    };
    let bytes = n * unit_bytes;
    if !(1.0..=(1u64 << 50) as f64).contains(&bytes) {
        return Err(format!("'{s}' is out of range"));
    }
    Ok(bytes as u64)
}

/// A memory budget: a size of at least what the process itself needs.
fn parse_budget(s: &str) -> Result<u64, String> {
    let bytes = parse_bytes(s)?;
    if bytes < brushwork::MIN_MEMORY_BUDGET {
        return Err(format!(
            "'{s}': give at least {}MiB (brushwork itself needs about 64MiB, and the smallest \
             photos the rest)",
            brushwork::MIN_MEMORY_BUDGET >> 20
        ));
    }
    Ok(bytes)
}

fn parse_tile_side(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if (brushwork::MIN_TILE_SIDE..=8192).contains(&n) && n % 4 == 0 => Ok(n),
        _ => Err(format!(
            "'{s}': a tile side is a multiple of 4 from {} to 8192 pixels",
            brushwork::MIN_TILE_SIDE
        )),
    }
}

/// `auto` is `None`: the stylizer picks by device.
fn parse_precision(s: &str) -> Result<Option<Precision>, String> {
    match s {
        "auto" => Ok(None),
        s => s.parse().map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn sizes_need_a_unit_and_mean_what_it_says() {
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("800MB"), Ok(800_000_000));
        assert_eq!(parse_bytes("2.5 GiB"), Ok(5 << 29));
        assert_eq!(parse_bytes("512k"), Ok(512 << 10));
        assert!(parse_bytes("512").unwrap_err().contains("has no unit"));
        assert!(parse_bytes("0MB").unwrap_err().contains("out of range"));
        assert!(parse_bytes("1.2.3MB")
            .unwrap_err()
            .contains("is not a size"));
        assert_eq!(parse_tile_side("256"), Ok(256));
        assert!(parse_tile_side("250").is_err());
    }

    #[test]
    fn engine_args_round_trip_through_to_args() {
        #[derive(Debug, Parser)]
        struct Probe {
            #[command(flatten)]
            engine: EngineArgs,
        }
        for line in [
            "x",
            "x --device cpu --precision int8 --threads 3 --models /m -v",
            "x --device cuda:1 --precision fp16",
            "x --memory-budget 1.5GiB --tile-size 512",
        ] {
            let parsed = Probe::parse_from(line.split(' ')).engine;
            let again = Probe::parse_from(
                std::iter::once(std::ffi::OsString::from("x")).chain(parsed.to_args()),
            )
            .engine;
            assert_eq!(format!("{parsed:?}"), format!("{again:?}"), "{line}");
        }
    }
}
