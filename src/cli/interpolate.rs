//! `brushwork interpolate`: the morph from one style to another, or a strength sweep.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::sheet::contact_sheet;
use brushwork::atomic::OutputDir;
use brushwork::images::{self, fit_within, ImageError, JPEG_QUALITY};
use brushwork::look::{Look, Paint};
use brushwork::presets::PresetMix;
use brushwork::style_source::StyleSource;
use brushwork::Stylizer;
use clap::Args;
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, RgbImage};

use super::style_args::StyleArgs;
use super::{EngineArgs, UsageError};

/// Render a photo morphing from one look to another (or, with --strength-sweep, from the photo
/// itself to the look) in N steps: a labelled contact strip (.png) or an animated GIF (.gif).
///
/// The start is given like any style (--style, also spelled --from, or --preset, with
/// --weights, --strength and --preserve-color); --to names the end: a style, or a preset spec
/// when the start is a preset. The end frames are exactly what `brushwork stylize` gives for
/// each end (same embedding, same pixels).
#[derive(Debug, Args)]
pub struct InterpolateArgs {
    /// The photo to stylize.
    #[arg(value_name = "CONTENT")]
    pub content: PathBuf,

    #[command(flatten)]
    pub style: StyleArgs,

    /// The last look: a painting, a .style.json file or a built-in name; with --preset, a
    /// preset spec such as 12 or 3:0.5,12:0.5 (not with --strength-sweep).
    #[arg(
        long,
        value_name = "STYLE",
        required_unless_present = "strength_sweep",
        conflicts_with = "strength_sweep"
    )]
    pub to: Option<String>,

    /// Sweep the strength of the start from 0 (the photo's own style) to 1 instead.
    #[arg(long)]
    pub strength_sweep: bool,

    /// Number of frames, ends included (2 to 100).
    #[arg(long, default_value_t = 5, value_parser = crate::cli::whole_number::<u32>(2, Some(100)))]
    pub steps: u32,

    /// OUT.png for a labelled contact strip, OUT.gif for an animation.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,

    /// Also write every frame as DIR/frame-NNN.png.
    #[arg(long, value_name = "DIR")]
    pub frames: Option<PathBuf>,

    /// Downscale the photo so its longer side is at most N pixels.
    #[arg(long, default_value_t = 512, value_name = "N", value_parser = crate::cli::whole_number::<u32>(16, None))]
    pub max_size: u32,

    /// Milliseconds per GIF frame.
    #[arg(long, default_value_t = 200, value_parser = crate::cli::whole_number::<u32>(10, Some(60000)))]
    pub delay_ms: u32,

    #[command(flatten)]
    pub engine: EngineArgs,
}

enum Kind {
    Strip,
    Gif,
}

pub fn run(args: InterpolateArgs) -> anyhow::Result<ExitCode> {
    let kind = match images::lowercase_extension(&args.output).as_deref() {
        Some("png") => Kind::Strip,
        Some("gif") => Kind::Gif,
        _ => {
            return Err(UsageError(format!(
                "{}: use a .png name for a contact strip or .gif for an animation",
                args.output.display()
            ))
            .into())
        }
    };
    images::check_writable_target(&args.output)?;
    let frame_paths: Vec<PathBuf> = match &args.frames {
        Some(dir) => (0..args.steps)
            .map(|i| frame_path(dir, i as usize))
            .collect(),
        None => Vec::new(),
    };
    let inputs: Vec<PathBuf> = std::iter::once(args.content.clone())
        .chain(args.style.styles.iter().map(PathBuf::from))
        .chain(args.to.iter().map(PathBuf::from))
        .collect();
    super::refuse_overwriting_inputs(
        std::iter::once(args.output.as_path()).chain(frame_paths.iter().map(PathBuf::as_path)),
        inputs.iter().map(PathBuf::as_path),
    )?;
    args.style.validate()?;
    let presets = !args.style.presets.is_empty();
    let to_preset = match (&args.to, presets) {
        (Some(spec), true) => Some(PresetMix::parse(spec)?),
        _ => None,
    };
    let to_style = match (&args.to, presets) {
        (Some(spec), false) => Some(StyleSource::parse(spec)?),
        _ => None,
    };
    let photo = fit_within(images::load_rgb(&args.content)?, args.max_size);

    // One picture size, painted `steps` times: `auto` weighs OpenVINO's compile against it.
    let mut options = args.engine.options()?;
    options.workload = Some(brushwork::Workload::of(std::iter::repeat_n(
        photo.dimensions(),
        args.steps as usize,
    )));
    let mut stylizer = Stylizer::new(options)?;
    let styles = args.style.resolve(&mut stylizer)?;
    let start = styles.look()?;
    let end = match (&to_style, &to_preset) {
        (Some(s), _) => {
            let (embedding, label) = s.resolve_labelled(&mut stylizer)?;
            Some((Paint::Style(embedding), label))
        }
        (_, Some(m)) => Some((
            Paint::Presets(*m),
            format!("preset {}", args.to.as_deref().unwrap_or("")),
        )),
        _ => None,
    };
    // One own embedding for every frame, so only the style changes along the strip.
    let own = if start.needs_own_embedding() || args.strength_sweep {
        Some(stylizer.embed(&photo)?)
    } else {
        None
    };

    let n = args.steps as usize;
    let mut tiles = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f32 / (n - 1) as f32; // 0 at the first frame, 1 at the last
        let (look, label) = match &end {
            None => (
                Look {
                    strength: t,
                    ..start
                },
                format!("strength {t:.2}"),
            ),
            Some((paint, to_label)) => {
                let pa = ((1.0 - t) * 100.0).round();
                (
                    Look {
                        paint: paint.mix(&start.paint, t),
                        ..start
                    },
                    format!("{pa}% {}\n{}% {to_label}", styles.label(), 100.0 - pa),
                )
            }
        };
        let mut frame = RgbImage::new(1, 1);
        stylizer.paint_into(&photo, &look, own.as_ref(), &mut frame)?;
        tiles.push((label, frame));
    }

    if let Some(dir) = &args.frames {
        write_frames(dir, &tiles)?;
    }
    match kind {
        Kind::Strip => images::save_atomic(&contact_sheet(&tiles, 5), &args.output, JPEG_QUALITY)?,
        Kind::Gif => write_gif(&args.output, &tiles, args.delay_ms)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn frame_path(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("frame-{i:03}.png"))
}

fn write_frames(dir: &Path, tiles: &[(String, RgbImage)]) -> anyhow::Result<()> {
    let mut made = OutputDir::create(dir).map_err(|e| ImageError::Write {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    for (i, (_, frame)) in tiles.iter().enumerate() {
        images::save_atomic(frame, &frame_path(dir, i), JPEG_QUALITY)?;
        made.keep();
    }
    Ok(())
}

fn write_gif(path: &Path, tiles: &[(String, RgbImage)], delay_ms: u32) -> anyhow::Result<()> {
    let write_err = |reason: String| ImageError::Write {
        path: path.to_path_buf(),
        reason,
    };
    let mut bytes = Vec::new();
    {
        let mut enc = GifEncoder::new_with_speed(&mut bytes, 10);
        enc.set_repeat(Repeat::Infinite)
            .map_err(|e| write_err(e.to_string()))?;
        let delay = Delay::from_numer_denom_ms(delay_ms, 1);
        let frames = tiles.iter().map(|(_, f)| {
            let rgba = image::DynamicImage::ImageRgb8(f.clone()).into_rgba8();
            Frame::from_parts(rgba, 0, 0, delay)
        });
        enc.encode_frames(frames)
            .map_err(|e| write_err(e.to_string()))?;
    }
    brushwork::atomic::write(path, &bytes).map_err(write_err)?;
    Ok(())
}
