//! `brushwork embed`: save paintings' style embeddings as files.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use brushwork::atomic::OutputDir;
use brushwork::images;
use brushwork::style_file::{self, StyleFile, StyleFileError};
use brushwork::Stylizer;
use clap::Args;

use super::{EngineArgs, UsageError};

/// Save the style embedding of each painting to a small JSON file (NAME.style.json: format
/// version, the 100 numbers, the sha256 of the style model that made them, the painting's
/// name). Use the file anywhere a style is accepted; it skips the style network.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Paintings to embed.
    #[arg(required = true, value_name = "STYLE_IMAGE")]
    pub paintings: Vec<PathBuf>,

    /// A NAME.style.json file (one painting), or a directory (created if needed) that gets
    /// one STEM.style.json per painting.
    #[arg(short, long, value_name = "DIR_OR_FILE")]
    pub output: PathBuf,

    /// The style's name, recorded in the file and shown where it is used (one painting only;
    /// default: the style file's name without .style.json).
    #[arg(long)]
    pub name: Option<String>,

    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn run(args: EmbedArgs) -> anyhow::Result<ExitCode> {
    let (jobs, mut dir) = plan(&args)?;
    let mut stylizer = Stylizer::new(args.engine.options()?)?;
    let sha = stylizer.predictor_sha256().to_string();
    for (painting, out, name) in jobs {
        let embedding = stylizer.embed(&images::load_rgb(&painting)?)?;
        let source = painting
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        StyleFile::new(&name, &source, &sha, &embedding).write(&out)?;
        dir.iter_mut().for_each(OutputDir::keep);
        if args.engine.verbose {
            say!("brushwork: {} -> {}", painting.display(), out.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "style".into())
}

/// A style name becomes a file name: it must not lead anywhere else (the library's rule).
fn check_name(name: &str) -> Result<(), UsageError> {
    let shown: String = name.chars().take(60).collect();
    let shown = if shown.len() < name.len() {
        format!("{shown:?}...")
    } else {
        format!("{shown:?}")
    };
    brushwork::style_file::check_name(name)
        .map_err(|why| UsageError(format!("--name {shown}: {why}")))
}

fn plan(args: &EmbedArgs) -> anyhow::Result<(Jobs, Option<OutputDir>)> {
    if let Some(name) = &args.name {
        check_name(name)?;
    }
    let out = &args.output;
    let jobs = plan_jobs(args)?;
    super::refuse_overwriting_inputs(
        jobs.iter().map(|(_, t, _)| t.as_path()),
        args.paintings.iter().map(PathBuf::as_path),
    )?;
    let dir = if style_file::is_style_file(out) {
        None
    } else {
        Some(OutputDir::create(out).map_err(|e| StyleFileError::Write {
            path: out.clone(),
            reason: e.to_string(),
        })?)
    };
    Ok((jobs, dir))
}

type Jobs = Vec<(PathBuf, PathBuf, String)>;

fn plan_jobs(args: &EmbedArgs) -> anyhow::Result<Jobs> {
    let out = &args.output;
    if style_file::is_style_file(out) {
        if args.paintings.len() != 1 {
            return Err(UsageError(format!(
                "{}: one file cannot hold {} styles; give a directory",
                out.display(),
                args.paintings.len()
            ))
            .into());
        }
        brushwork::atomic::check_target(out).map_err(|reason| StyleFileError::Write {
            path: out.clone(),
            reason,
        })?;
        let p = &args.paintings[0];
        // The file's own name: the label `stylize` and `interpolate` show for it.
        let name = args.name.clone().unwrap_or_else(|| {
            let file = out.file_name().map(|n| n.to_string_lossy().into_owned());
            match file
                .as_deref()
                .and_then(|n| n.strip_suffix(style_file::SUFFIX))
            {
                Some(name) if style_file::check_name(name).is_ok() => name.to_string(),
                _ => stem(p),
            }
        });
        return Ok(vec![(p.clone(), out.clone(), name)]);
    }
    if out.extension().is_some() && !out.is_dir() {
        return Err(UsageError(format!(
            "{}: a style file name must end in {}",
            out.display(),
            style_file::SUFFIX
        ))
        .into());
    }
    if args.name.is_some() && args.paintings.len() > 1 {
        return Err(UsageError("--name needs exactly one painting".into()).into());
    }
    let mut seen = HashSet::new();
    args.paintings
        .iter()
        .map(|p| {
            let name = args.name.clone().unwrap_or_else(|| stem(p));
            let target = out.join(format!("{name}{}", style_file::SUFFIX));
            if !seen.insert(target.clone()) {
                return Err(UsageError(format!(
                    "two paintings would both be saved as {}",
                    target.display()
                ))
                .into());
            }
            Ok((p.clone(), target, name))
        })
        .collect()
}
