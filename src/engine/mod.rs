//! Where a network runs: the engines, and the one interface the stylizer uses to run a network.
//!
//! - [`device`]: the devices (`auto`, `cpu`, `openvino`, `cuda`, `tensorrt`), what `auto` tries
//!   and why a device cannot be used;
//! - [`onnxruntime`]: ONNX Runtime: finding or fetching the library, the execution providers,
//!   sessions, and the transformation network with its I/O binding;
//! - [`openvino`]: OpenVINO: finding or fetching it, the CPU features that decide its speed, the
//!   transformation network compiled per frame size and the compiled-model cache;
//! - [`wheel`]: the pinned PyPI wheels both engines' libraries come from;
//! - [`gpu_memory`]: a GPU's free memory, for the default memory budget there;
//! - [`stand_in`]: a stand-in that copies each frame, for measuring the pipeline alone.
//!
//! The interface (`interface`) is two traits, the tensors they take and give, and
//! [`EngineError`]; this module starts them:
//! - [`Transformer`] runs the transformation network on a whole picture, with the buffers it
//!   keeps between frames ([`start_transformer`] picks the engine for a device);
//! - [`Graphs`] runs any ONNX graph on named tensors ([`Input`] in, [`Output`] out): the style
//!   prediction network, the presets' network and the segments of a tiled picture
//!   ([`start_graphs`]).
//!
//! Adding an engine is a folder beside `onnxruntime/` and `openvino/` that implements both
//! traits, a [`Device`] for it, and an arm in each `start_` function.

pub mod device;
pub mod gpu_memory;
pub(crate) mod interface;
pub mod onnxruntime;
pub mod openvino;
pub mod stand_in;
pub mod wheel;

pub use device::{Device, DeviceError};
pub use interface::{
    check_output_shape, padded_dims, EngineError, Graph, Graphs, Input, Output, PixelType, Take,
    Transformer, CONTENT_IMAGE, STYLE_EMBEDDING, STYLE_IMAGE, STYLE_WEIGHTS, STYLIZED_IMAGE,
};

use crate::models::{ModelSet, Precision};

/// The style prediction network's input: a 256x256 painting, NHWC floats in 0..1.
/// The candidates `auto` tries, fastest first.
pub fn auto_candidates() -> Vec<Device> {
    let mut v = Vec::new();
    if cfg!(feature = "tensorrt") && onnxruntime::in_runtime(Device::TensorRt(0)) {
        v.push(Device::TensorRt(0));
    }
    if cfg!(feature = "cuda") && onnxruntime::in_runtime(Device::Cuda(0)) {
        v.push(Device::Cuda(0));
    }
    if openvino::CpuFeatures::detect().has_bf16() {
        v.push(Device::OpenVino);
    }
    v.push(Device::Cpu);
    v
}

/// Starts the transformation network on `device` (never `Auto`: see [`auto_candidates`]).
pub fn start_transformer(
    models: &ModelSet,
    device: Device,
    precision: Option<Precision>,
    threads: Option<usize>,
) -> Result<Box<dyn Transformer>, EngineError> {
    match device {
        Device::OpenVino => Ok(Box::new(openvino::OpenVinoTransformer::new(
            models, precision, threads,
        )?)),
        _ if precision == Some(Precision::Bf16) => Err(EngineError::Bf16NeedsOpenVino),
        // Measured on an H200: ONNX Runtime's CUDA provider refuses the int8 graph's int32
        // bias DequantizeLinear ("nodes are assigned to the default CPU EP"), with the CPU
        // fall-back off. Refused here, before any library loads, in one line.
        Device::Cuda(_) if precision == Some(Precision::Int8) => Err(EngineError::Int8NotOnCuda),
        Device::Auto => unreachable!("auto is resolved by the caller"),
        device => Ok(Box::new(onnxruntime::OrtTransformer::new(
            models, device, precision, threads,
        )?)),
    }
}

/// Graphs on `device`, computing in `precision` (OpenVINO's bf16, a TensorRT engine's fp16).
pub fn start_graphs(
    device: Device,
    precision: Precision,
    threads: Option<usize>,
) -> Result<Box<dyn Graphs>, EngineError> {
    Ok(match device {
        Device::OpenVino => Box::new(openvino::OpenVinoGraphs::new(precision, threads)?),
        device => Box::new(onnxruntime::Sessions::new(device, precision, threads)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_is_always_a_candidate_and_last() {
        assert_eq!(auto_candidates().last(), Some(&Device::Cpu));
        assert!(onnxruntime::compiled().contains(&"cpu"));
    }
}
