//! The style language every painting command speaks: which styles (or presets), in what mix,
//! how strong, whose colours. `stylize`, `interpolate`, `live` and `video` all flatten
//! [`StyleArgs`] into their arguments and turn it into the library's [`Palette`] and [`Look`].

use brushwork::look::values;
use brushwork::look::{Look, Palette};
use brushwork::style_source::StyleSource;
use brushwork::Stylizer;
use clap::Args;

use super::UsageError;

#[derive(Debug, Args, Clone)]
// One of --style and --preset is required: missing both, clap's error names both.
#[command(group(clap::ArgGroup::new("which_styles").args(["styles", "presets"]).required(true)))]
pub struct StyleArgs {
    /// A style: a painting (any size; center-cropped to a square and resized to 256x256), a
    /// saved embedding (NAME.style.json or any .json, from `brushwork embed`) or a built-in name
    /// (`brushwork styles` lists them). Repeat to blend several (`live` switches between them).
    #[arg(
        short,
        long = "style",
        alias = "from",
        value_name = "STYLE",
        conflicts_with = "presets"
    )]
    pub styles: Vec<String>,

    /// Use the 26-style network's presets instead of --style: N (0 to 25) or a mix such as
    /// 3:0.5,12:0.5 (`brushwork presets PHOTO -o sheet.png` shows them all). Repeat to blend
    /// several (`live` switches between them).
    #[arg(long = "preset", value_name = "SPEC")]
    pub presets: Vec<String>,

    /// Blend weights, one per --style (or --preset), comma-separated (e.g. --weights 0.7,0.3).
    /// They must be 0 or more, not all 0, and are normalized to sum to 1. Default: equal
    /// weights (in `live`: the first style).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "W,W,...",
        allow_hyphen_values = true,
        value_parser = parse_weight
    )]
    pub weights: Option<Vec<f64>>,

    /// How much style, 0 to 1: 1 is the style, 0 is the photo's own style (it comes back close
    /// to itself); in between interpolates the two embeddings. With --preset, which has no
    /// embedding, it blends the stylized pixels with the photo's.
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "S",
        allow_hyphen_values = true,
        value_parser = parse_strength
    )]
    pub strength: f32,

    /// Keep the photo's colours and take only the stylized brightness (a YCbCr swap).
    #[arg(long, alias = "preserve-colour")]
    pub preserve_color: bool,
}

// The value parsers below go through the library's `look::values`, as the server's fields do;
// clap names the flag itself ("invalid value '1.5' for '--strength <S>': ..."), so they hand it
// only the problem.

/// `--strength`: a number from 0 to 1.
fn parse_strength(s: &str) -> Result<f32, String> {
    values::strength("--strength", s).map_err(|e| e.problem)
}

/// One of `--weights`' comma-separated numbers.
fn parse_weight(s: &str) -> Result<f64, String> {
    values::weight("--weights", s).map_err(|e| e.problem)
}

/// A number in `lo..=hi`, for clap's value parsers.
pub fn parse_in_range(s: &str, lo: f32, hi: f32) -> Result<f32, String> {
    values::number_in("", s, lo, hi).map_err(|e| e.problem)
}

/// The resolved styles: embedded or read once, applied to any number of pictures.
pub struct Styles {
    pub palette: Palette,
    /// A short name per entry, for labels and the live status line.
    pub labels: Vec<String>,
    /// The weights as given (not normalized), one per entry.
    pub weights: Vec<f64>,
    pub strength: f32,
    pub preserve_color: bool,
    /// Whether the user gave --weights.
    pub weighted: bool,
}

impl StyleArgs {
    /// How many entries the palette has.
    fn len(&self) -> usize {
        self.styles.len().max(self.presets.len())
    }

    fn weights(&self) -> Vec<f64> {
        self.weights
            .clone()
            .unwrap_or_else(|| vec![1.0; self.len()])
    }

    /// Checks what can be checked without the networks: the weights, the preset specs, the
    /// style names, the size of the palette.
    pub fn validate(&self) -> anyhow::Result<()> {
        values::check_palette_size(self.len()).map_err(UsageError)?;
        values::presets(&self.presets)?;
        let per = if self.presets.is_empty() {
            "--style"
        } else {
            "--preset"
        };
        values::check_weights("--weights", &self.weights(), self.len(), per)
            .map_err(|e| UsageError(e.to_string()))?;
        self.sources()?;
        Ok(())
    }

    fn sources(&self) -> anyhow::Result<Vec<StyleSource>> {
        Ok(self
            .styles
            .iter()
            .map(|s| StyleSource::parse(s))
            .collect::<Result<_, _>>()?)
    }

    /// Embeds or reads every style once.
    pub fn resolve(&self, stylizer: &mut Stylizer) -> anyhow::Result<Styles> {
        self.validate()?;
        let (palette, labels) = if self.presets.is_empty() {
            let sources = self.sources()?;
            let mut embeddings = Vec::with_capacity(sources.len());
            let mut labels = Vec::with_capacity(sources.len());
            for s in &sources {
                let (embedding, label) = s.resolve_labelled(stylizer)?;
                embeddings.push(embedding);
                labels.push(label);
            }
            (Palette::Styles(embeddings), labels)
        } else {
            (
                Palette::Presets(values::presets(&self.presets)?),
                self.presets.iter().map(|s| format!("preset {s}")).collect(),
            )
        };
        Ok(Styles {
            palette,
            labels,
            weights: self.weights(),
            strength: self.strength,
            preserve_color: self.preserve_color,
            weighted: self.weights.is_some(),
        })
    }
}

impl Styles {
    /// The look the options describe: the palette blended by the weights.
    pub fn look(&self) -> anyhow::Result<Look> {
        let paint = self
            .palette
            .blend(&self.weights)
            .map_err(|e| UsageError(values::ValueError::new("--weights", e).to_string()))?;
        Ok(Look::new(paint)
            .with_strength(self.strength)?
            .with_preserve_color(self.preserve_color))
    }

    /// `towers+bricks`, `preset 3:0.5,12:0.5`.
    pub fn label(&self) -> String {
        self.labels.join("+")
    }
}
