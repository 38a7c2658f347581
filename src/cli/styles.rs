//! `brushwork styles`: the built-in style library.

use std::process::ExitCode;

use brushwork::style_source::BUILTINS;
use clap::Args;

/// List the built-in styles, usable anywhere a style is accepted (--style NAME).
#[derive(Debug, Args)]
pub struct StylesArgs {}

pub fn run(_args: StylesArgs) -> anyhow::Result<ExitCode> {
    let width = BUILTINS.iter().map(|b| b.name.len()).max().unwrap_or(0);
    for b in BUILTINS {
        out!("{:width$}  {}", b.name, b.credit);
    }
    Ok(ExitCode::SUCCESS)
}
