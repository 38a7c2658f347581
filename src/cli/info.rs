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
    let models = stylizer.models();
    for (role, model) in [
        ("style prediction", Some(&models.predict)),
        ("transformation", Some(&models.transform)),
        ("multi-style (presets)", models.multistyle.as_ref()),
    ] {
        match model {
            Some(model) => {
                println!("{role} model: {}", model.origin);
                println!("  sha256 {}", model.sha256());
            }
            None => println!("{role} model: none"),
        }
    }
    for line in stylizer.describe_io() {
        println!("  {line}");
    }
    Ok(ExitCode::SUCCESS)
}
