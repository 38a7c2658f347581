//! brushwork: real-time arbitrary neural style transfer.
//!
//! A style-prediction network turns any painting into a 100-number [`StyleEmbedding`]; a fully
//! convolutional transformation network repaints a photo or frame, at its own resolution, in
//! that style (Ghiasi et al. 2017). Both run on ONNX Runtime through the `ort` crate; the
//! transformation network can also run on OpenVINO, in bf16 where the CPU has it.
//!
//! The core, from the bottom up:
//! - [`engine`]: where a network runs. One interface (`Transformer`, `Graphs`, their tensors,
//!   [`EngineError`]) over two engines, each in its folder: ONNX Runtime (CPU, CUDA, TensorRT)
//!   and OpenVINO; which one `auto` starts; their libraries fetched from pinned PyPI wheels;
//! - [`Stylizer`] (module `stylizer`): the three networks on an engine; embed a painting,
//!   stylize a picture, whole or in tiles within a memory budget, or
//!   [`paint_into`](Stylizer::paint_into) it with a [`look::Look`];
//! - [`style`]: style embeddings, blends, strength, style-image preparation;
//! - [`look`]: what to paint with: a paint (embedding or preset mix), strength, colours, the
//!   palette of styles a command was given, and the checks of those values that the command
//!   line and the server share;
//! - [`presets`]: the 26 presets of the multi-style network;
//! - [`style_file`] and [`style_source`]: saved embeddings, built-in styles, `--style` specs;
//! - [`models`]: the networks, embedded in the binary or read from a directory.
//!
//! Around it:
//! - [`images`]: reading user pictures safely, writing results; [`atomic`]: temporary files,
//!   renames, signal clean-up, output directories;
//! - [`sources`], [`video`] and [`pipeline`]: frames from cameras, files, directories and
//!   patterns, through the threaded pipeline that `live` and `video` share;
//! - [`metrics`]: flicker, percentiles, memory.
//!
//! The front ends: the command line (the `brushwork` binary, `src/cli/`) and, with the `cli`
//! feature, the HTTP server (`server`), a peer of it that the `serve` command starts.
//!
//! Library code prints nothing: what it has to say goes through the `log` crate.

pub mod atomic;
mod color;
pub mod engine;
mod files;
pub mod images;
pub mod look;
pub mod metrics;
pub mod models;
pub mod norm_params;
pub mod pipeline;
pub mod presets;
#[cfg(feature = "cli")]
pub mod server;
pub mod sources;
pub mod style;
pub mod style_file;
pub mod style_source;
mod stylizer;
mod tensor;
pub mod video;

#[cfg(test)]
mod parser_properties;

pub use models::{ModelSet, Precision};

pub use engine::{Device, EngineError};
pub use style::StyleEmbedding;
pub use stylizer::{
    StylizeError, Stylizer, StylizerOptions, Tiling, Workload, DEFAULT_GPU_MEMORY_BUDGET,
    DEFAULT_MEMORY_BUDGET, DEFAULT_TILE_SIDE, MIN_CONTENT_SIDE, MIN_MEMORY_BUDGET, MIN_TILE_SIDE,
    OPENVINO_MIN_PIXELS_PER_SIZE,
};
