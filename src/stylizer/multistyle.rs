//! The multi-style network: the 26 presets of Dumoulin et al. 2017 and mixes of them.

use image::RgbImage;
use ort::value::TensorRef;

use crate::models::{ModelError, Precision};
use crate::presets::{PresetMix, NUM_PRESETS};
use crate::tensor::{image_to_nchw_padded, nchw_to_image};

use super::tiled::{Network, Tiling};
use super::{
    check_io, check_size, session, StylizeError, Stylizer, CONTENT_IMAGE, STYLE_WEIGHTS,
    STYLIZED_IMAGE,
};

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
        if self.multistyle.is_none() {
            let model = self
                .models
                .multistyle
                .as_ref()
                .ok_or(StylizeError::NoPresets)?;
            // Already a float graph: it runs where the transformer runs, in float32.
            let s = session(
                model,
                self.threads,
                self.transform.ort_device(),
                Precision::Fp32,
                "multi-style",
            )?;
            check_io(&s, model, &[CONTENT_IMAGE, STYLE_WEIGHTS], STYLIZED_IMAGE)?;
            self.multistyle = Some(s);
        }
        let multistyle = self.multistyle.as_mut().expect("loaded above");
        if out.dimensions() != content.dimensions() {
            *out = RgbImage::new(content.width(), content.height());
        }
        let (h, w) = image_to_nchw_padded(content, &mut self.content);
        let input = TensorRef::from_array_view(([1, 3, h, w], &self.content[..]))?;
        let weights = TensorRef::from_array_view(([NUM_PRESETS], &mix.0[..]))?;
        let outputs = multistyle.run(ort::inputs![
            CONTENT_IMAGE => input,
            STYLE_WEIGHTS => weights,
        ])?;
        let (shape, values) = outputs[STYLIZED_IMAGE].try_extract_tensor::<f32>()?;
        if shape.len() != 4 || shape[1] != 3 || shape[2] as usize != h || shape[3] as usize != w {
            return Err(StylizeError::Model(ModelError::Invalid {
                path: self
                    .models
                    .multistyle
                    .as_ref()
                    .map(|m| m.origin.clone())
                    .unwrap_or_default(),
                role: "multi-style",
                reason: format!("output shape {shape:?} for input [1, 3, {h}, {w}]"),
            }));
        }
        nchw_to_image(values, h, w, out);
        drop(outputs);
        self.ran(content, tiling);
        Ok(())
    }
}
