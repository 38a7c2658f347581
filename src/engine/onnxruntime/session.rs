//! Building ONNX Runtime sessions: optimisation, threads, the execution provider, and a check
//! that a model has the inputs and outputs brushwork feeds.

use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

use crate::engine::device::{Device, DeviceError};
use crate::engine::interface::EngineError;
use crate::models::{ModelBytes, ModelError, Precision};

use super::{providers, runtime};

/// A session for `model` on `device`; `role` names the network in errors.
pub(super) fn session(
    model: &ModelBytes,
    threads: Option<usize>,
    device: Device,
    precision: Precision,
    role: &'static str,
) -> Result<Session, EngineError> {
    let env = runtime::environment()?;
    let mut builder = Session::builder(env)?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(ort::Error::from)?;
    // ONNX Runtime's memory pattern plans buffers per input shape; with shapes that change from
    // photo to photo it only adds memory. Measured at 1920x1080 on the 2-core CI machine:
    // peak RSS 792 -> 489 MB, transformer 990 -> 843 ms (see README, "Speed").
    builder = builder
        .with_memory_pattern(false)
        .map_err(ort::Error::from)?
        // Failures come back as errors, which brushwork reports in one line; ONNX Runtime's own
        // coloured log line on stderr would only repeat them.
        .with_log_level(ort::logging::LogLevel::Fatal)
        .map_err(ort::Error::from)?;
    if let Some(n) = threads {
        builder = builder.with_intra_threads(n).map_err(ort::Error::from)?;
    }
    // The cache key hashes the model: only TensorRT (engine caches) asks for it.
    let key = || {
        format!(
            "{}-{precision}-{}",
            role.replace(' ', "_"),
            &model.sha256()[..16]
        )
    };
    let mut builder = providers::register(builder, device, precision, key)?;
    builder.commit_from_memory(&model.bytes).map_err(|e| {
        if device != Device::Cpu {
            // With the CPU fall-back off, a GPU provider that cannot take every node fails here.
            return EngineError::Device(DeviceError::Failed {
                name: if matches!(device, Device::TensorRt(_)) {
                    "TensorRT"
                } else {
                    "CUDA"
                },
                reason: crate::engine::device::provider_failure(&e.to_string()),
            });
        }
        EngineError::Model(ModelError::Invalid {
            path: model.origin.clone(),
            role,
            reason: e.to_string(),
        })
    })
}

pub(super) fn check_io(
    session: &Session,
    model: &ModelBytes,
    inputs: &[&str],
    output: &str,
) -> Result<(), ModelError> {
    let has_input = |n: &str| session.inputs().iter().any(|o| o.name() == n);
    let has_output = session.outputs().iter().any(|o| o.name() == output);
    if let Some(missing) = inputs.iter().find(|n| !has_input(n)) {
        return Err(ModelError::Invalid {
            path: model.origin.clone(),
            role: "brushwork",
            reason: format!("it has no input named '{missing}'"),
        });
    }
    if !has_output {
        return Err(ModelError::Invalid {
            path: model.origin.clone(),
            role: "brushwork",
            reason: format!("it has no output named '{output}'"),
        });
    }
    Ok(())
}

/// One line per input and output of `session`: `role`, direction, name and element type.
pub(super) fn describe_io(session: &Session, role: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for (dir, outlets) in [("in ", session.inputs()), ("out", session.outputs())] {
        for o in outlets {
            lines.push(format!("{role} {dir} {}: {}", o.name(), o.dtype()));
        }
    }
    lines
}
