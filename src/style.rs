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

    #[test]
    fn embedding_from_slice_checks_length() {
        assert!(StyleEmbedding::from_slice(&[0.0; 100]).is_some());
        assert!(StyleEmbedding::from_slice(&[0.0; 99]).is_none());
    }
}
