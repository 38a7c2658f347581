//! Colour handling: keeping a photo's colours under a stylized image's brightness.

use image::RgbImage;

/// Replaces `stylized`'s colour with `photo`'s, keeping `stylized`'s luminance: a YCbCr swap
/// (ITU-R BT.601, full range, as JPEG and Pillow use). Both images must be the same size.
pub fn preserve_color(stylized: &mut RgbImage, photo: &RgbImage) {
    assert_eq!(stylized.dimensions(), photo.dimensions(), "same size");
    for (s, p) in stylized.pixels_mut().zip(photo.pixels()) {
        let [r, g, b] = s.0.map(f32::from);
        let y = 0.299 * r + 0.587 * g + 0.114 * b;
        let [pr, pg, pb] = p.0.map(f32::from);
        let cb = -0.168_736 * pr - 0.331_264 * pg + 0.5 * pb;
        let cr = 0.5 * pr - 0.418_688 * pg - 0.081_312 * pb;
        let to_u8 = |v: f32| (v.clamp(0.0, 255.0) + 0.5) as u8;
        s.0 = [
            to_u8(y + 1.402 * cr),
            to_u8(y - 0.344_136 * cb - 0.714_136 * cr),
            to_u8(y + 1.772 * cb),
        ];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn luma(p: &Rgb<u8>) -> f32 {
        0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
    }

    #[test]
    fn keeps_stylized_luminance_and_photo_chroma() {
        // Moderate chroma under mid-range luminance: every result is inside the RGB gamut.
        let photo = RgbImage::from_fn(8, 8, |x, y| {
            Rgb([160, 110 + (x * 4) as u8, 100 + (y * 4) as u8])
        });
        let mut out = RgbImage::from_fn(8, 8, |x, _| Rgb([(x * 10) as u8 + 90; 3]));
        let before = out.clone();
        preserve_color(&mut out, &photo);
        for ((o, b), p) in out.pixels().zip(before.pixels()).zip(photo.pixels()) {
            assert!(
                (luma(o) - luma(b)).abs() <= 1.0,
                "luminance kept: {o:?} vs {b:?}"
            );
            // Chroma direction follows the photo: red-dominant photo stays red-dominant.
            assert!(o[0] >= o[1] && o[0] >= o[2], "{o:?} from photo {p:?}");
        }
    }

    #[test]
    fn grey_photo_gives_grey_output() {
        let photo = RgbImage::from_pixel(4, 4, Rgb([90, 90, 90]));
        let mut out = RgbImage::from_pixel(4, 4, Rgb([250, 10, 40]));
        preserve_color(&mut out, &photo);
        let p = out.get_pixel(0, 0);
        assert!(
            p[0].abs_diff(p[1]) <= 1 && p[1].abs_diff(p[2]) <= 1,
            "{p:?}"
        );
    }
}
