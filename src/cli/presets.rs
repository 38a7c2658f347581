//! `brushwork presets`: a labelled contact sheet of the 26 presets on one photo.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::cli::sheet::contact_sheet;
use brushwork::images::{self, fit_within};
use brushwork::presets::{PresetMix, NUM_PRESETS};
use brushwork::Stylizer;
use clap::Args;
use image::RgbImage;

use super::EngineArgs;

/// Draw the photo in each of the 26 presets of the multi-style network (Dumoulin et al. 2017),
/// labelled with their numbers, on one contact sheet, to choose a --preset from.
#[derive(Debug, Args)]
pub struct PresetsArgs {
    /// The photo.
    #[arg(value_name = "CONTENT")]
    pub content: PathBuf,

    /// The contact sheet (.png, .jpg, .webp, ...).
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,

    /// Longer side of each tile in pixels.
    #[arg(long, default_value_t = 256, value_parser = crate::cli::whole_number::<u32>(32, Some(2048)))]
    pub tile: u32,

    /// Tiles per row.
    #[arg(long, default_value_t = 7, value_parser = crate::cli::whole_number::<u32>(1, Some(27)))]
    pub columns: u32,

    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn run(args: PresetsArgs) -> anyhow::Result<ExitCode> {
    images::output_format(&args.output)?;
    images::check_writable_target(&args.output)?;
    super::refuse_overwriting_inputs([args.output.as_path()], [args.content.as_path()])?;
    let photo = fit_within(images::load_rgb(&args.content)?, args.tile);
    let mut stylizer = Stylizer::new(args.engine.options()?)?;
    let mut tiles = vec![("original".to_string(), photo.clone())];
    for i in 0..NUM_PRESETS {
        let mut out = RgbImage::new(1, 1);
        stylizer.stylize_preset_into(&photo, &PresetMix::single(i)?, &mut out)?;
        tiles.push((format!("preset {i}"), out));
    }
    let sheet = contact_sheet(&tiles, args.columns as usize);
    images::save_atomic(&sheet, &args.output, images::JPEG_QUALITY)?;
    Ok(ExitCode::SUCCESS)
}
