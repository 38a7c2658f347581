//! brushwork: real-time arbitrary neural style transfer.
//!
//! A style-prediction network turns any painting into a 100-number [`StyleEmbedding`]; a fully
//! convolutional transformation network repaints a photo or frame, at its own resolution, in
//! that style (Ghiasi et al. 2017). Both run in ONNX Runtime through the `ort` crate.
//!
//! - [`runtime`]: finding or fetching `libonnxruntime`, one environment per process;
//! - [`models`]: the networks, embedded in the binary or read from a directory;
//! - [`style`]: style embeddings and style-image preparation;
//! - [`tensor`]: explicit image <-> tensor conversion;
//! - [`images`]: reading user pictures and writing results atomically;
//! - [`stylizer`]: [`Stylizer`], which runs it all.

pub mod atomic;
pub mod color;
pub mod files;
pub mod images;
pub mod live;
pub mod look;
pub mod models;
pub mod presets;
pub mod providers;
pub mod runtime;
pub mod sheet;
pub mod style;
pub mod style_file;
pub mod style_source;
pub mod stylizer;
pub mod tensor;

#[cfg(test)]
mod parser_properties;

pub use models::{ModelSet, Precision};

/// A line for the user on stderr, from library code that has something to say (a download, a
/// slow first step). Never panics: a closed or full stderr is not worth dying for.
pub(crate) fn note(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
pub use style::StyleEmbedding;
pub use stylizer::{Device, StylizeError, Stylizer, StylizerOptions};
