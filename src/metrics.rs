//! Measurements of a run: flicker, percentiles and medians, memory.

use image::RgbImage;

/// Temporal instability of a stylized sequence against its input: the mean over frames of
/// |(S_t − S_{t−1}) − (I_t − I_{t−1})|, per channel, in 8-bit units (a flow-free proxy of the
/// frame-difference loss of Xu et al. 2021). Feed consecutive frames only.
#[derive(Default)]
pub struct Flicker {
    prev: Option<(RgbImage, RgbImage)>,
    sum: f64,
    pairs: u64,
}

impl Flicker {
    pub fn add(&mut self, input: &RgbImage, output: &RgbImage) {
        if let Some((pi, po)) = &mut self.prev {
            let mut total = 0u64;
            for (((i, o), pi), po) in input
                .as_raw()
                .iter()
                .zip(output.as_raw())
                .zip(pi.as_raw())
                .zip(po.as_raw())
            {
                let ds = i32::from(*o) - i32::from(*po);
                let di = i32::from(*i) - i32::from(*pi);
                total += (ds - di).unsigned_abs() as u64;
            }
            self.sum += total as f64 / input.as_raw().len() as f64;
            self.pairs += 1;
            pi.copy_from_slice(input.as_raw());
            po.copy_from_slice(output.as_raw());
        } else {
            self.prev = Some((input.clone(), output.clone()));
        }
    }

    /// The mean so far (NaN before two frames).
    pub fn mean(&self) -> f64 {
        self.sum / self.pairs as f64
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
    fn percentiles_by_nearest_rank() {
        let mut v = vec![5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&mut v, 0.5), 3.0);
        assert_eq!(percentile(&mut v, 1.0), 5.0);
        assert!(percentile(&mut [], 0.5).is_nan());
    }
}
