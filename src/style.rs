//! Style embeddings: the 100-number points of the learned style space, and how a painting is
//! prepared before the style-prediction network sees it.

use image::imageops::{self, FilterType};
use image::RgbImage;

/// Length of a style embedding.
pub const EMBEDDING_DIM: usize = 100;
/// Side of the square the style-prediction network takes.
pub const STYLE_SIDE: u32 = 256;

/// A point in style space. The transformer's conditional-instance-norm γ/β are an affine
/// function of it, so blending embeddings blends styles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StyleEmbedding(pub [f32; EMBEDDING_DIM]);

impl StyleEmbedding {
    /// The embedding's numbers.
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    /// Builds one from a slice of exactly [`EMBEDDING_DIM`] numbers.
    pub fn from_slice(values: &[f32]) -> Option<Self> {
        <[f32; EMBEDDING_DIM]>::try_from(values)
            .ok()
            .map(StyleEmbedding)
    }
}

/// Why a set of blend weights was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BlendError {
    #[error("no styles to blend")]
    Empty,
    #[error("{styles} styles but {weights} weights; give one weight per style")]
    CountMismatch { styles: usize, weights: usize },
    #[error("weight {0} is not a finite number")]
    NotFinite(f64),
    #[error("weight {0} is negative; weights must be 0 or more")]
    Negative(f64),
    #[error("all weights are zero; at least one must be positive")]
    AllZero,
    #[error("strength {0} is outside 0..1")]
    Strength(f32),
}

/// Checked weights: each one's share of the whole is `w / scale / total`. Weights are taken
/// as f64 (f32 ones convert exactly) and divided by the largest before they are summed, so
/// any finite ones work: `1e308, 1e308` does not overflow to infinity, `1e-320, 1e-320` is
/// not zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightTotal {
    scale: f64,
    total: f64,
}

impl WeightTotal {
    /// The share of the whole that weight `w` (one of those checked) has.
    pub fn share(&self, w: f64) -> f64 {
        w / self.scale / self.total
    }
}

/// Checks weights (not empty, finite, non-negative, not all zero) and returns what
/// normalizes them (see [`WeightTotal`]).
pub fn check_weights<W: Copy + Into<f64>>(weights: &[W]) -> Result<WeightTotal, BlendError> {
    if weights.is_empty() {
        return Err(BlendError::Empty);
    }
    let as_f64 = weights.iter().map(|&w| w.into());
    if let Some(w) = as_f64.clone().find(|w: &f64| !w.is_finite()) {
        return Err(BlendError::NotFinite(w));
    }
    if let Some(w) = as_f64.clone().find(|w| *w < 0.0) {
        return Err(BlendError::Negative(w));
    }
    let scale = as_f64.clone().fold(0.0, f64::max);
    if scale <= 0.0 {
        return Err(BlendError::AllZero);
    }
    let total = as_f64.map(|w| w / scale).sum();
    Ok(WeightTotal { scale, total })
}

/// `Σ (wᵢ / total)·vᵢ` over arrays of one length, skipping zero weights (so one non-zero
/// weight gives its array exactly): the blend of embeddings and of preset mixes alike. The
/// weights must have passed [`check_weights`], which gave `total`. Allocates nothing.
pub fn weighted_sum<'a, const N: usize, W: Copy + Into<f64>>(
    items: impl IntoIterator<Item = &'a [f32; N]>,
    weights: &[W],
    total: WeightTotal,
) -> [f32; N] {
    let mut out = [0f32; N];
    for (item, &w) in items.into_iter().zip(weights) {
        let w: f64 = w.into();
        if w == 0.0 {
            continue;
        }
        let w = total.share(w) as f32;
        for (o, v) in out.iter_mut().zip(item.iter()) {
            *o += w * v;
        }
    }
    out
}

/// Checks weights and scales them to sum to 1.
pub fn normalize_weights<W: Copy + Into<f64>>(weights: &[W]) -> Result<Vec<f32>, BlendError> {
    let total = check_weights(weights)?;
    Ok(weights
        .iter()
        .map(|&w| total.share(w.into()) as f32)
        .collect())
}

impl StyleEmbedding {
    /// The convex combination `Σ wᵢ·styleᵢ` with the weights normalized to sum to 1. A single
    /// style (or a weight vector with one non-zero entry) gives that style exactly.
    pub fn blend<W: Copy + Into<f64>>(
        styles: &[StyleEmbedding],
        weights: &[W],
    ) -> Result<StyleEmbedding, BlendError> {
        if styles.len() != weights.len() {
            return Err(BlendError::CountMismatch {
                styles: styles.len(),
                weights: weights.len(),
            });
        }
        let total = check_weights(weights)?;
        Ok(StyleEmbedding(weighted_sum(
            styles.iter().map(|s| &s.0),
            weights,
            total,
        )))
    }

    /// `t·self + (1 − t)·other`, exact at the ends: `t = 1` gives `self`, `t = 0` gives `other`.
    pub fn mix(&self, other: &StyleEmbedding, t: f32) -> StyleEmbedding {
        if t >= 1.0 {
            return *self;
        }
        if t <= 0.0 {
            return *other;
        }
        let mut out = [0f32; EMBEDDING_DIM];
        for ((o, a), b) in out.iter_mut().zip(&self.0).zip(&other.0) {
            *o = t * a + (1.0 - t) * b;
        }
        StyleEmbedding(out)
    }

    /// Identity interpolation (Ghiasi et al. 2017): `strength` 1 is this style, 0 is the
    /// photo's own embedding, so the photo comes back close to itself.
    pub fn with_strength(
        &self,
        photo_own: &StyleEmbedding,
        strength: f32,
    ) -> Result<StyleEmbedding, BlendError> {
        if !(0.0..=1.0).contains(&strength) {
            return Err(BlendError::Strength(strength));
        }
        Ok(self.mix(photo_own, strength))
    }
}

/// Prepares a painting for the style-prediction network: center-crops it to a square and resizes
/// that to 256×256 (Lanczos). A 256×256 image is passed through untouched.
pub fn style_input(painting: &RgbImage) -> RgbImage {
    let (w, h) = painting.dimensions();
    if w == STYLE_SIDE && h == STYLE_SIDE {
        return painting.clone();
    }
    let side = w.min(h);
    let square = imageops::crop_imm(painting, (w - side) / 2, (h - side) / 2, side, side);
    imageops::resize(&*square, STYLE_SIDE, STYLE_SIDE, FilterType::Lanczos3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_input_crops_the_center_square() {
        // A 300x100 image whose middle third is white, sides black.
        let img = RgbImage::from_fn(300, 100, |x, _| {
            if (100..200).contains(&x) {
                image::Rgb([255, 255, 255])
            } else {
                image::Rgb([0, 0, 0])
            }
        });
        let out = style_input(&img);
        assert_eq!(out.dimensions(), (256, 256));
        assert!(
            out.pixels().all(|p| p[0] > 250),
            "the crop kept only the white center"
        );
    }

    fn e(v: f32) -> StyleEmbedding {
        StyleEmbedding([v; EMBEDDING_DIM])
    }

    #[test]
    fn weights_are_normalized() {
        assert_eq!(normalize_weights(&[3.0, 1.0]).unwrap(), vec![0.75, 0.25]);
        assert_eq!(normalize_weights(&[0.0, 2.0]).unwrap(), vec![0.0, 1.0]);
    }

    #[test]
    fn huge_weights_do_not_overflow() {
        assert_eq!(normalize_weights(&[3e38, 3e38]).unwrap(), vec![0.5, 0.5]);
        assert_eq!(
            normalize_weights(&[f32::MAX, f32::MAX, f32::MAX, f32::MAX]).unwrap(),
            vec![0.25; 4]
        );
        let tiny = normalize_weights(&[1e-45, 3e-45]).unwrap();
        assert!((tiny[0] - 0.25).abs() < 0.1 && (tiny[1] - 0.75).abs() < 0.1);
        // Any finite f64 weights: beyond f32's range, and below it.
        assert_eq!(normalize_weights(&[1e308, 1e308]).unwrap(), vec![0.5, 0.5]);
        assert_eq!(
            normalize_weights(&[f64::MAX, f64::MAX]).unwrap(),
            vec![0.5, 0.5]
        );
        assert_eq!(
            normalize_weights(&[1e-320, 3e-320]).unwrap(),
            vec![0.25, 0.75]
        );
        assert_eq!(normalize_weights(&[1e-46, 1e-46]).unwrap(), vec![0.5, 0.5]);
    }

    #[test]
    fn bad_weights_are_refused() {
        assert_eq!(normalize_weights::<f64>(&[]), Err(BlendError::Empty));
        assert_eq!(normalize_weights(&[0.0, 0.0]), Err(BlendError::AllZero));
        assert_eq!(
            normalize_weights(&[1.0, -0.5]),
            Err(BlendError::Negative(-0.5))
        );
        assert!(matches!(
            normalize_weights(&[f32::NAN]),
            Err(BlendError::NotFinite(_))
        ));
        assert!(matches!(
            normalize_weights(&[f32::INFINITY, 1.0]),
            Err(BlendError::NotFinite(_))
        ));
        assert_eq!(
            StyleEmbedding::blend(&[e(1.0), e(2.0)], &[1.0]),
            Err(BlendError::CountMismatch {
                styles: 2,
                weights: 1
            })
        );
    }

    #[test]
    fn blend_is_a_convex_combination() {
        let mut a = [0f32; EMBEDDING_DIM];
        a.iter_mut().enumerate().for_each(|(i, v)| *v = i as f32);
        let a = StyleEmbedding(a);
        let b = e(-3.0);
        let m = StyleEmbedding::blend(&[a, b], &[0.7, 0.3]).unwrap();
        for i in 0..EMBEDDING_DIM {
            let want = 0.7 * a.0[i] + 0.3 * b.0[i];
            assert!((m.0[i] - want).abs() < 1e-5);
            let (lo, hi) = (a.0[i].min(b.0[i]), a.0[i].max(b.0[i]));
            assert!(
                m.0[i] >= lo - 1e-5 && m.0[i] <= hi + 1e-5,
                "inside the segment"
            );
        }
        // Scaling all weights changes nothing.
        assert_eq!(m, StyleEmbedding::blend(&[a, b], &[7.0, 3.0]).unwrap());
    }

    #[test]
    fn one_style_blend_is_that_style_exactly() {
        let a = StyleEmbedding(std::array::from_fn(|i| (i as f32).sin() * 3.1));
        assert_eq!(StyleEmbedding::blend(&[a], &[0.4]).unwrap(), a);
        assert_eq!(StyleEmbedding::blend(&[e(9.0), a], &[0.0, 2.0]).unwrap(), a);
    }

    #[test]
    fn strength_ends_are_exact() {
        let a = StyleEmbedding(std::array::from_fn(|i| (i as f32).cos()));
        let own = e(0.3);
        assert_eq!(a.with_strength(&own, 1.0).unwrap(), a);
        assert_eq!(a.with_strength(&own, 0.0).unwrap(), own);
        assert_eq!(a.with_strength(&own, 1.5), Err(BlendError::Strength(1.5)));
        let half = a.with_strength(&own, 0.5).unwrap();
        assert!((half.0[0] - (0.5 * a.0[0] + 0.15)).abs() < 1e-6);
    }

    #[test]
    fn embedding_from_slice_checks_length() {
        assert!(StyleEmbedding::from_slice(&[0.0; 100]).is_some());
        assert!(StyleEmbedding::from_slice(&[0.0; 99]).is_none());
    }
}
