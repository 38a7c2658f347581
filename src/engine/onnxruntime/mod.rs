//! ONNX Runtime: the library (found or fetched once, one environment per process), its
//! execution providers, and the networks in its sessions.
//!
//! - `runtime`: finding or fetching `libonnxruntime`, the environment, [`info`];
//! - `providers`: CPU, CUDA and TensorRT on a session;
//! - `session`: building a session and checking a model's inputs and outputs;
//! - `transformer`: the transformation network with its I/O binding ([`OrtTransformer`]);
//! - `graphs`: any graph on named tensors ([`Sessions`]).

mod graphs;
mod providers;
mod runtime;
mod session;
mod transformer;

pub use graphs::Sessions;
pub use providers::{compiled, in_runtime, set_one_shot};
pub use runtime::{
    disable_telemetry, environment, info, locate, RuntimeError, RuntimeInfo, ORT_MIN_MINOR,
    ORT_VERSION,
};
pub use transformer::OrtTransformer;
