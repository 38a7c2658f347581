//! Where tiles and their windows lie on the 1/4-resolution grid, and where a tile's output
//! goes in the picture.

use image::RgbImage;

/// The tile grid along one side: `[start, end)` ranges of quarter-resolution pixels.
pub(super) fn tiles(n: usize, tile: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n).step_by(tile).map(move |t| (t, (t + tile).min(n)))
}

/// The window read for the tile starting at `t0`: `tile + 2 * halo` wide wherever the side
/// allows, shifted inwards at the edges, so that every tile of a segment has one input shape.
pub(super) fn window(t0: usize, n: usize, tile: usize, halo: usize) -> (usize, usize) {
    let w = (tile + 2 * halo).min(n);
    let a0 = t0.saturating_sub(halo).min(n - w);
    (a0, a0 + w)
}

/// Where a tile's output lies: the window (`wh x ww`), the tile's own region in it (at `ry`,
/// `rx`, `rh x rw`) and where that region goes in the whole tensor (`oy`, `ox`).
pub(super) struct Region {
    pub(super) wh: usize,
    pub(super) ww: usize,
    pub(super) ry: usize,
    pub(super) rx: usize,
    pub(super) rh: usize,
    pub(super) rw: usize,
    pub(super) oy: usize,
    pub(super) ox: usize,
}

/// Writes a tile's own region of an NHWC u8 window into the picture, clipped to its size.
pub(super) fn write_picture(px: &[u8], r: &Region, out: &mut RgbImage) {
    let (w, h) = (out.width() as usize, out.height() as usize);
    let rows = r.rh.min(h.saturating_sub(r.oy));
    let cols = r.rw.min(w.saturating_sub(r.ox));
    let dst = out.as_mut();
    for y in 0..rows {
        let s = &px[((r.ry + y) * r.ww + r.rx) * 3..][..cols * 3];
        dst[((r.oy + y) * w + r.ox) * 3..][..cols * 3].copy_from_slice(s);
    }
}

#[cfg(test)]
mod tests {
    use image::RgbImage;

    use super::*;
    use crate::tensor::fill_nhwc_window;

    #[test]
    fn windows_have_one_size_and_cover_their_tile_and_halo() {
        for n in [1usize, 7, 40, 128, 131, 300, 1000] {
            for tile in [8usize, 32, 128] {
                for halo in [0usize, 1, 2] {
                    let want = (tile + 2 * halo).min(n);
                    let mut covered = 0;
                    for (t0, t1) in tiles(n, tile) {
                        let (a0, a1) = window(t0, n, tile, halo);
                        assert_eq!(a1 - a0, want, "n {n} tile {tile} halo {halo}");
                        assert!(a1 <= n);
                        assert!(a0 <= t0.saturating_sub(halo) && a1 >= (t1 + halo).min(n));
                        covered += t1 - t0;
                    }
                    assert_eq!(covered, n);
                }
            }
        }
    }

    #[test]
    fn a_window_of_the_padded_picture_matches_the_padded_tensor() {
        let img = RgbImage::from_fn(37, 22, |x, y| image::Rgb([x as u8, y as u8, (x * y) as u8]));
        let pw = 40usize;
        let mut full = vec![0u8; pw * 24 * 3];
        crate::tensor::fill_nhwc_padded(&img, &mut full, |v| v);
        let mut buf = vec![0u8; 16 * 20 * 3];
        fill_nhwc_window(&img, 8, 20, 16, 20, &mut buf, |v| v);
        for y in 0..16 {
            assert_eq!(
                &buf[y * 60..(y + 1) * 60],
                &full[((8 + y) * pw + 20) * 3..][..60]
            );
        }
    }
}
