//! `brushwork video`: stylize a whole video file, keeping its sound.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::Context;
use brushwork::images::{fit_dims, ImageError};
use brushwork::pipeline::{
    self, ControlState, Controls, Flow, Mode, OwnEmbedding, RunOptions, Stats,
};
use brushwork::video::{probe, Encoder, EncoderSettings, Looping, Pacing, VideoFile};
use brushwork::Stylizer;
use clap::Args;

use super::style_args::StyleArgs;
use super::{EngineArgs, UsageError};

/// Stylize every frame of a video and keep its audio track. The result is H.264 (with AAC
/// audio) in an .mp4, .mkv or .mov; it appears at OUT only when complete, so a failure or
/// Ctrl-C never leaves a half-written file. Needs the ffmpeg and ffprobe commands.
#[derive(Debug, Args)]
pub struct VideoArgs {
    /// The video to stylize.
    #[arg(value_name = "IN")]
    pub input: PathBuf,

    /// The stylized video (.mp4, .mkv or .mov).
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,

    #[command(flatten)]
    pub style: StyleArgs,

    /// Downscale so the longer side is at most N pixels (default: the video's own size).
    #[arg(long, value_name = "N", value_parser = crate::cli::whole_number::<u32>(16, None))]
    pub max_size: Option<u32>,

    /// Temporal smoothing against flicker, 0 (off) to 0.95.
    #[arg(long, default_value_t = 0.0, value_name = "ALPHA", value_parser = super::live::parse_stabilize)]
    pub stabilize: f32,

    /// How --stabilize blends: motion (only where the input stayed the same, following the
    /// frame's global motion: no ghosts) or blend (everywhere).
    #[arg(long, default_value = "motion", value_name = "MODE")]
    pub stabilizer: brushwork::pipeline::StabilizeMode,

    /// H.264 quality: lower is better and larger (0-51).
    #[arg(long, default_value_t = 20, value_parser = crate::cli::whole_number::<u8>(0, Some(51)))]
    pub crf: u8,

    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn run(args: VideoArgs) -> anyhow::Result<ExitCode> {
    let ext = brushwork::images::lowercase_extension(&args.output);
    if !matches!(ext.as_deref(), Some("mp4" | "mkv" | "mov")) {
        return Err(UsageError(format!(
            "{}: use an .mp4, .mkv or .mov name",
            args.output.display()
        ))
        .into());
    }
    if !args.input.is_file() {
        return Err(ImageError::NotFound(args.input.clone()).into());
    }
    let styles: Vec<PathBuf> = args.style.styles.iter().map(PathBuf::from).collect();
    super::refuse_overwriting_inputs(
        [args.output.as_path()],
        std::iter::once(args.input.as_path()).chain(styles.iter().map(PathBuf::as_path)),
    )?;
    brushwork::images::check_writable_target(&args.output)?;
    args.style.validate()?;
    let info = probe(&args.input)?;
    if info.still {
        return Err(UsageError(format!(
            "{}: a still picture, not a video; `brushwork stylize` paints pictures",
            args.input.display()
        ))
        .into());
    }
    if info.frames == Some(0) {
        return Err(
            UsageError(format!("{}: the video has no frames", args.input.display())).into(),
        );
    }
    let size = fit(info.width, info.height, args.max_size);

    let mut stylizer =
        Stylizer::new(args.engine.options()?).context("cannot start the stylizer")?;
    let styles = args.style.resolve(&mut stylizer)?;
    let look = styles.look()?;

    let mut encoder = Encoder::start(
        &args.output,
        &EncoderSettings {
            width: size.0,
            height: size.1,
            fps: info.fps,
            crf: args.crf,
            audio_from: info.has_audio.then(|| args.input.clone()),
        },
    )?;
    let source =
        VideoFile::open_probed(&args.input, info, Some(size), Pacing::AsFast, Looping::Once)?;
    let mut state = ControlState::new(&styles.weights);
    state.strength = look.strength;
    state.stabilize = args.stabilize;
    state.stabilizer = args.stabilizer;
    state.morph_frames = 1;
    state.preserve_color = look.preserve_color;
    let controls = Controls::new(state);
    // One own embedding for the whole video (from its first frame) keeps the strength steady
    // from frame to frame.
    let own = if look.needs_own_embedding() {
        let mut first =
            VideoFile::open_probed(&args.input, info, Some(size), Pacing::AsFast, Looping::Once)?;
        OwnEmbedding::Fixed(first_frame_embedding(&mut stylizer, &mut first)?)
    } else {
        OwnEmbedding::Refreshed
    };
    let stats = Stats::default();
    let started = Instant::now();
    let mut progress = Progress::new(info.frames);
    let mut write_error = None;
    pipeline::run(
        Box::new(source),
        &mut stylizer,
        &styles.palette,
        &controls,
        &stats,
        &RunOptions {
            mode: Mode::EveryFrame,
            max_frames: None,
            pace: false,
            own,
            target_fps: None,
        },
        &mut |frame| {
            let Some(frame) = frame else {
                return Flow::Continue;
            };
            if let Err(e) = encoder.write(&frame.output) {
                write_error = Some(e);
                return Flow::Stop;
            }
            progress.tick(stats.shown.load(Ordering::Relaxed), started);
            Flow::Continue
        },
    )?;
    progress.finish();
    if stats.shown.load(Ordering::Relaxed) == 0 && write_error.is_none() {
        return Err(UsageError(format!(
            "{}: no frame could be decoded from the video",
            args.input.display()
        ))
        .into());
    }
    if let Some(e) = write_error {
        return Err(encoder.abandon(e).into());
    }
    encoder.finish()?;
    let n = stats.shown.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    say!(
        "brushwork: {n} frame{} -> {} in {secs:.1} s ({:.1} fps)",
        if n == 1 { "" } else { "s" },
        args.output.display(),
        n as f64 / secs
    );
    Ok(ExitCode::SUCCESS)
}

/// The own style embedding of a video's first frame.
fn first_frame_embedding(
    stylizer: &mut Stylizer,
    first: &mut VideoFile,
) -> anyhow::Result<brushwork::StyleEmbedding> {
    use brushwork::sources::FrameSource;
    let (w, h) = first.size();
    let mut img = image::RgbImage::new(w, h);
    first.next_frame(&mut img)?;
    Ok(stylizer.embed(&img)?)
}

/// The size to stylize at: the video's own, or scaled down to `max` on the longer side.
fn fit(w: u32, h: u32, max: Option<u32>) -> (u32, u32) {
    let (w, h) = max.map_or((w, h), |m| fit_dims(w, h, m));
    (w.max(16), h.max(16))
}

/// A progress bar with fps and ETA on a terminal; silent otherwise.
struct Progress {
    total: Option<u64>,
    tty: bool,
    last: Option<Instant>,
}

impl Progress {
    fn new(total: Option<u64>) -> Self {
        Progress {
            total,
            tty: std::io::stderr().is_terminal(),
            last: None,
        }
    }

    fn tick(&mut self, done: u64, started: Instant) {
        if !self.tty || self.last.is_some_and(|t| t.elapsed().as_millis() < 200) {
            return;
        }
        self.last = Some(Instant::now());
        let fps = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
        let line = match self.total {
            Some(total) if total > 0 => {
                let frac = (done as f64 / total as f64).min(1.0);
                let bar: String = (0..30)
                    .map(|i| if (i as f64) < frac * 30.0 { '#' } else { ' ' })
                    .collect();
                let eta = (total.saturating_sub(done)) as f64 / fps.max(1e-9);
                format!(
                    "[{bar}] {done}/{total} frames  {fps:.1} fps  ETA {}:{:02}",
                    eta as u64 / 60,
                    eta as u64 % 60
                )
            }
            _ => format!("{done} frames  {fps:.1} fps"),
        };
        let _ = write!(std::io::stderr().lock(), "\r{line}\x1b[K");
    }

    fn finish(&self) {
        if self.tty && self.last.is_some() {
            say!();
        }
    }
}
