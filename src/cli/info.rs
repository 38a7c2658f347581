//! `brushwork info`: what runs, from where.

use std::process::ExitCode;

use brushwork::Stylizer;
use clap::Args;

use super::EngineArgs;

/// Show the ONNX Runtime library in use and the models, with their inputs, outputs and hashes.
#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn run(args: InfoArgs) -> anyhow::Result<ExitCode> {
    let stylizer = Stylizer::new(args.engine.options()?)?;
    let rt = brushwork::runtime::info()?;
    println!("brushwork {}", env!("CARGO_PKG_VERSION"));
    println!("ONNX Runtime {} ({})", rt.version, rt.path.display());
    println!("  {}", rt.build);
    println!("device: {:?}", stylizer.device());
    for (role, model) in [
        ("style prediction", &stylizer.models().predict),
        ("transformation", &stylizer.models().transform),
    ] {
        println!("{role} model: {}", model.origin);
        println!("  sha256 {}", model.sha256());
    }
    for line in stylizer.describe_io() {
        println!("  {line}");
    }
    Ok(ExitCode::SUCCESS)
}
