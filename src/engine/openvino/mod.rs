//! OpenVINO: the library (found or fetched once), the CPU features that decide its speed, and
//! the networks it runs on the CPU, in bf16 where the CPU computes it.
//!
//! - `runtime`: finding, fetching and loading OpenVINO, [`CpuFeatures`];
//! - `setup`: a core set up for a precision, the compiled-model cache, reading a network;
//! - `transformer`: the transformation network compiled per frame size
//!   ([`OpenVinoTransformer`]);
//! - `graphs`: any graph compiled for its input shapes ([`OpenVinoGraphs`]): the segments of
//!   a tiled picture.

mod graphs;
mod runtime;
mod setup;
mod transformer;

pub use graphs::OpenVinoGraphs;
pub use runtime::{load, loaded, CpuFeatures, OpenVinoError, OpenVinoInfo, OPENVINO_VERSION};
pub use transformer::OpenVinoTransformer;
