//! What to paint with. A [`Look`] is a [`Paint`] (a point in style space, or a mix of the 26
//! presets) with a strength and optional colour preservation; a [`Palette`] is the list of
//! styles a command was given, which weights blend into one paint. Every command builds its
//! looks the same way, and [`Stylizer::paint_into`] applies one to a picture. [`values`] checks
//! the values a look is written with (strength, weights, presets) for every front end.

pub mod values;

use image::RgbImage;

use crate::color::preserve_color;
use crate::presets::PresetMix;
use crate::style::{check_weights, weighted_sum, BlendError, StyleEmbedding};
use crate::stylizer::{StylizeError, Stylizer};

/// The most styles a palette holds (keys 1–9 in `live`).
pub const MAX_PALETTE: usize = 9;

/// What paints: an arbitrary style's embedding, or a mix of the 26 presets of the multi-style
/// network (which has no embedding).
#[derive(Debug, Clone, Copy, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "plain data built every live frame; boxing would allocate per frame"
)]
pub enum Paint {
    Style(StyleEmbedding),
    Presets(PresetMix),
}

impl Paint {
    /// `t·self + (1 − t)·other`, exact at the ends. Two different kinds cannot mix: the result
    /// is `self` from `t = 0.5` on, `other` before.
    pub fn mix(&self, other: &Paint, t: f32) -> Paint {
        match (self, other) {
            (Paint::Style(a), Paint::Style(b)) => Paint::Style(a.mix(b, t)),
            (Paint::Presets(a), Paint::Presets(b)) => {
                Paint::Presets(PresetMix(std::array::from_fn(|i| {
                    if t >= 1.0 {
                        a.0[i]
                    } else if t <= 0.0 {
                        b.0[i]
                    } else {
                        t * a.0[i] + (1.0 - t) * b.0[i]
                    }
                })))
            }
            _ if t >= 0.5 => *self,
            _ => *other,
        }
    }
}

/// A paint with its strength and colour handling: everything a picture is painted with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Look {
    pub paint: Paint,
    /// 0 to 1. For a style, 1 is the style and 0 the picture's own style embedding (identity
    /// interpolation, Ghiasi et al. 2017); for presets, which have no embedding, the stylized
    /// pixels are blended with the picture's.
    pub strength: f32,
    /// Keep the picture's colours under the stylized luminance.
    pub preserve_color: bool,
}

impl Look {
    /// Full strength, colours from the style.
    pub fn new(paint: Paint) -> Look {
        Look {
            paint,
            strength: 1.0,
            preserve_color: false,
        }
    }

    /// Checks the strength.
    pub fn with_strength(mut self, strength: f32) -> Result<Look, BlendError> {
        if !(0.0..=1.0).contains(&strength) {
            return Err(BlendError::Strength(strength));
        }
        self.strength = strength;
        Ok(self)
    }

    pub fn with_preserve_color(mut self, on: bool) -> Look {
        self.preserve_color = on;
        self
    }

    /// Whether applying it needs the picture's own style embedding.
    pub fn needs_own_embedding(&self) -> bool {
        matches!(self.paint, Paint::Style(_)) && self.strength < 1.0
    }
}

/// The styles a command was given, in order: all arbitrary styles, or all preset mixes.
#[derive(Debug, Clone, PartialEq)]
pub enum Palette {
    Styles(Vec<StyleEmbedding>),
    Presets(Vec<PresetMix>),
}

impl Palette {
    pub fn len(&self) -> usize {
        match self {
            Palette::Styles(v) => v.len(),
            Palette::Presets(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `i` alone.
    pub fn get(&self, i: usize) -> Option<Paint> {
        match self {
            Palette::Styles(v) => v.get(i).copied().map(Paint::Style),
            Palette::Presets(v) => v.get(i).copied().map(Paint::Presets),
        }
    }

    /// The convex combination of the entries with `weights` (one per entry; non-negative,
    /// finite, not all zero; normalized here, in f64 so that huge weights cannot overflow).
    /// Allocates nothing, so `live` can blend every frame.
    pub fn blend<W: Copy + Into<f64>>(&self, weights: &[W]) -> Result<Paint, BlendError> {
        if weights.len() != self.len() {
            return Err(BlendError::CountMismatch {
                styles: self.len(),
                weights: weights.len(),
            });
        }
        let total = check_weights(weights)?;
        Ok(match self {
            Palette::Styles(v) => Paint::Style(StyleEmbedding(weighted_sum(
                v.iter().map(|s| &s.0),
                weights,
                total,
            ))),
            Palette::Presets(v) => Paint::Presets(PresetMix(weighted_sum(
                v.iter().map(|m| &m.0),
                weights,
                total,
            ))),
        })
    }
}

impl Stylizer {
    /// Paints `photo` with `look` into `out` (resized as needed, so a caller can reuse it).
    /// `own` is the photo's own style embedding for a strength below 1; when it is `None` it is
    /// computed here (`live` and `video` pass one they refresh from time to time instead).
    pub fn paint_into(
        &mut self,
        photo: &RgbImage,
        look: &Look,
        own: Option<&StyleEmbedding>,
        out: &mut RgbImage,
    ) -> Result<(), StylizeError> {
        match &look.paint {
            Paint::Style(style) => {
                let style = if look.strength >= 1.0 {
                    *style
                } else {
                    let own = match own {
                        Some(o) => *o,
                        None => self.embed(photo)?,
                    };
                    style.mix(&own, look.strength.max(0.0))
                };
                self.stylize_into(photo, &style, out)?;
            }
            Paint::Presets(mix) => {
                self.stylize_preset_into(photo, mix, out)?;
                if look.strength < 1.0 {
                    blend_pixels(out, photo, look.strength.max(0.0));
                }
            }
        }
        if look.preserve_color {
            preserve_color(out, photo);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::style::EMBEDDING_DIM;

    fn e(v: f32) -> StyleEmbedding {
        StyleEmbedding([v; EMBEDDING_DIM])
    }

    #[test]
    fn palette_blend_matches_the_embedding_blend() {
        let a = StyleEmbedding(std::array::from_fn(|i| (i as f32).sin()));
        let b = e(-2.0);
        let p = Palette::Styles(vec![a, b]);
        let Paint::Style(got) = p.blend(&[0.7, 0.3]).unwrap() else {
            panic!("a style")
        };
        let want = StyleEmbedding::blend(&[a, b], &[0.7, 0.3]).unwrap();
        for (g, w) in got.0.iter().zip(want.0.iter()) {
            assert!((g - w).abs() < 1e-6);
        }
        assert_eq!(p.blend(&[0.0, 5.0]).unwrap(), Paint::Style(b));
        assert_eq!(
            p.blend(&[3e38, 3e38]).unwrap(),
            p.blend(&[1.0, 1.0]).unwrap()
        );
        assert_eq!(
            p.blend(&[1.0]),
            Err(BlendError::CountMismatch {
                styles: 2,
                weights: 1
            })
        );
        assert_eq!(p.blend(&[0.0, 0.0]), Err(BlendError::AllZero));
    }

    #[test]
    fn preset_palettes_blend_their_mixes() {
        let p = Palette::Presets(vec![
            PresetMix::single(3).unwrap(),
            PresetMix::single(12).unwrap(),
        ]);
        let Paint::Presets(m) = p.blend(&[1.0, 3.0]).unwrap() else {
            panic!("presets")
        };
        assert_eq!((m.0[3], m.0[12]), (0.25, 0.75));
        assert_eq!(m, PresetMix::parse("3:1,12:3").unwrap());
    }

    #[test]
    fn strength_is_checked() {
        let look = Look::new(Paint::Style(e(0.0)));
        assert_eq!(look.with_strength(1.5), Err(BlendError::Strength(1.5)));
        assert!(look.with_strength(f32::NAN).is_err());
        assert!(look.with_strength(0.5).unwrap().needs_own_embedding());
        assert!(!Look::new(Paint::Presets(PresetMix::single(0).unwrap()))
            .with_strength(0.5)
            .unwrap()
            .needs_own_embedding());
    }
}
