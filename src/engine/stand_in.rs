//! A stand-in for the transformation network that copies its content: the cheapest network
//! there is. With it, `live --stand-in-network` measures everything around the network
//! (capture, the look, stabilizing, display) on any machine, and shows whether the pipeline
//! would keep up with a GPU that runs the network in a few milliseconds.

use image::RgbImage;

use super::interface::{EngineError, Transformer};
use super::Device;
use crate::models::Precision;
use crate::style::StyleEmbedding;

/// Copies the content into the output (see the module's docs).
pub struct StandIn;

impl Transformer for StandIn {
    fn device(&self) -> Device {
        Device::Cpu
    }

    fn precision(&self) -> Precision {
        Precision::Fp32
    }

    fn engine(&self) -> String {
        "stand-in (copies each frame; no network)".to_owned()
    }

    fn describe_io(&self) -> Vec<String> {
        vec!["content: u8 RGB, copied to the output".to_owned()]
    }

    fn run(
        &mut self,
        content: &RgbImage,
        _style: &StyleEmbedding,
        out: &mut RgbImage,
    ) -> Result<(), EngineError> {
        out.copy_from_slice(content.as_raw());
        Ok(())
    }
}
