//! The multi-style network: the 26 presets of Dumoulin et al. 2017 and mixes of them.

use image::RgbImage;

use crate::engine::{self, Graph, Input, Output, CONTENT_IMAGE, STYLE_WEIGHTS, STYLIZED_IMAGE};
use crate::models::{ModelError, Precision};
use crate::presets::PresetMix;
use crate::tensor::{image_to_nchw_padded, nchw_to_image};

use super::tiled::{Network, Tiling};
use super::{check_size, StylizeError, Stylizer};

impl Stylizer {
    /// Stylizes `content` at its own resolution with a mix of the 26 presets, into `out`.
    pub fn stylize_preset_into(
        &mut self,
        content: &RgbImage,
        mix: &PresetMix,
        out: &mut RgbImage,
    ) -> Result<(), StylizeError> {
        check_size(content)?;
        let tiling = self.tiling_of(Network::Presets, content.width(), content.height())?;
        if let Tiling::Tiled {
            plan, tile_side, ..
        } = &tiling
        {
            self.run_tiled(Network::Presets, content, &mix.0, out, (plan, *tile_side))?;
            self.ran(content, tiling);
            return Ok(());
        }
        let model = self
            .models
            .multistyle
            .as_ref()
            .ok_or(StylizeError::NoPresets)?;
        let clone = || model.clone();
        let graph = Graph {
            key: "multistyle",
            role: "multi-style",
            model: &clone,
        };
        if self.multistyle.is_none() {
            // Already a float graph: it runs where the transformer's graphs run, in float32.
            let mut graphs = engine::start_graphs(
                self.transform.graphs_device(),
                Precision::Fp32,
                self.threads,
            )?;
            graphs.load(&graph, &[CONTENT_IMAGE, STYLE_WEIGHTS], STYLIZED_IMAGE)?;
            self.multistyle = Some(graphs);
        }
        let multistyle = self.multistyle.as_mut().expect("loaded above");
        if out.dimensions() != content.dimensions() {
            *out = RgbImage::new(content.width(), content.height());
        }
        let (h, w) = image_to_nchw_padded(content, &mut self.content);
        let mut shape_seen = None;
        multistyle.run(
            &graph,
            &[
                (CONTENT_IMAGE, Input::F32(&self.content, [1, 3, h, w])),
                (STYLE_WEIGHTS, Input::Vector(&mix.0)),
            ],
            &[STYLIZED_IMAGE],
            &mut |_, output| {
                match output {
                    Output::F32(values, shape)
                        if shape.len() == 4
                            && shape[1] == 3
                            && shape[2] as usize == h
                            && shape[3] as usize == w =>
                    {
                        nchw_to_image(values, h, w, out)
                    }
                    Output::F32(_, shape) | Output::U8(_, shape) => {
                        shape_seen = Some(shape.to_vec())
                    }
                }
                Ok(())
            },
        )?;
        if let Some(shape) = shape_seen {
            return Err(StylizeError::from(ModelError::Invalid {
                path: model.origin.clone(),
                role: "multi-style",
                reason: format!("output shape {shape:?} for input [1, 3, {h}, {w}]"),
            }));
        }
        self.ran(content, tiling);
        Ok(())
    }
}
