//! Whole or in tiles: the memory budget, and loading the tiled segments of a network on the
//! first picture that needs them.

use std::sync::Arc;

use image::RgbImage;

use crate::engine::{self, gpu_memory, Device};
use crate::models::Precision;
use crate::norm_params::NormParams;

use super::tiled::{whole_estimate, Bundle, Network, Tiler, Tiling};
use super::tiled::{DEFAULT_GPU_MEMORY_BUDGET, DEFAULT_MEMORY_BUDGET};
use super::{StylizeError, Stylizer};

impl Stylizer {
    /// How a `width x height` picture will run with a style: whole, or in tiles that fit the
    /// memory budget (loading the tiled segments on the first picture that needs them).
    pub fn tiling_for(&mut self, width: u32, height: u32) -> Result<Tiling, StylizeError> {
        self.tiling_of(Network::Transform, width, height)
    }

    pub(super) fn tiling_of(
        &mut self,
        network: Network,
        width: u32,
        height: u32,
    ) -> Result<Tiling, StylizeError> {
        let budget = match (self.memory_budget, self.device()) {
            (Some(b), _) => b,
            (None, Device::Cuda(id) | Device::TensorRt(id)) => *self
                .gpu_budget
                .get_or_insert_with(|| gpu_memory::default_budget(id, DEFAULT_GPU_MEMORY_BUDGET)),
            (None, _) => DEFAULT_MEMORY_BUDGET,
        };
        let whole = whole_estimate(network, width, height);
        if whole <= budget {
            return Ok(Tiling::Whole { estimate: whole });
        }
        let precision = match network {
            Network::Transform => self.transform.precision(),
            Network::Presets => Precision::Fp32,
        };
        let cannot = |reason| StylizeError::CannotTile {
            width,
            height,
            needed: whole,
            budget,
            reason,
        };
        if self.tiler_of(network).is_none() {
            // OpenVINO runs the trunk untiled, where the set has it (with the norms' scales and
            // shifts computed in f32), and its segments in tiles, where the set has those too.
            let trunk = match (network, self.transform.device(), precision) {
                (Network::Transform, Device::OpenVino, Precision::Fp32 | Precision::Bf16) => {
                    self.models.tiled_trunk()
                }
                _ => None,
            };
            let (model, file) = match network {
                Network::Transform if trunk.is_some() => (
                    trunk.map(|(segments, _)| segments),
                    crate::models::TILED_TRUNK_FILE,
                ),
                Network::Transform => (
                    self.models.tiled_for(precision),
                    match precision {
                        Precision::Fp16 => crate::models::TILED_FP16_FILE,
                        _ => crate::models::TILED_FP32_FILE,
                    },
                ),
                Network::Presets => (
                    self.models.tiled_multistyle.as_ref(),
                    crate::models::TILED_MULTISTYLE_FILE,
                ),
            };
            let Some(model) = model else {
                let reason = if precision == Precision::Int8 {
                    "the int8 network cannot run in tiles (it rounds its statistics to int8 \
                     inside the graph): use --precision fp32, or raise --memory-budget"
                        .to_string()
                } else {
                    format!(
                        "the models directory has no {file} to run it in tiles: add it \
                         (python3 python-export/tiling.py writes it), or raise --memory-budget"
                    )
                };
                if self.memory_budget.is_some() {
                    return Err(cannot(reason));
                }
                if !self.warned_untiled {
                    self.warned_untiled = true;
                    log::warn!("{}; running it whole", cannot(reason));
                }
                return Ok(Tiling::Whole { estimate: whole });
            };
            let norm_params = match trunk {
                Some((_, params)) => Some(Arc::new(NormParams::parse(params)?)),
                None => None,
            };
            let bundle = Bundle::parse(model)?;
            // The segments run where the whole network runs, in the same precision (the
            // presets' network on ONNX Runtime, beside the transformer, in float32).
            let device = match network {
                Network::Transform => self.transform.device(),
                Network::Presets => self.transform.graphs_device(),
            };
            let graphs = engine::start_graphs(device, precision, self.threads)?;
            *self.tiler_of(network) = Some(Tiler::new(bundle, graphs, norm_params)?);
        }
        let (budget_given, tile_side) = (self.memory_budget.is_some(), self.tile_side);
        let tiler = self.tiler_of(network).as_ref().expect("loaded above");
        tiler.choose(width, height, budget, budget_given, tile_side)
    }

    /// The tiled segments of `network`, once loaded.
    fn tiler_of(&mut self, network: Network) -> &mut Option<Tiler> {
        match network {
            Network::Transform => &mut self.tiler,
            Network::Presets => &mut self.preset_tiler,
        }
    }

    /// Runs `content` in tiles of `network` by `plan` (one [`Self::tiling_of`] chose, which
    /// loaded the segments).
    pub(super) fn run_tiled(
        &mut self,
        network: Network,
        content: &RgbImage,
        style: &[f32],
        out: &mut RgbImage,
        (plan, tile_side): (&str, u32),
    ) -> Result<(), StylizeError> {
        if out.dimensions() != content.dimensions() {
            *out = RgbImage::new(content.width(), content.height());
        }
        self.tiler_of(network)
            .as_mut()
            .expect("loaded by tiling_of")
            .run(content, style, out, plan, tile_side)?;
        Ok(())
    }
}
