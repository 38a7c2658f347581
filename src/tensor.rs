//! Explicit pre- and post-processing between 8-bit RGB images and the networks' NHWC float
//! tensors. Values are `u8 / 255` in, `clamp(0, 1) * 255 + 0.5` truncated out, exactly as the
//! Python reference (`python-export/export.py`) does, so outputs match it bit for bit.

use image::RgbImage;
use ndarray::{s, ArrayView3, ArrayViewMut3};

/// The transformer downsamples twice by 2: its input sides must be multiples of this.
pub const STRIDE: u32 = 4;

/// `n` rounded up to a multiple of [`STRIDE`].
pub fn padded(n: u32) -> u32 {
    n.div_ceil(STRIDE) * STRIDE
}

/// Index into `0..n` of position `i` in `0..n + pad`, mirroring about the last pixel (numpy's
/// `reflect`: ..., n-3, n-2, n-1, n-2, n-3, ...). Needs `pad < n`.
#[inline]
fn reflect(i: u32, n: u32) -> u32 {
    if i < n {
        i
    } else {
        2 * (n - 1) - i
    }
}

/// Writes `img` into `out`, a `[1, padded(h), padded(w), 3]` tensor of any element type,
/// reflect-padding the bottom and right edges and converting each byte with `convert`.
/// Returns the padded `(height, width)`.
///
/// # Panics
/// If `out` does not hold exactly `padded(h) * padded(w) * 3` elements.
pub fn fill_nhwc_padded<T: Copy>(
    img: &RgbImage,
    out: &mut [T],
    convert: impl Fn(u8) -> T,
) -> (usize, usize) {
    let (w, h) = img.dimensions();
    let (pw, ph) = (padded(w) as usize, padded(h) as usize);
    fill_nhwc_window(img, 0, 0, ph, pw, out, convert);
    (ph, pw)
}

/// Writes the `h x w` window at (`y0`, `x0`) of `img` reflect-padded to a multiple of 4 (as
/// [`fill_nhwc_padded`] pads it) into `out`, NHWC, converting each byte with `convert`. The
/// window must lie within the padded picture (tiled pictures read their tiles through it).
///
/// # Panics
/// If `out` does not hold exactly `h * w * 3` elements.
pub fn fill_nhwc_window<T: Copy>(
    img: &RgbImage,
    y0: usize,
    x0: usize,
    h: usize,
    w: usize,
    out: &mut [T],
    convert: impl Fn(u8) -> T,
) {
    assert_eq!(out.len(), h * w * 3, "tensor size");
    let (iw, ih) = img.dimensions();
    let src = img.as_raw();
    let row_bytes = iw as usize * 3;
    for (y, row) in out.chunks_exact_mut(w * 3).enumerate() {
        let sy = reflect((y0 + y) as u32, ih) as usize;
        let src_row = &src[sy * row_bytes..(sy + 1) * row_bytes];
        let inside = (iw as usize).saturating_sub(x0).min(w);
        let (body, tail) = row.split_at_mut(inside * 3);
        for (d, s) in body.iter_mut().zip(&src_row[x0 * 3..]) {
            *d = convert(*s);
        }
        for (x, px) in tail.chunks_exact_mut(3).enumerate() {
            let sx = reflect((x0 + inside + x) as u32, iw) as usize;
            for c in 0..3 {
                px[c] = convert(src_row[sx * 3 + c]);
            }
        }
    }
}

/// Copies the top-left `out.width() x out.height()` of an 8-bit NHWC tensor whose rows are
/// `tensor_width` pixels wide into `out` (the output of a network that rounds in its graph).
pub fn nhwc_u8_to_image(tensor: &[u8], tensor_width: usize, out: &mut RgbImage) {
    let w = out.width() as usize;
    for (dst_row, src_row) in out
        .as_mut()
        .chunks_exact_mut(w * 3)
        .zip(tensor.chunks_exact(tensor_width * 3))
    {
        dst_row.copy_from_slice(&src_row[..w * 3]);
    }
}

/// Writes the top-left `out.width() x out.height()` of an NHWC tensor whose rows are
/// `tensor_width` pixels wide into `out`, quantized to 8 bits.
pub fn nhwc_to_image(tensor: &[f32], tensor_width: usize, out: &mut RgbImage) {
    let w = out.width() as usize;
    let row_in = tensor_width * 3;
    for (dst_row, src_row) in out
        .as_mut()
        .chunks_exact_mut(w * 3)
        .zip(tensor.chunks_exact(row_in))
    {
        for (d, s) in dst_row.iter_mut().zip(&src_row[..w * 3]) {
            *d = quantize(*s);
        }
    }
}

/// Fills `buf` with `img` as a `[1, 3, padded(h), padded(w)]` (planar) tensor, reflect-padding
/// the bottom and right edges like [`fill_nhwc_padded`]. The layouts are spelled out as
/// ndarray views: the picture as `[h, w, 3]`, the tensor as `[3, ph, pw]`.
pub fn image_to_nchw_padded(img: &RgbImage, buf: &mut Vec<f32>) -> (usize, usize) {
    let (w, h) = img.dimensions();
    let (pw, ph) = (padded(w) as usize, padded(h) as usize);
    buf.resize(3 * pw * ph, 0.0);
    let src = ArrayView3::from_shape((h as usize, w as usize, 3), img.as_raw())
        .expect("an RgbImage is h x w x 3 bytes");
    let mut planes =
        ArrayViewMut3::from_shape((3, ph, pw), &mut buf[..]).expect("sized just above");
    for ((c, y, x), v) in planes.indexed_iter_mut() {
        let (sy, sx) = (reflect(y as u32, h) as usize, reflect(x as u32, w) as usize);
        *v = f32::from(src[[sy, sx, c]]) / 255.0;
    }
    (ph, pw)
}

/// Writes the top-left `out.width() x out.height()` of a planar `[1, 3, h, tensor_width]`
/// tensor into `out`, quantized to 8 bits: the planes are viewed as `[h, w, 3]`
/// (`permuted_axes`), cropped, and read in the picture's own order.
pub fn nchw_to_image(
    tensor: &[f32],
    tensor_height: usize,
    tensor_width: usize,
    out: &mut RgbImage,
) {
    let (w, h) = (out.width() as usize, out.height() as usize);
    let planes = ArrayView3::from_shape((3, tensor_height, tensor_width), tensor)
        .expect("a [1, 3, h, w] tensor");
    let hwc = planes.permuted_axes([1, 2, 0]);
    for (d, s) in out
        .as_mut()
        .iter_mut()
        .zip(hwc.slice(s![..h, ..w, ..]).iter())
    {
        *d = quantize(*s);
    }
}

/// `[0, 1]` float to 8 bits, rounding half up (the reference's `clip * 255 + 0.5`, truncated).
#[inline]
pub fn quantize(v: f32) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `img` as a float NHWC tensor in 0..1, as the int8 model takes it.
    fn image_to_nhwc_padded(img: &RgbImage, buf: &mut Vec<f32>) -> (usize, usize) {
        buf.resize(
            (padded(img.width()) * padded(img.height()) * 3) as usize,
            0.0,
        );
        fill_nhwc_padded(img, buf, |v| f32::from(v) / 255.0)
    }

    #[test]
    fn padding_rounds_up_to_the_stride() {
        assert_eq!(padded(384), 384);
        assert_eq!(padded(333), 336);
        assert_eq!(padded(250), 252);
        assert_eq!(padded(17), 20);
    }

    #[test]
    fn reflect_matches_numpy() {
        // np.pad(np.arange(5), (0, 3), mode="reflect") == [0 1 2 3 4 3 2 1]
        let got: Vec<u32> = (0..8).map(|i| reflect(i, 5)).collect();
        assert_eq!(got, vec![0, 1, 2, 3, 4, 3, 2, 1]);
    }

    #[test]
    fn pack_pads_by_reflection_and_unpack_crops_back() {
        let img = RgbImage::from_fn(5, 6, |x, y| image::Rgb([x as u8 * 10, y as u8 * 10, 7]));
        let mut buf = Vec::new();
        let (h, w) = image_to_nhwc_padded(&img, &mut buf);
        assert_eq!((h, w), (8, 8));
        assert_eq!(buf.len(), 8 * 8 * 3);
        let at = |y: usize, x: usize, c: usize| buf[(y * w + x) * 3 + c];
        assert_eq!(at(0, 5, 0), 30.0 / 255.0); // column 5 mirrors column 3
        assert_eq!(at(6, 0, 1), 40.0 / 255.0); // row 6 mirrors row 4
        assert_eq!(at(7, 7, 0), 10.0 / 255.0); // corner mirrors (5, 1)
        let mut back = RgbImage::new(5, 6);
        nhwc_to_image(&buf, w, &mut back);
        assert_eq!(back, img);
    }

    #[test]
    fn byte_tensors_pad_and_crop_like_float_ones() {
        let img = RgbImage::from_fn(6, 5, |x, y| image::Rgb([x as u8 * 20, y as u8 * 30, 9]));
        let (mut floats, mut bytes) = (Vec::new(), vec![0u8; 8 * 8 * 3]);
        let dims = image_to_nhwc_padded(&img, &mut floats);
        assert_eq!(fill_nhwc_padded(&img, &mut bytes, |v| v), dims);
        for (b, f) in bytes.iter().zip(&floats) {
            assert_eq!(f32::from(*b) / 255.0, *f);
        }
        let mut back = RgbImage::new(6, 5);
        nhwc_u8_to_image(&bytes, dims.1, &mut back);
        assert_eq!(back, img);
    }

    #[test]
    fn planar_pack_and_unpack_agree_with_interleaved() {
        let img = RgbImage::from_fn(7, 5, |x, y| {
            image::Rgb([x as u8 * 9, y as u8 * 11, (x * y) as u8])
        });
        let (mut nhwc, mut nchw) = (Vec::new(), Vec::new());
        let (h, w) = image_to_nhwc_padded(&img, &mut nhwc);
        assert_eq!(image_to_nchw_padded(&img, &mut nchw), (h, w));
        for y in 0..h {
            for x in 0..w {
                for c in 0..3 {
                    assert_eq!(nchw[c * h * w + y * w + x], nhwc[(y * w + x) * 3 + c]);
                }
            }
        }
        let mut back = RgbImage::new(7, 5);
        nchw_to_image(&nchw, h, w, &mut back);
        assert_eq!(back, img);
    }

    #[test]
    fn quantize_rounds_half_up_and_clips() {
        assert_eq!(quantize(-0.5), 0);
        assert_eq!(quantize(2.0), 255);
        assert_eq!(quantize(0.5), 128);
        assert_eq!(quantize(1.0 / 255.0), 1);
    }
}
