//! Pictures larger than the memory budget, stylized in tiles with whole-picture statistics.
//!
//! The transformation network's 13 conditional instance norms normalise with the mean and
//! variance of their input over the whole picture, so tiles that each ran the whole network
//! would each get their own statistics: seams and colour shifts. `python-export/tiling.py` cuts
//! the network at every norm into segments that take the finished statistics as inputs, and
//! writes them, with the plans that order them, into one bundle per variant
//! (`models/tiled_fp32.bundle`, `tiled_fp16.bundle`; on OpenVINO `tiled_trunk.bundle`, the
//! segments of the trunk it runs untiled, fed the norms' scales and shifts from
//! `norm_params.bin`). [`Tiler`] runs a plan: each segment tile
//! by tile over the whole picture, each tile read with a halo that covers the segment's
//! receptive field, its output either summed into the next norm's statistics (in f64, over the
//! tile's own region only) or kept in half precision for the segments that read it. The
//! statistics are exact; the result differs from the untiled network by the fp16 rounding of
//! the kept activations (0.03/255 on average).
//!
//! Tiles are laid out on the 1/4-resolution grid (the network's stride) and every tile of a
//! segment is read through a window of the same size (shifted inwards at the picture's edges),
//! so each segment sees one input shape per picture.

mod budget;
mod bundle;
mod executor;
mod geometry;

pub(crate) use budget::{mib, whole_estimate, Network, BASE_BYTES};
pub use budget::{
    DEFAULT_GPU_MEMORY_BUDGET, DEFAULT_MEMORY_BUDGET, DEFAULT_TILE_SIDE, MIN_MEMORY_BUDGET,
    MIN_TILE_SIDE,
};
pub(crate) use bundle::Bundle;

use bundle::{Plan, STRIDE};

use std::sync::Arc;

use crate::engine::Graphs;
use crate::models::ModelError;
use crate::norm_params::NormParams;

use super::StylizeError;

/// How a picture is run: whole, or in tiles.
#[derive(Debug, Clone, PartialEq)]
pub enum Tiling {
    /// Untiled: the estimated peak fits the budget.
    Whole { estimate: u64 },
    /// In tiles, by the segments of the named variant.
    Tiled {
        variant: String,
        /// The plan: `fast` keeps more between segments, `lean` computes it again.
        plan: String,
        tile_side: u32,
        tiles: usize,
        estimate: u64,
    },
}

impl std::fmt::Display for Tiling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tiling::Whole { estimate } => write!(f, "untiled (needs about {})", mib(*estimate)),
            Tiling::Tiled {
                variant,
                plan,
                tile_side,
                tiles,
                estimate,
            } => write!(
                f,
                "in {tiles} tiles of {tile_side}x{tile_side} px ({variant} segments, plan {plan}, whole-picture statistics; needs about {})",
                mib(*estimate)
            ),
        }
    }
}

/// The norms' scales and shifts that a trunk's segments take.
struct TrunkNorms {
    /// Their weights (`norm_params.bin`).
    params: Arc<NormParams>,
    /// Per entry of the bundle's `norm_params`: its index in `params`, and its values for the
    /// style being run, computed once a picture.
    values: Vec<(usize, Vec<f32>)>,
}

/// Runs the segments of a bundle.
pub(crate) struct Tiler {
    bundle: Bundle,
    graphs: Box<dyn Graphs>,
    /// For the trunk's segments: the norms' scales and shifts they take.
    norms: Option<TrunkNorms>,
    /// Scratch for one window of each input, reused between tiles.
    scratch: Vec<Vec<f32>>,
    pixels: Vec<u8>,
}

impl Tiler {
    /// A tiler for `bundle`, whose segments `graphs` runs. A trunk's bundle takes the norms'
    /// scales and shifts, which `norm_params` must provide, every one it names.
    pub(crate) fn new(
        bundle: Bundle,
        graphs: Box<dyn Graphs>,
        norm_params: Option<Arc<NormParams>>,
    ) -> Result<Self, ModelError> {
        let invalid = |reason: String| ModelError::Invalid {
            path: bundle.model.origin.clone(),
            role: "tiled transformation",
            reason,
        };
        let wanted = &bundle.header.norm_params;
        let norms = match norm_params {
            _ if wanted.is_empty() => None,
            None => {
                return Err(invalid(
                    "its segments take the norms' scales and shifts, as only the trunk's \
                     (tiled_trunk.bundle, with norm_params.bin) do"
                        .into(),
                ))
            }
            Some(params) => {
                let mut values = Vec::with_capacity(wanted.len());
                for p in wanted {
                    let given = params.inputs().iter().position(|i| i.name == p.name);
                    let Some(k) = given else {
                        return Err(invalid(format!(
                            "its segments take {}, which norm_params.bin does not give",
                            p.name
                        )));
                    };
                    let channels = params.inputs()[k].channels;
                    if channels != p.channels {
                        return Err(invalid(format!(
                            "its segments take {} with {} channels, where norm_params.bin \
                             gives {channels}",
                            p.name, p.channels
                        )));
                    }
                    values.push((k, vec![0.0; channels]));
                }
                Some(TrunkNorms { params, values })
            }
        };
        Ok(Tiler {
            bundle,
            graphs,
            norms,
            scratch: Vec::new(),
            pixels: Vec::new(),
        })
    }

    /// The tiling of a `width x height` picture: the fastest plan that fits `budget`, and what
    /// it needs. With `strict`, a picture that no plan fits is an error; otherwise the leanest
    /// plan runs.
    pub(crate) fn choose(
        &self,
        width: u32,
        height: u32,
        budget: u64,
        strict: bool,
        tile_side: u32,
    ) -> Result<Tiling, StylizeError> {
        let h = &self.bundle.header;
        let (hq, wq) = (
            crate::tensor::padded(height) as usize / STRIDE,
            crate::tensor::padded(width) as usize / STRIDE,
        );
        let tq = (tile_side as usize / STRIDE).max(1);
        let content = 3 * u64::from(width) * u64::from(height);
        let estimates: Vec<(&Plan, u64)> = h
            .plans
            .iter()
            .map(|p| (p, BASE_BYTES + content + h.peak(p, hq, wq, tq)))
            .collect();
        let leanest = *estimates
            .iter()
            .min_by_key(|(_, e)| *e)
            .expect("a bundle has a plan");
        let (plan, estimate) = match estimates.iter().find(|(_, e)| *e <= budget) {
            Some(&fits) => fits,
            None if strict => {
                return Err(StylizeError::OverBudget {
                    width,
                    height,
                    needed: leanest.1,
                    budget,
                    tile_side: (tq * STRIDE) as u32,
                })
            }
            None => leanest,
        };
        Ok(Tiling::Tiled {
            variant: h.variant.clone(),
            plan: plan.name.clone(),
            tile_side: (tq * STRIDE) as u32,
            tiles: hq.div_ceil(tq) * wq.div_ceil(tq),
            estimate,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EngineError, Graph, Input, Take};

    /// Graphs that are never run: what a tiler holds before its first picture.
    struct Unused;

    impl Graphs for Unused {
        fn load(&mut self, _: &Graph, _: &[&str], _: &str) -> Result<(), EngineError> {
            Ok(())
        }

        fn run(
            &mut self,
            _: &Graph,
            _: &[(&str, Input)],
            _: &[&str],
            _: &mut Take,
        ) -> Result<(), EngineError> {
            unreachable!("no picture is run")
        }
    }

    #[test]
    fn the_trunks_segments_need_every_norm_parameter_they_take() {
        let set = crate::ModelSet::embedded();
        let (segments, params) = set.tiled_trunk().expect("embedded");
        let bundle = || Bundle::parse(segments).expect("valid");
        assert_eq!(bundle().header.norm_params.len(), 26);
        let params = NormParams::parse(params).expect("valid");
        let tiler = Tiler::new(bundle(), Box::new(Unused), Some(Arc::new(params.clone())));
        let norms = tiler
            .expect("the embedded files agree")
            .norms
            .expect("trunk");
        assert_eq!(norms.values.len(), 26);

        let err = |norm_params| {
            Tiler::new(bundle(), Box::new(Unused), norm_params)
                .err()
                .expect("refused")
                .to_string()
        };
        let e = err(None);
        assert!(e.contains("only the trunk's (tiled_trunk.bundle"), "{e}");
        // A norm_params.bin for another network: it names other inputs, or other channels.
        let params = Some(Arc::new(params));
        let edited = |edit: &dyn Fn(&mut serde_json::Value)| {
            let bundle = Bundle::parse(&bundle::with_edited_header(segments, edit)).unwrap();
            Tiler::new(bundle, Box::new(Unused), params.clone())
                .err()
                .expect("refused")
                .to_string()
        };
        let first = bundle::header_of(segments)["norm_params"][0]["name"]
            .as_str()
            .unwrap()
            .to_string();
        let e = edited(&|h| {
            h["norm_params"][0]["name"] = "style_params/other".into();
            for s in h["segments"].as_object_mut().unwrap().values_mut() {
                for p in s["params"].as_array_mut().into_iter().flatten() {
                    if p == first.as_str() {
                        *p = "style_params/other".into();
                    }
                }
            }
        });
        assert!(
            e.contains("style_params/other, which norm_params.bin does not give"),
            "{e}"
        );
        let e = edited(&|h| h["norm_params"][0]["channels"] = 7.into());
        assert!(
            e.contains("with 7 channels, where norm_params.bin gives"),
            "{e}"
        );

        // The fp32 graph's segments take the embedding, and need no parameters.
        let fp32 = Bundle::parse(set.tiled_fp32.as_ref().unwrap()).expect("valid");
        assert!(Tiler::new(fp32, Box::new(Unused), None).is_ok());
    }
}
