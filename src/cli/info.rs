//! `brushwork info`: what runs, from where.

use std::process::ExitCode;

use brushwork::engine::{onnxruntime, Device};
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
    let mut stylizer = Stylizer::new(args.engine.options()?)?;
    stylizer.load_predictor()?;
    let rt = brushwork::engine::onnxruntime::info()?;
    out!("brushwork {}", env!("CARGO_PKG_VERSION"));
    out!("ONNX Runtime {} ({})", rt.version, rt.path.display());
    out!("  {}", rt.build);
    out!(
        "device in use: {} (transformation network, {}, on {}); style prediction: cpu",
        stylizer.device(),
        stylizer.precision(),
        stylizer.engine()
    );
    let cpu = brushwork::engine::openvino::CpuFeatures::detect();
    out!("CPU features: {cpu}");
    match brushwork::engine::openvino::loaded() {
        Some(ov) => out!(
            "OpenVINO {} ({}): --device openvino runs {}",
            ov.version,
            ov.dir.display(),
            if cpu.has_bf16() {
                "bf16 (native on this CPU)"
            } else {
                "fp32 (this CPU has no native bf16)"
            }
        ),
        None => out!(
            "OpenVINO: not loaded (--device openvino loads it, fetching openvino=={} once)",
            brushwork::engine::openvino::OPENVINO_VERSION
        ),
    }
    out!(
        "providers compiled in: {}",
        onnxruntime::compiled().join(", ")
    );
    let offered: Vec<String> = [Device::Cpu, Device::Cuda(0), Device::TensorRt(0)]
        .into_iter()
        .filter(|d| onnxruntime::in_runtime(*d))
        .map(|d| d.to_string().trim_end_matches(":0").to_string())
        .collect();
    out!(
        "providers this ONNX Runtime offers (of those compiled in): {}",
        offered.join(", ")
    );
    match gpu_names() {
        Some(names) => out!("GPU: {names}"),
        None => out!("GPU: none found (nvidia-smi absent or silent)"),
    }
    let models = stylizer.models();
    for (role, model) in [
        ("style prediction", Some(&models.predict)),
        ("transformation (int8)", Some(&models.transform)),
        ("transformation (fp32)", models.transform_fp32.as_ref()),
        ("transformation (fp16)", models.transform_fp16.as_ref()),
        (
            "transformation (fp32 trunk, for OpenVINO)",
            models.transform_trunk.as_ref(),
        ),
        (
            "norm parameters (for the trunk)",
            models.norm_params.as_ref(),
        ),
        ("multi-style (presets)", models.multistyle.as_ref()),
        (
            "tiled (fp32, for large pictures)",
            models.tiled_fp32.as_ref(),
        ),
        (
            "tiled (fp16, for large pictures)",
            models.tiled_fp16.as_ref(),
        ),
        (
            "tiled (presets, for large pictures)",
            models.tiled_multistyle.as_ref(),
        ),
        (
            "tiled (fp32 trunk, for large pictures on OpenVINO)",
            models.tiled_trunk.as_ref(),
        ),
    ] {
        match model {
            Some(model) => {
                out!("{role} model: {}", model.origin);
                out!("  sha256 {}", model.sha256());
            }
            None => out!("{role} model: none"),
        }
    }
    for line in stylizer.describe_io() {
        out!("  {line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The NVIDIA GPUs `nvidia-smi` lists, if it is installed.
fn gpu_names() -> Option<String> {
    let out = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=name", "--format=csv,noheader"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout)
        .trim()
        .replace('\n', ", ");
    (out.status.success() && !text.is_empty()).then_some(text)
}
