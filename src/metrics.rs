//! Measurements of a run: flicker, percentiles and medians, memory.

use std::time::Duration;

use image::RgbImage;

/// Temporal instability of a stylized sequence against its input: the mean over frames of
/// |(S_t − S_{t−1}) − (I_t − I_{t−1})|, per channel, in 8-bit units (a flow-free proxy of the
/// frame-difference loss of Xu et al. 2021). Feed consecutive frames only.
///
/// [`mean`](Self::mean) compares each pixel with the same position in the previous frame;
/// [`mean_compensated`](Self::mean_compensated) with where it was before the frame's global
/// motion (a pan), found as in the stabilizer. On a still scene the two agree; on a pan only
/// the compensated one stops counting the scene's own motion as flicker.
#[derive(Default)]
pub struct Flicker {
    prev: Option<(RgbImage, RgbImage)>,
    small: (Vec<u8>, Vec<u8>),
    sum: f64,
    sum_compensated: f64,
    pairs: u64,
}

impl Flicker {
    pub fn add(&mut self, input: &RgbImage, output: &RgbImage) {
        if let Some((pi, po)) = &mut self.prev {
            self.sum += frame_difference(input, output, pi, po, (0, 0));
            let shift = crate::pipeline::global_shift(pi, input, &mut self.small);
            self.sum_compensated += frame_difference(input, output, pi, po, shift);
            self.pairs += 1;
            pi.copy_from_slice(input.as_raw());
            po.copy_from_slice(output.as_raw());
        } else {
            self.prev = Some((input.clone(), output.clone()));
        }
    }

    /// The mean so far, same positions (NaN before two frames).
    pub fn mean(&self) -> f64 {
        self.sum / self.pairs as f64
    }

    /// The mean so far, after the global motion (NaN before two frames).
    pub fn mean_compensated(&self) -> f64 {
        self.sum_compensated / self.pairs as f64
    }
}

/// Mean over the pixels that have a source at `p − d` of |(S_t(p) − S_{t−1}(p − d)) −
/// (I_t(p) − I_{t−1}(p − d))|, per channel.
fn frame_difference(
    input: &RgbImage,
    output: &RgbImage,
    prev_input: &RgbImage,
    prev_output: &RgbImage,
    (dx, dy): (i32, i32),
) -> f64 {
    let (w, h) = (input.width() as i32, input.height() as i32);
    let (i, o, pi, po) = (
        input.as_raw(),
        output.as_raw(),
        prev_input.as_raw(),
        prev_output.as_raw(),
    );
    let (x0, x1) = (0.max(dx), w.min(w + dx));
    if x1 <= x0 {
        return 0.0;
    }
    let len = (x1 - x0) as usize * 3;
    let mut total = 0u64;
    let mut n = 0u64;
    for y in 0.max(dy)..h.min(h + dy) {
        let a = ((y * w + x0) * 3) as usize;
        let b = (((y - dy) * w + (x0 - dx)) * 3) as usize;
        // |(S_t − S_t−1) − (I_t − I_t−1)| in i16 lanes, summed per row in u32.
        let row: u32 = o[a..a + len]
            .iter()
            .zip(&po[b..b + len])
            .zip(i[a..a + len].iter().zip(&pi[b..b + len]))
            .map(|((s, ps), (x, px))| {
                let d = (i16::from(*s) - i16::from(*ps)) - (i16::from(*x) - i16::from(*px));
                u32::from(d.unsigned_abs())
            })
            .sum();
        total += u64::from(row);
        n += len as u64;
    }
    total as f64 / n.max(1) as f64
}

/// How much stabilisation smears what moves: the mean |stabilized − fresh| (8-bit units, over
/// channels) over the pixels whose input changed by more than [`Ghosting::CHANGE`] (largest
/// channel, same position) since the previous frame. A plain blend drags the previous output
/// over a moving object and scores high; a stabilizer that leaves moving pixels alone scores
/// near 0. Feed consecutive frames only.
#[derive(Default)]
pub struct Ghosting {
    prev_input: Option<RgbImage>,
    sum: f64,
    pixels: u64,
}

impl Ghosting {
    /// The input change (8-bit units) from which a pixel counts as moving.
    pub const CHANGE: u8 = 24;

    pub fn add(&mut self, input: &RgbImage, stabilized: &RgbImage, fresh: &RgbImage) {
        if let Some(prev) = &mut self.prev_input {
            if prev.dimensions() == input.dimensions() && fresh.dimensions() == input.dimensions() {
                for ((i, p), (s, f)) in input
                    .as_raw()
                    .chunks_exact(3)
                    .zip(prev.as_raw().chunks_exact(3))
                    .zip(
                        stabilized
                            .as_raw()
                            .chunks_exact(3)
                            .zip(fresh.as_raw().chunks_exact(3)),
                    )
                {
                    let change = (0..3).map(|c| i[c].abs_diff(p[c])).max().unwrap_or(0);
                    if change > Self::CHANGE {
                        let d: u32 = (0..3).map(|c| u32::from(s[c].abs_diff(f[c]))).sum();
                        self.sum += f64::from(d) / 3.0;
                        self.pixels += 1;
                    }
                }
                prev.copy_from_slice(input.as_raw());
                return;
            }
        }
        self.prev_input = Some(input.clone());
    }

    /// The mean so far (NaN before any moving pixel).
    pub fn mean(&self) -> f64 {
        self.sum / self.pixels as f64
    }
}

/// The `q` quantile (0..1) of `v` by nearest rank; sorts `v`. NaN when empty.
pub fn percentile(v: &mut [f32], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f32::total_cmp);
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    f64::from(v[i.min(v.len() - 1)])
}

/// The median of `v` (the upper one of an even count); sorts `v`. NaN when empty.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A memory figure of this process from /proc/self/status (Linux), in MB: `VmRSS` now,
/// `VmHWM` at its peak.
pub fn proc_status_mb(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// CPU time this process has used so far, user and system, on all its threads.
pub fn process_cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct it is given and reads nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flicker_is_zero_when_output_changes_like_input() {
        let mut f = Flicker::default();
        let a = RgbImage::from_pixel(4, 4, image::Rgb([10, 20, 30]));
        let b = RgbImage::from_pixel(4, 4, image::Rgb([15, 25, 35]));
        f.add(&a, &a);
        f.add(&b, &b);
        assert_eq!(f.mean(), 0.0);
        // output jumps by 40 while the input stands still
        let jump = RgbImage::from_pixel(4, 4, image::Rgb([55, 65, 75]));
        f.add(&b, &jump);
        assert_eq!(f.mean(), 20.0);
    }

    #[test]
    fn ghosting_counts_only_moving_pixels() {
        let mut g = Ghosting::default();
        let a = RgbImage::from_pixel(2, 1, image::Rgb([0, 0, 0]));
        let mut b = a.clone();
        b.put_pixel(0, 0, image::Rgb([100, 100, 100])); // moved
        let fresh = RgbImage::from_pixel(2, 1, image::Rgb([50, 50, 50]));
        let stab = RgbImage::from_pixel(2, 1, image::Rgb([80, 80, 80]));
        g.add(&a, &stab, &fresh);
        assert!(g.mean().is_nan());
        g.add(&b, &stab, &fresh);
        assert_eq!(g.mean(), 30.0);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&mut v, 0.5), 3.0);
        assert_eq!(percentile(&mut v, 1.0), 5.0);
        assert!(percentile(&mut [], 0.5).is_nan());
    }
}
