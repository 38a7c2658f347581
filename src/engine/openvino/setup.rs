//! What the OpenVINO engine's parts share: a CPU core set up for a precision, the
//! compiled-model cache on disk, reading a transformation network, and errors in brushwork's
//! words.

use std::path::{Path, PathBuf};

use ::openvino::{Core, DeviceType, ElementType, InferenceError, Model, Node, RwPropertyKey};

use crate::engine::device::DeviceError;
use crate::engine::interface::{EngineError, PixelType, CONTENT_IMAGE, STYLIZED_IMAGE};
use crate::models::{ModelBytes, ModelError, Precision};

/// How many compiled models the disk cache keeps (about 1.2 MB each; the oldest go first).
pub const CACHE_KEEP: usize = 64;

pub(super) fn failed(reason: impl std::fmt::Display) -> EngineError {
    EngineError::Device(DeviceError::Failed {
        name: "OpenVINO",
        reason: plain(&reason.to_string()),
    })
}

/// An OpenVINO error while running: an allocation failure (or threads that cannot start, which
/// is what an address-space limit does to it) is the user's to avoid.
pub(super) fn inference_failed(e: InferenceError) -> EngineError {
    let text = plain(&e.to_string());
    let lower = text.to_ascii_lowercase();
    if lower.contains("bad_alloc")
        || lower.contains("failed to allocate")
        || lower.contains("cannot allocate")
        || lower.contains("out of memory")
        || lower.contains("resource temporarily unavailable")
    {
        EngineError::OutOfMemory(format!(
            "OpenVINO could not allocate memory or start its threads ({text}); --device cpu needs less"
        ))
    } else {
        EngineError::OpenVino(text)
    }
}

/// OpenVINO's message without the C++ source locations it chains ("Exception from
/// src/inference/src/cpp/core.cpp:117:", "Check 'ptr' failed at src/.../cpu_memory.cpp:257:")
/// and the binding's "general error:" prefix.
fn plain(text: &str) -> String {
    let is_location = |w: &str| {
        w.strip_suffix(':')
            .and_then(|w| w.rsplit_once(':'))
            .is_some_and(|(file, line)| {
                file.contains('.') && !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit())
            })
    };
    let mut kept: Vec<&str> = Vec::new();
    for word in text.split_whitespace() {
        if !is_location(word) {
            kept.push(word);
            continue;
        }
        // The words that introduce the location go with it.
        if kept.ends_with(&["Exception", "from"]) {
            kept.truncate(kept.len() - 2);
        } else if kept.ends_with(&["failed", "at"]) {
            if let Some(check) = kept.iter().rposition(|w| *w == "Check") {
                kept.truncate(check);
            }
        }
    }
    let text = kept.join(" ");
    text.strip_prefix("general error:")
        .map_or(text.clone(), |t| t.trim().to_string())
}

/// An OpenVINO core for the CPU, set up for `precision` (bf16, else f32) and `threads`.
pub(super) fn configured_core(
    precision: Precision,
    threads: Option<usize>,
) -> Result<Core, EngineError> {
    let info = super::load().map_err(failed)?;
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| log::debug!("OpenVINO {} from {}", info.version, info.dir.display()));
    let mut core = Core::new().map_err(failed)?;
    let hint = match precision {
        Precision::Bf16 => "bf16",
        _ => "f32",
    };
    // ONNX Runtime's default is one thread per physical core; OpenVINO's would leave a
    // hyper-threaded 2-vCPU machine with one. Measured on the 2-core CI machine at 384x384,
    // bf16: 1 thread 21.5 ms, 2 threads 11.8 ms.
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    for (key, value) in [
        (RwPropertyKey::HintInferencePrecision, hint.to_string()),
        (RwPropertyKey::InferenceNumThreads, threads.to_string()),
        (RwPropertyKey::HintPerformanceMode, "LATENCY".to_string()),
    ] {
        core.set_property(&DeviceType::CPU, &key, &value)
            .map_err(failed)?;
    }
    // A cache that cannot be made (a read-only home) only costs the compile time it saves.
    if let Some(dir) = compiled_cache() {
        if let Some(dir) = dir.to_str() {
            if let Err(e) = core.set_property(&DeviceType::CPU, &RwPropertyKey::CacheDir, dir) {
                log::debug!("OpenVINO's compiled-model cache is off: {e}");
            }
        }
    }
    Ok(core)
}

/// The directory of OpenVINO's compiled models (made if needed, pruned to the newest
/// [`CACHE_KEEP`] files once a process), or `None` where it cannot be made.
fn compiled_cache() -> Option<PathBuf> {
    static DIR: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = crate::engine::wheel::cache_dir()
            .join(format!("openvino-{}-compiled", super::OPENVINO_VERSION));
        match std::fs::create_dir_all(&dir) {
            Ok(()) => {
                prune(&dir, CACHE_KEEP);
                Some(dir)
            }
            Err(e) => {
                log::debug!("no compiled-model cache: {}: {e}", dir.display());
                None
            }
        }
    })
    .clone()
}

/// Removes all but the `keep` most recently modified files of `dir` (best effort: another
/// process may be pruning too).
fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            meta.is_file().then(|| (meta.modified().ok(), e.path()))
        })
        .collect();
    if files.len() <= keep {
        return;
    }
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    for (_, path) in files.into_iter().skip(keep) {
        let _ = std::fs::remove_file(path);
    }
}

/// Reads the ONNX model, checking it has the content input, the `style_inputs` (each of the
/// shape given) and nothing else, and the output brushwork reads.
pub(super) fn read(
    core: &mut Core,
    model: &ModelBytes,
    style_inputs: &[(&str, [i64; 4])],
) -> Result<Model, EngineError> {
    let invalid = |reason: String| {
        EngineError::Model(ModelError::Invalid {
            path: model.origin.clone(),
            role: "transformation",
            reason,
        })
    };
    let read = core
        .read_model_from_buffer(&model.bytes, None)
        .map_err(|e| invalid(format!("OpenVINO cannot read it: {e}")))?;
    let mut fed: Vec<(&str, Option<&[i64]>)> = vec![(CONTENT_IMAGE, None)];
    fed.extend(
        style_inputs
            .iter()
            .map(|(name, dims)| (*name, Some(&dims[..]))),
    );
    check_inputs(&read, &fed).map_err(invalid)?;
    node(&read, Port::Output, STYLIZED_IMAGE)
        .ok_or_else(|| invalid(format!("it has no output named '{STYLIZED_IMAGE}'")))?;
    Ok(read)
}

/// Checks that `model` takes exactly the inputs brushwork feeds it: each of `fed` by name, of
/// the shape given where there is one (inputs reshaped to each picture or window have none),
/// and no other. A model that disagrees is the models directory's fault: one line, exit 2,
/// rather than an inference error, or an input left unset.
pub(super) fn check_inputs(model: &Model, fed: &[(&str, Option<&[i64]>)]) -> Result<(), String> {
    for (name, dims) in fed {
        let input = node(model, Port::Input, name)
            .ok_or_else(|| format!("it has no input named '{name}'"))?;
        let Some(dims) = dims else { continue };
        let shape = input.get_partial_shape().map_err(|e| e.to_string())?;
        let found: Vec<i64> = shape
            .get_dimensions()
            .iter()
            .map(|d| if d.is_dynamic() { -1 } else { d.get_min() })
            .collect();
        if found != *dims {
            return Err(format!(
                "its input '{name}' has shape {found:?}, where {dims:?} is fed"
            ));
        }
    }
    let count = model.get_inputs_len().map_err(|e| e.to_string())?;
    if count != fed.len() {
        let names: Vec<&str> = fed.iter().map(|(name, _)| *name).collect();
        return Err(format!(
            "it has {count} inputs; brushwork feeds {}: {}",
            fed.len(),
            names.join(", ")
        ));
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Port {
    Input,
    Output,
}

type NodeAt = fn(&Model, usize) -> Result<Node, InferenceError>;

/// The model's input or output named `name`.
fn node(model: &Model, port: Port, name: &str) -> Option<Node> {
    let (count, get): (_, NodeAt) = match port {
        Port::Input => (model.get_inputs_len(), Model::get_input_by_index),
        Port::Output => (model.get_outputs_len(), Model::get_output_by_index),
    };
    (0..count.ok()?)
        .filter_map(|i| get(model, i).ok())
        .find(|n| n.get_name().is_ok_and(|n| n == name))
}

pub(super) fn pixel_type(model: &Model, bytes: &ModelBytes) -> Result<PixelType, EngineError> {
    let element = |port, name| node(model, port, name).and_then(|n| n.get_element_type().ok());
    match (
        element(Port::Input, CONTENT_IMAGE),
        element(Port::Output, STYLIZED_IMAGE),
    ) {
        (Some(ElementType::F32), Some(ElementType::F32)) => Ok(PixelType::F32),
        (Some(ElementType::U8), Some(ElementType::U8)) => Ok(PixelType::U8),
        (i, o) => Err(EngineError::Model(ModelError::Invalid {
            path: bytes.origin.clone(),
            role: "transformation",
            reason: format!(
                "its pixels are {i:?} in and {o:?} out; brushwork needs float32 or uint8, the same both ways"
            ),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_lose_source_locations_and_keep_the_cause() {
        assert_eq!(
            plain(
                "general error: Exception from src/inference/src/cpp/core.cpp:117:\n\
                 Exception from src/inference/src/dev/plugin.cpp:54: Resource temporarily unavailable"
            ),
            "Resource temporarily unavailable"
        );
        assert_eq!(
            plain("Input shape [1,3] is wrong: 2 < 4"),
            "Input shape [1,3] is wrong: 2 < 4"
        );
    }
}
