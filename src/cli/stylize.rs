//! `brushwork stylize`: repaint photos in the style of a painting.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use brushwork::atomic::OutputDir;
use brushwork::images::{self, fit_dims, fit_within, ImageError};
use brushwork::look::Look;
use brushwork::{Stylizer, Workload};
use clap::Args;
use image::RgbImage;

use super::style_args::StyleArgs;
use super::{EngineArgs, UsageError, EXIT_USAGE};

/// Repaint photos in the style of a painting, at full resolution.
///
/// A style image is center-cropped to a square and resized to 256x256 before the style network
/// sees it; each style's embedding is computed once for all photos. Several --style options
/// blend (see --weights). Each photo is stylized at its own size (EXIF orientation applied,
/// transparency flattened onto white) unless --max-size says otherwise.
#[derive(Debug, Args)]
pub struct StylizeArgs {
    /// Photos to stylize (PNG, JPEG, WebP, BMP, TIFF, GIF, ...).
    #[arg(required = true, value_name = "CONTENT")]
    pub content: Vec<PathBuf>,

    #[command(flatten)]
    pub style: StyleArgs,

    /// Output file (format from its extension: .png, .jpg, .webp, .bmp, .tiff), or a directory:
    /// always a directory when several photos are given.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,

    /// Downscale each photo so its longer side is at most N pixels (default: full resolution).
    #[arg(long, value_name = "N", value_parser = crate::cli::whole_number::<u32>(16, None))]
    pub max_size: Option<u32>,

    /// File extension of the outputs written into a directory.
    #[arg(long, default_value = "png", value_name = "EXT")]
    pub format: String,

    /// JPEG quality, 1-100 (default 92); other formats are lossless.
    #[arg(long, value_parser = crate::cli::whole_number::<u8>(1, Some(100)))]
    pub quality: Option<u8>,

    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn run(args: StylizeArgs) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let (jobs, mut out_dir) = plan_outputs(&args)?;
    let verbose = args.engine.verbose;
    let jpeg = |path: &Path| images::output_format(path).ok() == Some(image::ImageFormat::Jpeg);
    if args.quality.is_some() && !jobs.iter().any(|(_, output)| jpeg(output)) {
        log::warn!("--quality applies to JPEG outputs only; these are written losslessly");
    }

    args.style.validate()?;
    // The pictures' sizes, from their headers: `auto` weighs OpenVINO's per-size compile
    // against them, and the first picture's compile starts while it is decoded.
    let sizes: Vec<Option<(u32, u32)>> = jobs
        .iter()
        .map(|(input, _)| {
            images::dimensions(input).map(|(w, h)| match args.max_size {
                Some(max) => fit_dims(w, h, max),
                None => (w, h),
            })
        })
        .collect();
    let mut options = args.engine.options()?;
    // Pictures whose header could not be read are left out (loading them reports why).
    options.workload = Some(Workload::of(sizes.iter().flatten().copied()));
    let mut stylizer = Stylizer::new(options).context("cannot start the stylizer")?;
    // Presets run on their own network: nothing to prepare for them.
    if let (Some(Some((w, h))), true) = (sizes.first(), args.style.presets.is_empty()) {
        stylizer.prepare(*w, *h);
    }
    if verbose {
        let rt = brushwork::engine::onnxruntime::info()?;
        say!(
            "brushwork: ONNX Runtime {} from {}; transformer on {} in {} ({}), style prediction on cpu; ready in {:.0} ms",
            rt.version,
            rt.path.display(),
            stylizer.device(),
            stylizer.precision(),
            stylizer.engine(),
            start.elapsed().as_secs_f64() * 1e3
        );
    }
    let t = Instant::now();
    let styles = args.style.resolve(&mut stylizer)?;
    let look = styles.look()?;
    if verbose {
        say!(
            "brushwork: style {} ready in {:.1} ms",
            styles.label(),
            t.elapsed().as_secs_f64() * 1e3
        );
    }

    let mut failed = 0usize;
    let mut out = RgbImage::new(1, 1);
    for (input, output) in &jobs {
        match stylize_one(&mut stylizer, &look, input, output, &args, &mut out) {
            Ok(()) => out_dir.iter_mut().for_each(OutputDir::keep),
            Err(err) => {
                failed += 1;
                super::report(&err);
            }
        }
    }
    if failed > 0 {
        if jobs.len() > 1 {
            say!("brushwork: {failed} of {} photos failed", jobs.len());
        }
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    if verbose {
        say!(
            "brushwork: done in {:.0} ms",
            start.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn stylize_one(
    stylizer: &mut Stylizer,
    look: &Look,
    input: &Path,
    output: &Path,
    args: &StylizeArgs,
    out: &mut RgbImage,
) -> anyhow::Result<()> {
    let t = Instant::now();
    let mut photo = images::load_rgb(input)?;
    if let Some(max) = args.max_size {
        photo = fit_within(photo, max);
    }
    let decoded = t.elapsed();
    stylizer
        .paint_into(&photo, look, None, out)
        .with_context(|| input.display().to_string())?;
    let painted = t.elapsed();
    images::save_atomic(out, output, args.quality.unwrap_or(images::JPEG_QUALITY))?;
    if args.engine.verbose {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        say!(
            "brushwork: {} ({}x{}) -> {} in {:.0} ms (decode {:.0}, stylize {:.0}, encode {:.0})",
            input.display(),
            photo.width(),
            photo.height(),
            output.display(),
            ms(t.elapsed()),
            ms(decoded),
            ms(painted - decoded),
            ms(t.elapsed() - painted)
        );
    }
    Ok(())
}

/// Pairs each input with its output path, and refuses plans that would lose data: an output that
/// is an input (or the style), two inputs writing the same output, an unknown format.
/// Each photo and the file it becomes.
type Jobs = Vec<(PathBuf, PathBuf)>;

/// The directory, when it writes into one, is made last and removed again if nothing lands in
/// it.
fn plan_outputs(args: &StylizeArgs) -> anyhow::Result<(Jobs, Option<OutputDir>)> {
    let out = &args.output;
    // Before the output's checks, which would otherwise speak of the output.
    if let Some(dir) = args.content.iter().find(|input| input.is_dir()) {
        return Err(UsageError(format!(
            "{}: is a directory; give the photos in it (e.g. {})",
            dir.display(),
            dir.join("*.jpg").display()
        ))
        .into());
    }
    let as_dir = args.content.len() > 1
        || out.is_dir()
        || out
            .as_os_str()
            .to_string_lossy()
            .ends_with(std::path::MAIN_SEPARATOR);
    let jobs: Vec<(PathBuf, PathBuf)> = if as_dir {
        let probe = Path::new("x").with_extension(&args.format);
        images::output_format(&probe).map_err(|_| {
            UsageError(format!(
                "--format {}: unknown output format; use png, jpg, webp, bmp or tiff",
                args.format
            ))
        })?;
        let mut seen = HashSet::new();
        args.content
            .iter()
            .map(|input| {
                let target = out.join(super::output_name(input, &args.format));
                if !seen.insert(target.clone()) {
                    return Err(UsageError(format!(
                        "two photos would both be written to {}; rename one or stylize them separately",
                        target.display()
                    )));
                }
                Ok((input.clone(), target))
            })
            .collect::<Result<_, _>>()?
    } else {
        let dot_file = out
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if out.extension().is_none() && !dot_file {
            return Err(UsageError(format!(
                "{}: no extension to say the output's format; name it .png, .jpg, .webp, .bmp or \
                 .tiff, or end it with / to write into a directory",
                out.display()
            ))
            .into());
        }
        images::output_format(out)?;
        images::check_writable_target(out)?;
        vec![(args.content[0].clone(), out.clone())]
    };
    let styles: Vec<PathBuf> = args.style.styles.iter().map(PathBuf::from).collect();
    super::refuse_overwriting_inputs(
        jobs.iter().map(|(_, t)| t.as_path()),
        args.content.iter().chain(&styles).map(PathBuf::as_path),
    )?;
    let out_dir = if as_dir {
        Some(OutputDir::create(out).map_err(|e| ImageError::Write {
            path: out.clone(),
            reason: e.to_string(),
        })?)
    } else {
        None
    };
    Ok((jobs, out_dir))
}
