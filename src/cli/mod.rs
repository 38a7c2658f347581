//! Command-line arguments, dispatch and exit codes.

mod bench;
mod embed;
mod info;
mod interpolate;
mod live;
mod presets;
mod serve;
pub mod sheet;
pub mod signals;
mod style_args;
mod styles;
mod stylize;
mod video;

use std::path::PathBuf;
use std::process::ExitCode;

use brushwork::images::ImageError;
use brushwork::models::{ModelError, Precision};
use brushwork::pipeline::PipelineError;
use brushwork::presets::PresetError;
use brushwork::sources::SourceError;
use brushwork::style::BlendError;
use brushwork::style_file::StyleFileError;
use brushwork::style_source::StyleSourceError;
use brushwork::video::VideoError;
use brushwork::{Device, ModelSet, StylizeError, StylizerOptions};
use clap::{Args, Parser, Subcommand};

/// Exit status for anything the user can fix: bad pictures, paths or arguments (clap uses 2 for
/// bad arguments too).
pub const EXIT_USAGE: u8 = 2;
/// Exit status for failures of the machine or the runtime.
pub const EXIT_FAILURE: u8 = 1;

/// Real-time arbitrary neural style transfer: any painting styles any photo, at full resolution.
#[derive(Debug, Parser)]
#[command(name = "brushwork", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Stylize(stylize::StylizeArgs),
    Embed(embed::EmbedArgs),
    Styles(styles::StylesArgs),
    Interpolate(interpolate::InterpolateArgs),
    Presets(presets::PresetsArgs),
    Live(live::LiveArgs),
    Video(video::VideoArgs),
    Serve(serve::ServeArgs),
    Bench(bench::BenchArgs),
    Info(info::InfoArgs),
}

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

    /// Threads per inference, at most 4 per CPU core; by default ONNX Runtime uses one per
    /// physical core.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,

    /// Load style_predict.onnx and style_transform.onnx (and, if there, style_transform_fp32.onnx,
    /// style_transform_fp16.onnx, multistyle26.onnx and the tiled_*.bundle files for large
    /// pictures) from DIR instead of the built-in models.
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,

    /// Pictures whose untiled run would need more memory than this run in tiles, with the
    /// whole picture's statistics (same result, bounded memory): e.g. 1GiB, 800MB, 2.5GiB
    /// (KB, MB, GB are powers of 1000; KiB, MiB, GiB and K, M, G of 1024); at least 96MiB.
    /// Default: 1GiB (4GiB on a GPU), exceeded rather than refused by a picture that cannot fit
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
        Ok(n) if (64..=8192).contains(&n) && n % 4 == 0 => Ok(n),
        _ => Err(format!(
            "'{s}': a tile side is a multiple of 4 from 64 to 8192 pixels"
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

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Stylize(args) => stylize::run(args),
        Command::Embed(args) => embed::run(args),
        Command::Styles(args) => styles::run(args),
        Command::Interpolate(args) => interpolate::run(args),
        Command::Presets(args) => presets::run(args),
        Command::Live(args) => live::run(args),
        Command::Video(args) => video::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Info(args) => info::run(args),
    }
}

/// A user-fixable problem found by the CLI itself (not by the library).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Standard output is closed or full: a failure of the run (exit 1), not a panic.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to standard output: {0}")]
pub struct StdoutError(pub std::io::Error);

/// Whether `err` is standard output's reader having gone (a closed pipe): the run stops with
/// exit 1 and says nothing, as `head` expects of the commands it reads from.
pub fn reader_gone(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<StdoutError>()
            .is_some_and(|e| e.0.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Ends the process for an argument error: help and version as clap prints them, and every
/// other error as brushwork's one line (clap's own message, without its usage block), exit 2.
pub fn argument_error(e: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        // Help and version are output like any other: one that cannot be written is a failed
        // run (exit 1), quietly when the reader has gone.
        use std::io::Write as _;
        let printed = e.print().and_then(|()| std::io::stdout().lock().flush());
        if let Err(err) = printed {
            let err = anyhow::Error::from(StdoutError(err));
            if !reader_gone(&err) {
                report(&err);
            }
            std::process::exit(i32::from(EXIT_FAILURE));
        }
        std::process::exit(0);
    }
    let text = e.render().to_string();
    let message: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    let message = message.join(" ");
    say!(
        "brushwork: error: {}",
        message.strip_prefix("error: ").unwrap_or(&message)
    );
    std::process::exit(i32::from(EXIT_USAGE));
}

/// Prints what the library logs at info level and above on stderr, as `brushwork: ...` lines.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level() && metadata.target().starts_with("brushwork")
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            say!("brushwork: {}", record.args());
        }
    }

    fn flush(&self) {}
}

pub fn install_logger() {
    static LOGGER: StderrLogger = StderrLogger;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

/// Prints an error as brushwork's one line on stderr.
pub fn report(err: &anyhow::Error) {
    say!("brushwork: error: {}", one_line(err));
}

/// Refuses a plan whose outputs include one of its inputs, with the one message every command
/// gives.
pub fn refuse_overwriting_inputs<'a>(
    targets: impl IntoIterator<Item = &'a std::path::Path>,
    inputs: impl IntoIterator<Item = &'a std::path::Path>,
) -> Result<(), UsageError> {
    brushwork::atomic::refuse_overwriting_inputs(targets, inputs).map_err(|target| {
        UsageError(format!(
            "{}: refusing to overwrite an input file; choose another output",
            target.display()
        ))
    })
}

/// Refuses an output directory into which a command writes names of its own (`live
/// --record`'s `frame-NNNNNN.png`) when it holds one of the inputs, which such a name could
/// overwrite.
pub fn refuse_dir_holding_inputs<'a>(
    flag: &str,
    dir: &std::path::Path,
    inputs: impl IntoIterator<Item = &'a std::path::Path>,
) -> Result<(), UsageError> {
    brushwork::atomic::refuse_dir_holding_inputs(dir, inputs).map_err(|input| {
        UsageError(format!(
            "{flag} {}: it holds the input {}, which a recorded frame could overwrite; choose another directory",
            dir.display(),
            input.display()
        ))
    })
}

/// The name an input gets in an output directory: its whole file stem (`holiday.v1.jpg` ->
/// `holiday.v1.png`), with `ext` appended.
pub fn output_name(input: &std::path::Path, ext: &str) -> std::ffi::OsString {
    let mut name = input
        .file_stem()
        .unwrap_or(input.as_os_str())
        .to_os_string();
    name.push(".");
    name.push(ext);
    name
}

/// 2 for problems with the user's input, 1 for everything else. Each library error says which
/// it is (`is_user_error`); an error wrapped transparently is asked through its wrapper.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let user_fault = err.chain().any(|e| {
        e.is::<UsageError>()
            || e.is::<StyleFileError>()
            || e.is::<BlendError>()
            || e.is::<PresetError>()
            || e.downcast_ref::<ImageError>()
                .is_some_and(ImageError::is_user_error)
            || e.downcast_ref::<SourceError>()
                .is_some_and(SourceError::is_user_error)
            || e.downcast_ref::<PipelineError>()
                .is_some_and(PipelineError::is_user_error)
            || e.downcast_ref::<StylizeError>()
                .is_some_and(StylizeError::is_user_error)
            || e.downcast_ref::<StyleSourceError>()
                .is_some_and(StyleSourceError::is_user_error)
            || e.downcast_ref::<ModelError>()
                .is_some_and(ModelError::is_users)
            || e.downcast_ref::<VideoError>()
                .is_some_and(VideoError::is_user_error)
    });
    if user_fault {
        EXIT_USAGE
    } else {
        EXIT_FAILURE
    }
}

/// The error and its causes on one line.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string().replace('\n', " ");
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

/// Parses WIDTHxHEIGHT with both sides in 16..=`max`; `label` and `example` shape the error.
pub fn parse_size(s: &str, label: &str, example: &str, max: u32) -> anyhow::Result<(u32, u32)> {
    let bad = || {
        UsageError(format!(
            "{label} '{s}': use WIDTHxHEIGHT, e.g. {example}; sides 16 to {max}"
        ))
    };
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if !(16..=max).contains(&w) || !(16..=max).contains(&h) {
        return Err(bad().into());
    }
    Ok((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn sizes_parse_within_bounds_or_are_refused(text in "[0-9xX \\-+.]{0,16}|\\PC{0,20}") {
            match parse_size(&text, "--size", "640x480", 8192) {
                Ok((w, h)) => prop_assert!((16..=8192).contains(&w) && (16..=8192).contains(&h)),
                Err(e) => {
                    prop_assert!(!one_line(&e).contains('\n'));
                    prop_assert_eq!(exit_code(&e), EXIT_USAGE);
                }
            }
        }

        #[test]
        fn user_text_errors_are_one_line_and_exit_2(text in "\\PC{0,30}") {
            let errors: Vec<anyhow::Error> = [
                brushwork::presets::PresetMix::parse(&text).err().map(anyhow::Error::from),
                brushwork::style_source::StyleSource::parse(&format!("{text}-no-such"))
                    .err()
                    .map(anyhow::Error::from),
            ]
            .into_iter()
            .flatten()
            .collect();
            for e in errors {
                prop_assert!(!one_line(&e).contains('\n'));
                prop_assert_eq!(exit_code(&e), EXIT_USAGE, "{}", one_line(&e));
            }
        }
    }

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

    #[test]
    fn one_line_flattens_causes_without_repeating_them() {
        let e = anyhow::Error::from(UsageError("inner\nsecond".into())).context("outer");
        assert_eq!(one_line(&e), "outer: inner second");
    }
}
