//! `brushwork bench`: how fast and how large, per image size.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{bail, Context};
use brushwork::Stylizer;
use clap::Args;
use image::RgbImage;
use serde::{Deserialize, Serialize};

use brushwork::metrics::{median, proc_status_mb};

use super::{parse_size, EngineArgs};

/// Measure speed and memory: per size, the median time of a frame (8-bit RGB in, transformer,
/// 8-bit RGB out, style embedding cached) and its fps, the first frame's latency from session
/// creation on, the time of one style embedding and peak RSS (each size in a fresh process),
/// then process start to first 384x384 image written by `brushwork stylize`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Sizes to measure, WIDTHxHEIGHT, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "256x256,384x384,512x512,1280x720,1920x1080"
    )]
    pub sizes: Vec<String>,

    /// Timed runs per size (after the first frame, which is reported apart); the median is
    /// reported.
    #[arg(long, default_value_t = 7, value_parser = crate::cli::whole_number::<u32>(1, Some(1000)))]
    pub runs: u32,

    /// Runs of the whole `stylize` command for the start-to-first-image figure (0 skips it).
    #[arg(long, default_value_t = 5, value_parser = crate::cli::whole_number::<u32>(0, Some(1000)))]
    pub cold_runs: u32,

    /// Also measure ONNX Runtime's CPU provider in fp32 (brushwork's CPU path before OpenVINO)
    /// at each size, right before the configured engine, and give the speed-up over it.
    #[arg(long)]
    pub baseline: bool,

    /// Print JSON lines instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Measure one size in this process (used by bench itself).
    #[arg(long, hide = true, value_name = "WxH")]
    pub one: Option<String>,

    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Serialize, Deserialize)]
struct SizeResult {
    width: u32,
    height: u32,
    device: String,
    /// The engine and its version, e.g. `OpenVINO 2026.4.1-...`.
    engine: String,
    precision: String,
    /// One frame: padding and conversion in, the transformer, conversion and crop out.
    frame_ms_median: f64,
    frame_ms_min: f64,
    /// From the start of session creation to the first frame out (includes model load,
    /// provider start-up, a TensorRT engine build, one style embedding).
    first_frame_ms: f64,
    embed_ms_median: f64,
    load_ms: f64,
    peak_rss_mb: f64,
    /// With `--baseline`: ONNX Runtime's CPU provider in fp32 at this size, and the speed-up.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    baseline_frame_ms_median: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    speedup: Option<f64>,
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(size) = &args.one {
        let (w, h) = parse_size(size, "size", "1280x720", 16384)?;
        let result = measure_one(&args, w, h)?;
        out!("{}", serde_json::to_string(&result)?);
        return Ok(ExitCode::SUCCESS);
    }
    let sizes: Vec<(u32, u32)> = args
        .sizes
        .iter()
        .map(|s| parse_size(s, "size", "1280x720", 16384))
        .collect::<Result<_, _>>()?;
    let exe = std::env::current_exe()?;
    if !args.json {
        out!("| size | device | engine | precision | frame, median ms | fps | min ms | first frame ms | model load ms | style embedding ms | peak RSS MB |{}", if args.baseline { " ONNX Runtime fp32 ms | speed-up |" } else { "" });
        out!(
            "|---|---|---|---|---|---|---|---|---|---|---|{}",
            if args.baseline { "---|---|" } else { "" }
        );
    }
    let mut baseline_engine = args.engine.clone();
    baseline_engine.device = brushwork::Device::Cpu;
    baseline_engine.precision = Some(brushwork::Precision::Fp32);
    for (w, h) in sizes {
        let baseline = if args.baseline {
            Some(measure_in_child(&exe, &args, &baseline_engine, w, h)?)
        } else {
            None
        };
        let mut r = measure_in_child(&exe, &args, &args.engine, w, h)?;
        if let Some(b) = &baseline {
            r.baseline_frame_ms_median = Some(b.frame_ms_median);
            r.speedup = Some(b.frame_ms_median / r.frame_ms_median);
        }
        if args.json {
            out!("{}", serde_json::to_string(&r)?);
        } else {
            let versus = match (r.baseline_frame_ms_median, r.speedup) {
                (Some(b), Some(x)) => format!(" {b:.1} | {x:.2}x |"),
                _ => String::new(),
            };
            out!(
                "| {}x{} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} | {:.1} | {:.0} |{versus}",
                r.width,
                r.height,
                r.device,
                r.engine,
                r.precision,
                r.frame_ms_median,
                1e3 / r.frame_ms_median,
                r.frame_ms_min,
                r.first_frame_ms,
                r.load_ms,
                r.embed_ms_median,
                r.peak_rss_mb
            );
        }
    }
    if args.cold_runs > 0 {
        let ms = start_to_first_image(&exe, &args)?;
        if args.json {
            out!("{{\"start_to_first_384_image_ms_median\":{ms:.1}}}");
        } else {
            out!(
                "\nprocess start to first 384x384 image written (median of {}): {ms:.0} ms",
                args.cold_runs
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One size measured in a fresh `brushwork bench --one` process (so peak RSS is its own).
fn measure_in_child(
    exe: &Path,
    args: &BenchArgs,
    engine: &EngineArgs,
    w: u32,
    h: u32,
) -> anyhow::Result<SizeResult> {
    let mut cmd = Command::new(exe);
    cmd.args(["bench", "--one", &format!("{w}x{h}")])
        .args(["--runs", &args.runs.to_string()]);
    cmd.args(engine.to_args());
    let out = cmd.output().context("cannot run the benchmark child")?;
    if !out.status.success() {
        bail!(
            "benchmark at {w}x{h} on {} failed: {}",
            engine.device,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(serde_json::from_str(
        String::from_utf8_lossy(&out.stdout).trim(),
    )?)
}

fn measure_one(args: &BenchArgs, w: u32, h: u32) -> anyhow::Result<SizeResult> {
    let painting = pattern(256, 256, 1);
    let content = pattern(w, h, 2);
    let mut out = RgbImage::new(w, h);
    let start = Instant::now();
    let mut stylizer = Stylizer::new(args.engine.options()?)?;
    stylizer.load_predictor()?;
    let load_ms = ms(start);
    let mut style = stylizer.embed(&painting)?;
    stylizer.stylize_into(&content, &style, &mut out)?;
    let first_frame_ms = ms(start);

    let mut embed = Vec::new();
    for _ in 0..args.runs.min(5) {
        let t = Instant::now();
        style = stylizer.embed(&painting)?;
        embed.push(ms(t));
    }
    let mut times = Vec::new();
    for _ in 0..args.runs {
        let t = Instant::now();
        stylizer.stylize_into(&content, &style, &mut out)?;
        times.push(ms(t));
    }
    Ok(SizeResult {
        width: w,
        height: h,
        device: stylizer.device().to_string(),
        engine: stylizer.engine(),
        precision: stylizer.precision().to_string(),
        frame_ms_median: median(&mut times),
        frame_ms_min: times.iter().copied().fold(f64::INFINITY, f64::min),
        first_frame_ms,
        embed_ms_median: median(&mut embed),
        load_ms,
        peak_rss_mb: proc_status_mb("VmHWM").unwrap_or(f64::NAN),
        baseline_frame_ms_median: None,
        speedup: None,
    })
}

/// Runs the real `stylize` command on a 384x384 photo and 256x256 style, from process start to
/// the output written, and returns the median wall time.
fn start_to_first_image(exe: &Path, args: &BenchArgs) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let content = dir.path().join("content.png");
    let style = dir.path().join("style.png");
    pattern(384, 384, 2).save(&content)?;
    pattern(256, 256, 1).save(&style)?;
    let mut times = Vec::new();
    for _ in 0..args.cold_runs {
        let output = dir.path().join("out.png");
        let mut cmd = Command::new(exe);
        cmd.arg("stylize")
            .arg(&content)
            .arg("--style")
            .arg(&style)
            .arg("-o")
            .arg(&output);
        cmd.args(args.engine.to_args());
        let t = Instant::now();
        let status = cmd.status()?;
        times.push(ms(t));
        if !status.success() || !output.is_file() {
            bail!("brushwork stylize failed during the start-up benchmark");
        }
    }
    Ok(median(&mut times))
}

/// A deterministic, textured test picture (the networks' speed does not depend on content).
fn pattern(w: u32, h: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let v = x
            .wrapping_mul(2654435761)
            .wrapping_add(y.wrapping_mul(40503))
            ^ seed;
        image::Rgb([
            (x * 255 / w.max(1)) as u8,
            (y * 255 / h.max(1)) as u8,
            (v >> 13) as u8,
        ])
    })
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}
