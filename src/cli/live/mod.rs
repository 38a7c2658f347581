//! `brushwork live`: a camera, video or pattern, stylized in real time in a window (or headless).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use brushwork::atomic::OutputDir;
use brushwork::images;
use brushwork::metrics;
use brushwork::pipeline::StabilizeMode;
use brushwork::pipeline::{
    self, one_hot, ControlState, Controls, Mode, OwnEmbedding, RunOptions, Stats,
};
use brushwork::sources;
use brushwork::Stylizer;
use clap::Args;
use serde::Serialize;

mod display;

use display::Display;

use super::style_args::StyleArgs;
use super::{parse_size, EngineArgs, UsageError};

/// --target-fps: 1 to 240.
fn parse_target_fps(s: &str) -> Result<f32, String> {
    super::style_args::parse_in_range(s, 1.0, 240.0)
}

/// --stabilize: 0 to 0.95.
pub fn parse_stabilize(s: &str) -> Result<f32, String> {
    super::style_args::parse_in_range(s, 0.0, 0.95)
}

/// Stylize a webcam, a video or a test pattern live, in a window.
///
/// Keys: 1-9 pick a style; 0 returns to the --weights blend; Left/Right morph to the
/// previous/next style; Up/Down change the strength; C toggles keeping the camera's colours;
/// Space toggles side by side with the original; S saves a snapshot PNG; Q or Esc quits. The
/// status line shows fps, inference ms, end-to-end latency, the style and the strength.
///
/// Capture, inference and display run on their own threads with latest-frame-wins hand-offs:
/// when inference is slower than the source, stale frames are dropped, never queued.
#[derive(Debug, Args)]
pub struct LiveArgs {
    /// The styles to switch between (keys 1-9), given as every command takes them: --style
    /// (or --preset) repeated; --weights sets the blend shown first (key 0 returns to it),
    /// --strength the starting strength, --preserve-color keeps the camera's colours (key C).
    #[command(flatten)]
    pub style: StyleArgs,

    /// camera, camera:N, a picture (a still: painted again when a key changes the look), a
    /// video file, a directory of images, or pattern, pattern:still, pattern:pan,
    /// pattern:object (synthetic test patterns, for machines without a camera).
    #[arg(long, default_value = "camera", value_name = "SOURCE")]
    pub source: String,

    /// Stylize at WIDTHxHEIGHT (the source is scaled; the window scales the result).
    #[arg(long, value_name = "WxH")]
    pub size: Option<String>,

    /// Temporal smoothing of the output against flicker, 0 (off) to 0.95: each shown frame is
    /// blended with the previous one by this much.
    #[arg(long, default_value_t = 0.0, value_name = "ALPHA", value_parser = parse_stabilize)]
    pub stabilize: f32,

    /// How --stabilize blends: motion (blend only where the input stayed the same, after
    /// following the frame's global motion: no ghosts behind what moves) or blend (everywhere).
    #[arg(long, default_value = "motion", value_name = "MODE")]
    pub stabilizer: StabilizeMode,

    /// Keep N frames a second by running the network smaller when it is too slow: at 0.75 or
    /// 0.5 of each side of --size (with hysteresis), scaled back up for the window. The status
    /// line and --json say the size in use.
    #[arg(long, value_name = "N", value_parser = parse_target_fps)]
    pub target_fps: Option<f32>,

    /// Frames a morph between two styles takes.
    #[arg(long, default_value_t = 30, value_parser = crate::cli::whole_number::<u32>(1, Some(10000)))]
    pub morph_frames: u32,

    /// Run without a window (for servers, tests, benchmarks).
    #[arg(long)]
    pub headless: bool,

    /// Stop after N frames from the source.
    #[arg(long, value_name = "N", value_parser = crate::cli::whole_number::<u64>(1, None))]
    pub frames: Option<u64>,

    /// Where the S key saves snapshots (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub snapshots: Option<PathBuf>,

    /// Save every shown frame as DIR/frame-NNNNNN.png.
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,

    /// Stylize every frame: the source waits for inference instead of frames being dropped.
    #[arg(long)]
    pub every_frame: bool,

    /// Loop a video file or image directory.
    #[arg(long = "loop")]
    pub repeat: bool,

    /// Read the source as fast as it comes instead of at its frame rate (patterns, images).
    #[arg(long)]
    pub unpaced: bool,

    /// Print the closing summary as JSON; with --every-frame it also measures flicker (and,
    /// with --stabilize, ghosting), which costs time on each frame.
    #[arg(long)]
    pub json: bool,

    /// Replace the transformation network with a copy of each frame, to measure the pipeline
    /// alone: capture, the look (strength, colours), stabilizing and display. The summary's
    /// cpu_ms_per_frame is then what the pipeline costs beside the network.
    #[arg(long)]
    pub stand_in_network: bool,

    #[command(flatten)]
    pub engine: EngineArgs,
}

/// The closing summary.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub source: String,
    pub width: u32,
    pub height: u32,
    pub captured: u64,
    pub stylized: u64,
    pub shown: u64,
    pub dropped_before_inference: u64,
    pub dropped_before_display: u64,
    pub fps: f64,
    pub infer_ms_median: f64,
    pub latency_ms_median: f64,
    pub latency_ms_p95: f64,
    pub latency_ms_max: f64,
    pub infer_ms_max: f64,
    pub rss_mb_after_30: f64,
    pub rss_mb_end: f64,
    /// Mean |(S_t − S_t−1) − (I_t − I_t−1)| over consecutive shown frames, 8-bit units.
    pub flicker: Option<f64>,
    /// The same after the frame's global motion (pans no longer count as flicker).
    pub flicker_compensated: Option<f64>,
    /// Mean |stabilized − fresh| over pixels whose input moved (see `metrics::Ghosting`),
    /// 8-bit units; with --every-frame and --stabilize.
    pub ghosting: Option<f64>,
    /// The size the network ran at for the last frame (below --size under --target-fps).
    pub size_in_use: [u32; 2],
    /// Frames stylized at each scale of the sides: 1, 0.75, 0.5.
    pub frames_at_scale: [u64; 3],
    /// CPU time of the whole process (every thread) per stylized frame, from the first frame
    /// on.
    pub cpu_ms_per_frame: f64,
}

pub fn run(args: LiveArgs) -> anyhow::Result<ExitCode> {
    args.style.validate()?;
    let size = args
        .size
        .as_deref()
        .map(|s| parse_size(s, "--size", "640x480", 8192))
        .transpose()?;
    if let Some(dir) = &args.snapshots {
        if !dir.is_dir() {
            return Err(
                UsageError(format!("--snapshots {}: not a directory", dir.display())).into(),
            );
        }
    }
    let source = sources::open(&args.source, size, args.repeat)?;
    if let Some(dir) = &args.record {
        // Frames are written as frame-NNNNNN.png: never into the directory being played, nor
        // into the one holding the picture or video played.
        super::refuse_overwriting_inputs([dir.as_path()], [Path::new(&args.source)])?;
        super::refuse_dir_holding_inputs("--record", dir, [Path::new(&args.source)])?;
    }
    let mut record_dir = match &args.record {
        Some(dir) => Some(
            OutputDir::create(dir).map_err(|e| images::ImageError::Write {
                path: dir.clone(),
                reason: e.to_string(),
            })?,
        ),
        None => None,
    };
    let description = source.describe();
    let still = source.is_still();
    let (w, h) = source.size();

    let mut stylizer =
        Stylizer::new(args.engine.options()?).context("cannot start the stylizer")?;
    if args.stand_in_network {
        stylizer.use_stand_in_network();
    }
    let styles = args.style.resolve(&mut stylizer)?;
    if args.engine.verbose {
        say!(
            "brushwork: live from {description}; {} styles",
            styles.palette.len()
        );
    }

    let mut state = if styles.weighted {
        ControlState::new(&styles.weights)
    } else {
        ControlState::new(&one_hot(0))
    };
    state.strength = styles.strength;
    state.stabilize = args.stabilize;
    state.stabilizer = args.stabilizer;
    state.morph_frames = args.morph_frames;
    state.preserve_color = styles.preserve_color;
    let start = state;
    let controls = Controls::new(state);
    let stats = Stats::default();
    let options = RunOptions {
        mode: if args.every_frame {
            Mode::EveryFrame
        } else {
            Mode::Realtime
        },
        // Headless, nothing can change a still picture: it is painted once.
        max_frames: if args.headless && still {
            Some(1)
        } else {
            args.frames
        },
        pace: !args.unpaced,
        own: OwnEmbedding::Refreshed,
        target_fps: args.target_fps,
    };

    let mut display = Display::new(
        &args,
        w,
        h,
        &styles.labels,
        start,
        format!("{} {}", stylizer.device(), stylizer.precision()),
    )?;
    let started = Instant::now();
    let cpu_start = metrics::process_cpu_time();
    pipeline::run(
        source,
        &mut stylizer,
        &styles.palette,
        &controls,
        &stats,
        &options,
        &mut |frame| display.show(frame, &controls, &stats),
    )?;
    if display.recorded > 0 {
        record_dir.iter_mut().for_each(OutputDir::keep);
    }
    if let Some(e) = display.record_error.take() {
        return Err(e.into());
    }
    let cpu = metrics::process_cpu_time().saturating_sub(cpu_start);
    let mut summary = display.summary(&stats, started.elapsed(), description, w, h);
    summary.cpu_ms_per_frame = cpu.as_secs_f64() * 1e3 / summary.stylized.max(1) as f64;
    if args.json {
        out!("{}", serde_json::to_string(&summary)?);
    } else {
        say!(
            "brushwork: {} captured, {} stylized, {} shown, {} dropped; {:.1} fps; inference {:.0} ms; latency median {:.0} ms, p95 {:.0} ms",
            summary.captured,
            summary.stylized,
            summary.shown,
            summary.dropped_before_inference + summary.dropped_before_display,
            summary.fps,
            summary.infer_ms_median,
            summary.latency_ms_median,
            summary.latency_ms_p95
        );
    }
    Ok(ExitCode::SUCCESS)
}
