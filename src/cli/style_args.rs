//! The style options shared by every command that paints: which styles, in what mix, how strong.

use brushwork::colour::preserve_colour;
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
    #[arg(short, long = "style", value_name = "STYLE", required = true)]
    pub styles: Vec<String>,

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
    /// to itself); in between interpolates the two embeddings.
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

/// The resolved styles: computed once, applied to any number of photos.
pub struct StylePlan {
    /// The blended style (strength not yet applied).
    pub style: StyleEmbedding,
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
            style,
            strength: self.strength,
            preserve_color: self.preserve_color,
            label,
        })
    }
}

impl StylePlan {
    /// The embedding to use for `photo`: the style, pulled toward the photo's own embedding
    /// when strength is below 1.
    pub fn embedding_for(
        &self,
        stylizer: &mut Stylizer,
        photo: &RgbImage,
    ) -> anyhow::Result<StyleEmbedding> {
        if self.strength >= 1.0 {
            return Ok(self.style);
        }
        let own = stylizer.embed(photo)?;
        Ok(self.style.with_strength(&own, self.strength)?)
    }

    /// Stylizes `photo` into `out` with this plan.
    pub fn paint(
        &self,
        stylizer: &mut Stylizer,
        photo: &RgbImage,
        out: &mut RgbImage,
    ) -> anyhow::Result<()> {
        let style = self.embedding_for(stylizer, photo)?;
        stylizer.stylize_into(photo, &style, out)?;
        if self.preserve_color {
            preserve_colour(out, photo);
        }
        Ok(())
    }
}
