//! The interface between the stylizer and the engines: the tensors a network is fed and gives
//! back, the two traits an engine implements, and what can go wrong.

use image::RgbImage;

use crate::models::{ModelBytes, ModelError, Precision};
use crate::style::StyleEmbedding;

use super::device::{Device, DeviceError};

pub const STYLE_IMAGE: &str = "style_image";
/// The style embedding, the prediction network's output and the transformer's input.
pub const STYLE_EMBEDDING: &str = "style_embedding";
/// The picture to stylize (NHWC for the transformer, NCHW for the presets' network).
pub const CONTENT_IMAGE: &str = "content_image";
/// The stylized picture.
pub const STYLIZED_IMAGE: &str = "stylized_image";
/// The presets' network's 26 weights.
pub const STYLE_WEIGHTS: &str = "style_weights";

/// What went wrong running a network, whichever engine ran it.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// An engine's library could not be found, fetched or loaded (each engine says why in
    /// its own error type).
    #[error(transparent)]
    Library(Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(
        "the models in use have no {precision} transformation network ({}); use --precision int8 or add that file to the models directory",
        precision.file()
    )]
    NoVariant { precision: Precision },
    #[error("bf16 runs on OpenVINO only; use --device openvino (or --precision fp32)")]
    Bf16NeedsOpenVino,
    #[error("int8 does not run on CUDA (its int32 bias dequantization has no CUDA kernel); use --precision fp16, the default on a GPU, or fp32")]
    Int8NotOnCuda,
    #[error(
        "not enough memory to stylize this picture: {0}; use --max-size (or a smaller --size)"
    )]
    OutOfMemory(String),
    #[error("inference failed: {0}")]
    Inference(::ort::Error),
    #[error("OpenVINO inference failed: {0}")]
    OpenVino(String),
}

impl EngineError {
    /// Whether the user can fix it: memory, a variant their models directory lacks, a broken
    /// model of theirs. ONNX Runtime itself, a device or a failed inference are not theirs.
    pub fn is_user_error(&self) -> bool {
        match self {
            EngineError::OutOfMemory(_)
            | EngineError::NoVariant { .. }
            | EngineError::Bf16NeedsOpenVino
            | EngineError::Int8NotOnCuda => true,
            EngineError::Model(m) => m.is_users(),
            EngineError::Library(_)
            | EngineError::Device(_)
            | EngineError::Inference(_)
            | EngineError::OpenVino(_) => false,
        }
    }
}

impl From<::ort::Error> for EngineError {
    /// An allocation failure is told apart from other failures: the user can avoid it.
    fn from(e: ::ort::Error) -> Self {
        match ort_out_of_memory(&e.to_string()) {
            Some(what) => EngineError::OutOfMemory(what),
            None => EngineError::Inference(e),
        }
    }
}

/// What ONNX Runtime could not allocate, where its message says it ran out of memory: its
/// arena's "Failed to allocate memory for requested buffer of size N", or a kernel's own
/// `std::bad_alloc`.
fn ort_out_of_memory(msg: &str) -> Option<String> {
    if let Some(at) = msg.find("Failed to allocate memory") {
        let what = msg[at..].trim();
        return Some(
            what.rsplit_once(' ')
                .and_then(|(_, n)| n.parse::<f64>().ok())
                .map_or_else(
                    || "ONNX Runtime could not allocate memory".to_string(),
                    |bytes| format!("ONNX Runtime could not allocate {:.0} MB", bytes / 1e6),
                ),
        );
    }
    msg.contains("std::bad_alloc")
        .then(|| "ONNX Runtime could not allocate memory".to_string())
}

/// One input of a graph's run: its data and NCHW (or NHWC for pixels) shape; a vector (the
/// presets' weights) has its length for shape.
pub enum Input<'a> {
    U8(&'a [u8], [usize; 4]),
    F32(&'a [f32], [usize; 4]),
    Vector(&'a [f32]),
}

impl Input<'_> {
    pub fn shape(&self) -> Vec<usize> {
        match self {
            Input::U8(_, s) | Input::F32(_, s) => s.to_vec(),
            Input::Vector(v) => vec![v.len()],
        }
    }
}

/// One output of a graph's run, with its shape.
pub enum Output<'a> {
    U8(&'a [u8], &'a [i64]),
    F32(&'a [f32], &'a [i64]),
}

/// The transformation network on one engine, with the buffers it reuses between frames.
pub trait Transformer: Send {
    /// The device it runs on (never `Auto`).
    fn device(&self) -> Device;
    /// The variant it runs.
    fn precision(&self) -> Precision;
    /// The engine and its version: `ONNX Runtime 1.31.1`, `OpenVINO 2026.4.1`.
    fn engine(&self) -> String;
    /// The device on which ONNX Runtime graphs beside it (presets, tiles) run.
    fn graphs_device(&self) -> Device {
        self.device()
    }
    /// One line per input and output: name and element type.
    fn describe_io(&self) -> Vec<String>;
    /// Gets ready for a padded `h`x`w` frame that is coming, where that takes time (OpenVINO
    /// compiles on a thread of its own). A failure is reported by the run of that frame.
    fn prepare(&mut self, _h: usize, _w: usize) {}
    /// Stylizes `content` with `style` into `out` (of `content`'s size).
    fn run(
        &mut self,
        content: &RgbImage,
        style: &StyleEmbedding,
        out: &mut RgbImage,
    ) -> Result<(), EngineError>;
}

/// Hands each output of a run to its caller, by its index in the outputs asked for.
pub type Take<'t> = dyn FnMut(usize, Output) -> Result<(), EngineError> + 't;

/// A graph an engine may need to load: its key among the engine's graphs, its role (for
/// errors: `style prediction`), and its model, made only when the graph is loaded.
pub struct Graph<'a> {
    pub key: &'a str,
    pub role: &'static str,
    pub model: &'a dyn Fn() -> ModelBytes,
}

/// ONNX graphs on one engine, each loaded (or compiled) on first use and kept under its key.
pub trait Graphs: Send {
    /// Loads `graph` now, if it is not loaded yet, and checks that it has `inputs` and
    /// `output`: what a network that must start with the stylizer calls.
    fn load(&mut self, graph: &Graph, inputs: &[&str], output: &str) -> Result<(), EngineError>;
    /// Runs `graph` (loaded on first use) on `inputs`, and hands each of `outputs` to `take`.
    fn run(
        &mut self,
        graph: &Graph,
        inputs: &[(&str, Input)],
        outputs: &[&str],
        take: &mut Take,
    ) -> Result<(), EngineError>;
    /// One line per input and output of the graph under `key`, if loaded, each starting with
    /// `role`.
    fn describe_io(&self, _key: &str, _role: &str) -> Vec<String> {
        Vec::new()
    }
}

/// The padded tensor size (height, width) of a picture: both sides a multiple of the stride.
pub fn padded_dims(content: &RgbImage) -> (usize, usize) {
    (
        crate::tensor::padded(content.height()) as usize,
        crate::tensor::padded(content.width()) as usize,
    )
}

/// Checks the transformer's output shape against its input's, whichever engine ran it.
pub fn check_output_shape(
    origin: &str,
    dims: &[i64],
    h: usize,
    w: usize,
) -> Result<(), EngineError> {
    if dims.len() != 4 || dims[1] as usize != h || dims[2] as usize != w || dims[3] != 3 {
        return Err(EngineError::Model(ModelError::Invalid {
            path: origin.to_string(),
            role: "transformation",
            reason: format!("output shape {dims:?} for input [1, {h}, {w}, 3]"),
        }));
    }
    Ok(())
}

/// The element type of a transformation graph's pixels, in and out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PixelType {
    /// Floats in 0..1 (the published int8 graph): brushwork converts.
    F32,
    /// 8-bit values (the fp32 and fp16 variants convert inside the graph).
    U8,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onnx_runtime_out_of_memory_is_recognised() {
        let arena =
            "Non-zero status code returned while running Conv node. Name:'c' Status Message: \
            Failed to allocate memory for requested buffer of size 1152000000";
        assert_eq!(
            ort_out_of_memory(arena).as_deref(),
            Some("ONNX Runtime could not allocate 1152 MB")
        );
        let kernel =
            "Non-zero status code returned while running Conv node. Name:'Relu__5:0_nchwc' \
            Status Message: std::bad_alloc";
        assert_eq!(
            ort_out_of_memory(kernel).as_deref(),
            Some("ONNX Runtime could not allocate memory")
        );
        assert_eq!(ort_out_of_memory("Invalid input name: x"), None);
    }
}
