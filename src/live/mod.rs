//! Live stylization of a stream of frames: sources, the threaded pipeline, and the hand-off
//! slots that keep its latency bounded.

pub mod pipeline;
pub mod slot;
pub mod source;

pub use pipeline::{
    dominant, one_hot, run, ControlState, Controls, Flicker, Flow, Frame, Mode, Morph,
    OwnEmbedding, PipelineError, RunOptions, Stats,
};
pub use source::{FrameSource, SourceError};
