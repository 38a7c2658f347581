//! brushwork: real-time arbitrary neural style transfer.
//!
//! A style-prediction network turns any painting into a 100-number [`StyleEmbedding`]; a fully
//! convolutional transformation network repaints a photo or frame, at its own resolution, in
//! that style (Ghiasi et al. 2017). Both run in ONNX Runtime through the `ort` crate; the
//! transformation network can also run on OpenVINO, in bf16 where the CPU has it.
//!
//! The core:
//! - [`Stylizer`] (module `stylizer`): the networks in ONNX Runtime sessions; embed a painting,
//!   stylize a picture, or [`paint_into`](Stylizer::paint_into) it with a [`look::Look`];
//! - [`style`]: style embeddings, blends, strength, style-image preparation;
//! - [`look`]: what to paint with: a paint (embedding or preset mix), strength, colours, and
//!   the palette of styles a command was given;
//! - [`presets`]: the 26 presets of the multi-style network;
//! - [`style_file`] and [`style_source`]: saved embeddings, built-in styles, `--style` specs;
//! - [`models`]: the networks, embedded in the binary or read from a directory;
//! - [`providers`]: CPU, OpenVINO, CUDA and TensorRT, and what `auto` picks; [`runtime`]:
//!   finding or fetching `libonnxruntime`; [`openvino`]: finding or fetching OpenVINO, and the
//!   CPU features that decide its speed; [`wheel`]: the pinned PyPI wheels both come from.
//!
//! Around it:
//! - [`images`]: reading user pictures safely, writing results; [`atomic`]: temporary files,
//!   renames, signal clean-up, output directories;
//! - [`sources`], [`video`] and [`pipeline`]: frames from cameras, files, directories and
//!   patterns, through the threaded pipeline that `live` and `video` share;
//! - [`metrics`]: flicker, percentiles, memory.
//!
//! Library code prints nothing: what it has to say goes through the `log` crate.

pub mod atomic;
mod color;
mod files;
pub mod images;
pub mod look;
pub mod metrics;
pub mod models;
pub mod openvino;
pub mod pipeline;
pub mod presets;
pub mod providers;
pub mod runtime;
#[cfg(feature = "cli")]
pub mod server;
pub mod sources;
pub mod style;
pub mod style_file;
pub mod style_source;
mod stylizer;
mod tensor;
pub mod video;
pub mod wheel;

#[cfg(test)]
mod parser_properties;

pub use models::{ModelSet, Precision};

pub use style::StyleEmbedding;
pub use stylizer::{
    Device, StylizeError, Stylizer, StylizerOptions, Tiling, Workload, DEFAULT_MEMORY_BUDGET,
    DEFAULT_TILE_SIDE, MIN_CONTENT_SIDE, MIN_MEMORY_BUDGET, OPENVINO_MIN_PIXELS_PER_SIZE,
};
