//! The style options shared by every command that paints: which styles, in what mix, how strong.

use brushwork::colour::preserve_colour;
use brushwork::presets::PresetMix;
use brushwork::style_source::StyleSource;
use brushwork::{StyleEmbedding, Stylizer};
use clap::Args;
use image::RgbImage;

use super::UsageError;

#[derive(Debug, Args, Clone)]
pub struct StyleArgs {
    /// A style: a painting (any size; center-cropped to a square and resized to 256x256), a
    /// saved embedding (NAME.style.json, from `brushwork embed`) or a built-in style name
    /// (`brushwork styles` lists them). Repeat to blend several.
    #[arg(
        short,
        long = "style",
        value_name = "STYLE",
        required_unless_present = "preset",
        conflicts_with = "preset"
    )]
    pub styles: Vec<String>,

    /// Use the 26-style network's presets instead of --style: N (0 to 25) or a mix such as
    /// 3:0.5,12:0.5 (`brushwork presets PHOTO -o sheet.png` shows them all).
    #[arg(long, value_name = "SPEC")]
    pub preset: Option<String>,

    /// Blend weights, one per --style, comma-separated (e.g. --weights 0.7,0.3). They must be
    /// 0 or more, not all 0, and are normalized to sum to 1. Default: equal weights.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "W,W,...",
        allow_hyphen_values = true
    )]
    pub weights: Option<Vec<f32>>,

    /// How much style, 0 to 1: 1 is the style, 0 is the photo's own style (it comes back close
    /// to itself); in between interpolates the two embeddings. With --preset, which has no
    /// embedding, it blends the stylized pixels with the photo's.
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "S",
        allow_hyphen_values = true
    )]
    pub strength: f32,

    /// Keep the photo's colours and take only the stylized brightness (a YCbCr swap).
    #[arg(long, alias = "preserve-colour")]
    pub preserve_color: bool,
}

/// What paints: an arbitrary style's embedding, or a mix of the 26 presets.
#[expect(
    clippy::large_enum_variant,
    reason = "one plan per command, built once and never copied"
)]
pub enum Choice {
    Embedding(StyleEmbedding),
    Preset(PresetMix),
}

/// The resolved styles: computed once, applied to any number of photos.
pub struct StylePlan {
    /// The blended style (strength not yet applied).
    pub choice: Choice,
    pub strength: f32,
    pub preserve_color: bool,
    pub label: String,
}

impl StyleArgs {
    /// The parsed sources, or the first bad one.
    pub fn sources(&self) -> anyhow::Result<Vec<StyleSource>> {
        Ok(self
            .styles
            .iter()
            .map(|s| StyleSource::parse(s))
            .collect::<Result<_, _>>()?)
    }

    /// Checks what can be checked without the networks.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(0.0..=1.0).contains(&self.strength) {
            return Err(UsageError(format!("--strength {} is outside 0..1", self.strength)).into());
        }
        if let Some(spec) = &self.preset {
            PresetMix::parse(spec)?;
            if self.weights.is_some() {
                return Err(UsageError(
                    "--weights go with --style; write preset weights as 3:0.5,12:0.5".into(),
                )
                .into());
            }
            return Ok(());
        }
        let weights = self.weights();
        brushwork::style::normalize_weights(&weights)
            .map_err(|e| UsageError(format!("--weights: {e}")))?;
        if weights.len() != self.styles.len() {
            return Err(UsageError(format!(
                "--weights: {} styles but {} weights; give one weight per --style",
                self.styles.len(),
                weights.len()
            ))
            .into());
        }
        self.sources()?;
        Ok(())
    }

    fn weights(&self) -> Vec<f32> {
        self.weights
            .clone()
            .unwrap_or_else(|| vec![1.0; self.styles.len()])
    }

    /// Embeds or reads every style once and blends them.
    pub fn plan(&self, stylizer: &mut Stylizer) -> anyhow::Result<StylePlan> {
        self.validate()?;
        if let Some(spec) = &self.preset {
            return Ok(StylePlan {
                choice: Choice::Preset(PresetMix::parse(spec)?),
                strength: self.strength,
                preserve_color: self.preserve_color,
                label: format!("preset {spec}"),
            });
        }
        let sources = self.sources()?;
        let mut embeddings = Vec::with_capacity(sources.len());
        for s in &sources {
            embeddings.push(s.resolve(stylizer)?);
        }
        let style = StyleEmbedding::blend(&embeddings, &self.weights())
            .map_err(|e| UsageError(format!("--weights: {e}")))?;
        let label = sources
            .iter()
            .map(|s| s.label())
            .collect::<Vec<_>>()
            .join("+");
        Ok(StylePlan {
            choice: Choice::Embedding(style),
            strength: self.strength,
            preserve_color: self.preserve_color,
            label,
        })
    }
}

impl StylePlan {
    /// Stylizes `photo` into `out` with this plan.
    pub fn paint(
        &self,
        stylizer: &mut Stylizer,
        photo: &RgbImage,
        out: &mut RgbImage,
    ) -> anyhow::Result<()> {
        match &self.choice {
            Choice::Embedding(style) => {
                let style = if self.strength >= 1.0 {
                    *style
                } else {
                    let own = stylizer.embed(photo)?;
                    style.with_strength(&own, self.strength)?
                };
                stylizer.stylize_into(photo, &style, out)?;
            }
            Choice::Preset(mix) => {
                stylizer.stylize_preset_into(photo, mix, out)?;
                if self.strength < 1.0 {
                    blend_pixels(out, photo, self.strength);
                }
            }
        }
        if self.preserve_color {
            preserve_colour(out, photo);
        }
        Ok(())
    }
}

/// `out = s·out + (1 − s)·photo`, per pixel.
fn blend_pixels(out: &mut RgbImage, photo: &RgbImage, s: f32) {
    for (o, p) in out.as_mut().iter_mut().zip(photo.as_raw()) {
        *o = (s * f32::from(*o) + (1.0 - s) * f32::from(*p) + 0.5) as u8;
    }
}
