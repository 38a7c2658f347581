//! Temporal stabilisation of stylized frames. Frame-by-frame stylization flickers: the same
//! scene comes out slightly differently each frame. Blending each output with the previous one
//! cuts that, but where something moves the previous output lags behind and leaves a ghost.
//!
//! [`StabilizeMode::Motion`] (the default) blends only where the input itself stayed the same:
//! it first finds the frame's global motion (a pan, a shaking camera) as an integer shift, so
//! that each pixel is compared with where it was in the previous frame, then weighs the blend
//! per pixel by how little the input changed there. Static and panning regions stop flickering;
//! a moving object has a large input difference, gets no blend, and stays sharp.
//! [`StabilizeMode::Blend`] is the plain blend everywhere.

use image::RgbImage;

/// How outputs are blended with the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StabilizeMode {
    /// `out = (1 − α)·out + α·previous` everywhere.
    Blend,
    /// Motion-compensated, and only where the input did not change (see the module docs).
    Motion,
}

impl std::str::FromStr for StabilizeMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "blend" => Ok(StabilizeMode::Blend),
            "motion" => Ok(StabilizeMode::Motion),
            _ => Err(format!("unknown stabilizer '{s}'; use motion or blend")),
        }
    }
}

/// An input difference (largest channel, 8-bit units) from which a pixel is not blended at all;
/// below it the blend weight falls linearly. Sensor noise is a few units.
const CHANGE: f32 = 48.0;
/// Downscale factor of the coarse motion search, and its range in coarse pixels (±16 px).
const COARSE: u32 = 4;
const COARSE_RANGE: i32 = 4;
/// Range of the full-resolution refinement around the coarse shift.
const FINE_RANGE: i32 = 2;

/// The state a stabilizer keeps from frame to frame; buffers are allocated once per size.
#[derive(Default)]
pub struct Stabilizer {
    prev_input: Option<RgbImage>,
    prev_output: Option<RgbImage>,
    small: (Vec<u8>, Vec<u8>),
}

impl Stabilizer {
    /// Stabilizes `out` (the fresh stylization of `input`) against the previous frame.
    pub fn apply(&mut self, mode: StabilizeMode, alpha: f32, input: &RgbImage, out: &mut RgbImage) {
        let (Some(pi), Some(po)) = (&mut self.prev_input, &mut self.prev_output) else {
            self.prev_input = Some(input.clone());
            self.prev_output = Some(out.clone());
            return;
        };
        if pi.dimensions() != input.dimensions() {
            *pi = input.clone();
            *po = out.clone();
            return;
        }
        match mode {
            StabilizeMode::Blend => {
                for (o, p) in out.as_mut().iter_mut().zip(po.as_raw()) {
                    *o = ((1.0 - alpha) * f32::from(*o) + alpha * f32::from(*p) + 0.5) as u8;
                }
            }
            StabilizeMode::Motion => {
                let (dx, dy) = global_shift(pi, input, &mut self.small);
                blend_where_still(input, pi, po, out, alpha, dx, dy);
            }
        }
        pi.copy_from_slice(input.as_raw());
        po.copy_from_slice(out.as_raw());
    }
}

/// Mean of the three channels, for motion search.
fn luma_small(img: &RgbImage, f: u32, out: &mut Vec<u8>) -> (usize, usize) {
    let (w, h) = ((img.width() / f) as usize, (img.height() / f) as usize);
    out.resize(w * h, 0);
    let (f, row) = (f as usize, img.width() as usize * 3);
    for (y, dst) in out.chunks_exact_mut(w.max(1)).enumerate().take(h) {
        let src = &img.as_raw()[y * f * row..][..row];
        for (d, p) in dst.iter_mut().zip(src.chunks_exact(3 * f)) {
            *d = ((u16::from(p[0]) + u16::from(p[1]) + u16::from(p[2])) / 3) as u8;
        }
    }
    (w, h)
}

/// Sum of |a − b| over two rows of equal length.
fn row_sad(a: &[u8], b: &[u8]) -> u64 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_add_epi64, _mm_cvtsi128_si64, _mm_loadu_si128, _mm_sad_epu8,
            _mm_setzero_si128, _mm_unpackhi_epi64,
        };
        let chunks = a.len() / 16;
        // SAFETY: SSE2 is part of x86-64; each load reads 16 bytes inside `a` or `b`.
        let head = unsafe {
            let mut acc = _mm_setzero_si128();
            for k in 0..chunks {
                let x = _mm_loadu_si128(a.as_ptr().add(16 * k).cast::<__m128i>());
                let y = _mm_loadu_si128(b.as_ptr().add(16 * k).cast::<__m128i>());
                acc = _mm_add_epi64(acc, _mm_sad_epu8(x, y));
            }
            (_mm_cvtsi128_si64(acc) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc))) as u64
        };
        head + sad_scalar(&a[16 * chunks..], &b[16 * chunks..])
    }
    #[cfg(not(target_arch = "x86_64"))]
    sad_scalar(a, b)
}

fn sad_scalar(a: &[u8], b: &[u8]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(p, q)| u64::from(p.abs_diff(*q)))
        .sum()
}

/// The integer shift `d` minimizing the mean |now(p) − before(p − d)|: where the scene moved
/// (up to ±18 px). `small` holds two scratch buffers, reused from call to call.
pub fn global_shift(
    before: &RgbImage,
    now: &RgbImage,
    small: &mut (Vec<u8>, Vec<u8>),
) -> (i32, i32) {
    let (w, h) = luma_small(before, COARSE, &mut small.0);
    luma_small(now, COARSE, &mut small.1);
    let (a, b) = (&small.0, &small.1);
    let r = COARSE_RANGE;
    let mut best: (u64, i32, i32) = (u64::MAX, 0, 0);
    if w as i32 > 4 * r && h as i32 > 4 * r {
        let (ru, span) = (r as usize, w - 2 * r as usize);
        for dy in -r..=r {
            for dx in -r..=r {
                let mut sum = 0u64;
                for y in r..h as i32 - r {
                    let row_b = &b[y as usize * w + ru..][..span];
                    let row_a = &a
                        [((y - dy) as usize * w + ru).wrapping_add_signed(-dx as isize)..][..span];
                    sum += row_sad(row_b, row_a);
                }
                // Ties keep the smaller shift: a still scene stays at (0, 0).
                if sum < best.0
                    || (sum == best.0 && dx.abs() + dy.abs() < best.1.abs() + best.2.abs())
                {
                    best = (sum, dx, dy);
                }
            }
        }
    }
    // Refine at full resolution on every COARSE-th row.
    let (cx, cy) = (best.1 * COARSE as i32, best.2 * COARSE as i32);
    let (fw, fh) = (now.width() as i32, now.height() as i32);
    let margin = COARSE_RANGE * COARSE as i32 + FINE_RANGE;
    let mut fine = (u64::MAX, cx, cy);
    if fw > 2 * margin && fh > 2 * margin {
        let (p, q) = (now.as_raw(), before.as_raw());
        let span = (fw - 2 * margin) as usize * 3;
        for dy in cy - FINE_RANGE..=cy + FINE_RANGE {
            for dx in cx - FINE_RANGE..=cx + FINE_RANGE {
                let mut sum = 0u64;
                for y in (margin..fh - margin).step_by(COARSE as usize) {
                    let row_p = &p[((y * fw + margin) * 3) as usize..][..span];
                    let row_q = &q[(((y - dy) * fw + margin - dx) * 3) as usize..][..span];
                    sum += row_sad(row_p, row_q);
                }
                if sum < fine.0
                    || (sum == fine.0 && dx.abs() + dy.abs() < fine.1.abs() + fine.2.abs())
                {
                    fine = (sum, dx, dy);
                }
            }
        }
    }
    (fine.1, fine.2)
}

/// `out(p) ← (1 − w)·out(p) + w·prev_out(p − d)`, with `w = α·(1 − change/CHANGE)⁺` and
/// `change` the largest channel of |input(p) − prev_input(p − d)|; pixels whose source lies
/// outside the previous frame are left as they are.
fn blend_where_still(
    input: &RgbImage,
    prev_input: &RgbImage,
    prev_output: &RgbImage,
    out: &mut RgbImage,
    alpha: f32,
    dx: i32,
    dy: i32,
) {
    let (w, h) = (input.width() as i32, input.height() as i32);
    let (inp, pin, pout) = (input.as_raw(), prev_input.as_raw(), prev_output.as_raw());
    let o = out.as_mut();
    for y in 0..h {
        let sy = y - dy;
        if sy < 0 || sy >= h {
            continue;
        }
        for x in 0..w {
            let sx = x - dx;
            if sx < 0 || sx >= w {
                continue;
            }
            let i = ((y * w + x) * 3) as usize;
            let j = ((sy * w + sx) * 3) as usize;
            let change = (0..3)
                .map(|c| (i32::from(inp[i + c]) - i32::from(pin[j + c])).unsigned_abs())
                .max()
                .unwrap_or(0) as f32;
            let wgt = alpha * (1.0 - change / CHANGE).max(0.0);
            if wgt <= 0.0 {
                continue;
            }
            for c in 0..3 {
                let v = (1.0 - wgt) * f32::from(o[i + c]) + wgt * f32::from(pout[j + c]);
                o[i + c] = (v + 0.5) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    fn textured(w: u32, h: u32, shift: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let x = x + shift;
            Rgb([
                ((x * 7 + y * 3) % 251) as u8,
                ((x * x / 5 + y) % 253) as u8,
                ((y * 11 + x / 3) % 255) as u8,
            ])
        })
    }

    #[test]
    fn row_sad_is_the_sum_of_absolute_differences() {
        let a: Vec<u8> = (0..100u32).map(|i| (i * 37 % 256) as u8).collect();
        let b: Vec<u8> = (0..100u32).map(|i| (i * 91 % 256) as u8).collect();
        for len in [0, 1, 15, 16, 17, 33, 100] {
            assert_eq!(
                row_sad(&a[..len], &b[..len]),
                sad_scalar(&a[..len], &b[..len])
            );
        }
        assert_eq!(row_sad(&[0; 40], &[255; 40]), 40 * 255);
    }

    #[test]
    fn blend_mode_blends_with_the_previous_output() {
        let mut s = Stabilizer::default();
        let input = RgbImage::new(2, 2);
        let mut a = RgbImage::from_pixel(2, 2, Rgb([100, 100, 100]));
        s.apply(StabilizeMode::Blend, 0.5, &input, &mut a);
        assert_eq!(a.get_pixel(0, 0)[0], 100);
        let mut b = RgbImage::from_pixel(2, 2, Rgb([200, 200, 200]));
        s.apply(StabilizeMode::Blend, 0.5, &input, &mut b);
        assert_eq!(b.get_pixel(0, 0)[0], 150);
    }

    #[test]
    fn the_global_shift_of_a_pan_is_found() {
        let before = textured(160, 120, 0);
        let mut small = Default::default();
        assert_eq!(global_shift(&before, &before, &mut small), (0, 0));
        // The scene moved 3 px to the left: content now at p was at p + 3.
        let now = textured(160, 120, 3);
        assert_eq!(global_shift(&before, &now, &mut small), (-3, 0));
    }

    #[test]
    fn motion_mode_blends_the_still_and_leaves_the_moving_alone() {
        let mut s = Stabilizer::default();
        let still = RgbImage::from_pixel(64, 64, Rgb([90, 90, 90]));
        let mut first = RgbImage::from_pixel(64, 64, Rgb([100, 100, 100]));
        s.apply(StabilizeMode::Motion, 0.5, &still, &mut first);
        // Same input except a bright square: the output flickers to 200 everywhere.
        let mut moved = still.clone();
        for y in 10..20 {
            for x in 10..20 {
                moved.put_pixel(x, y, Rgb([250, 250, 250]));
            }
        }
        let mut out = RgbImage::from_pixel(64, 64, Rgb([200, 200, 200]));
        s.apply(StabilizeMode::Motion, 0.5, &moved, &mut out);
        assert_eq!(out.get_pixel(40, 40)[0], 150, "still: blended");
        assert_eq!(out.get_pixel(15, 15)[0], 200, "changed: the fresh output");
    }
}
