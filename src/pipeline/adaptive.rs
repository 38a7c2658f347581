//! Adaptive resolution: keep a frame rate by running the network smaller. The network's time
//! grows with the pixels, so at 0.75 of each side it does about 56% of the work and at 0.5 a
//! quarter; the result is scaled back up to the frame's size.

use image::RgbImage;

/// The scales tried, largest first.
pub const STEPS: [f32; 3] = [1.0, 0.75, 0.5];
/// Frames a verdict must hold before the scale changes, and frames to wait after a change
/// before judging again: hysteresis, so the size does not oscillate.
const HOLD: u32 = 4;
const SETTLE: u32 = 8;
const WARM_UP: u32 = 3;

/// Picks the scale from measured inference times against a target frame time.
#[derive(Debug, Clone)]
pub struct AdaptiveSize {
    target_ms: f32,
    step: usize,
    /// Exponential average of the inference time at the current step.
    ema_ms: Option<f32>,
    /// Consecutive frames that asked for a smaller (negative) or larger (positive) step.
    votes: i32,
    settle: u32,
}

impl AdaptiveSize {
    /// For a target of `fps` frames a second.
    pub fn new(fps: f32) -> Self {
        AdaptiveSize {
            target_ms: 1000.0 / fps.max(0.1),
            step: 0,
            ema_ms: None,
            votes: 0,
            // The first frames pay for warm-up (allocation, caches): not judged.
            settle: WARM_UP,
        }
    }

    /// The scale to run the next frame at.
    pub fn scale(&self) -> f32 {
        STEPS[self.step]
    }

    /// Takes the inference time of a frame run at [`scale`](Self::scale).
    pub fn observe(&mut self, infer_ms: f32) {
        let ema = match self.ema_ms {
            Some(e) => 0.7 * e + 0.3 * infer_ms,
            None => infer_ms,
        };
        self.ema_ms = Some(ema);
        if self.settle > 0 {
            self.settle -= 1;
            return;
        }
        let too_slow = ema > self.target_ms && self.step + 1 < STEPS.len();
        // The next larger step costs about (larger / smaller)² as much: go up only with room.
        let room_up = self.step > 0 && {
            let ratio = STEPS[self.step - 1] / STEPS[self.step];
            ema * ratio * ratio < 0.8 * self.target_ms
        };
        self.votes = match (too_slow, room_up) {
            (true, _) => self.votes.min(0) - 1,
            (false, true) => self.votes.max(0) + 1,
            _ => 0,
        };
        if self.votes <= -(HOLD as i32) {
            self.change(self.step + 1);
        } else if self.votes >= HOLD as i32 {
            self.change(self.step - 1);
        }
    }

    fn change(&mut self, step: usize) {
        self.step = step;
        self.votes = 0;
        self.ema_ms = None;
        self.settle = SETTLE;
    }
}

/// The size `w`×`h` scaled by `s`, at least 16 px a side.
pub fn scaled(w: u32, h: u32, s: f32) -> (u32, u32) {
    let f = |v: u32| ((v as f32 * s).round() as u32).clamp(16.min(v), v);
    (f(w), f(h))
}

/// Bilinear resampling of `src` into `dst` (whose size is kept): no allocation, for the
/// per-frame path.
pub fn resize_into(src: &RgbImage, dst: &mut RgbImage) {
    let (sw, sh) = (src.width() as usize, src.height() as usize);
    let (dw, dh) = (dst.width() as usize, dst.height() as usize);
    if (sw, sh) == (dw, dh) {
        dst.copy_from_slice(src.as_raw());
        return;
    }
    let s = src.as_raw();
    let d = dst.as_mut();
    let fx = sw as f32 / dw as f32;
    let fy = sh as f32 / dh as f32;
    for y in 0..dh {
        let sy = ((y as f32 + 0.5) * fy - 0.5).clamp(0.0, (sh - 1) as f32);
        let (y0, wy) = (sy as usize, sy.fract());
        let y1 = (y0 + 1).min(sh - 1);
        for x in 0..dw {
            let sx = ((x as f32 + 0.5) * fx - 0.5).clamp(0.0, (sw - 1) as f32);
            let (x0, wx) = (sx as usize, sx.fract());
            let x1 = (x0 + 1).min(sw - 1);
            for c in 0..3 {
                let p = |xx: usize, yy: usize| f32::from(s[(yy * sw + xx) * 3 + c]);
                let top = p(x0, y0) * (1.0 - wx) + p(x1, y0) * wx;
                let bottom = p(x0, y1) * (1.0 - wx) + p(x1, y1) * wx;
                d[(y * dw + x) * 3 + c] = (top * (1.0 - wy) + bottom * wy + 0.5) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_down_when_slow_and_up_when_there_is_room_without_oscillating() {
        let mut a = AdaptiveSize::new(20.0); // 50 ms a frame
        for _ in 0..WARM_UP + HOLD {
            a.observe(100.0);
        }
        assert_eq!(a.scale(), 0.75);
        // While settling, nothing changes whatever it sees.
        for _ in 0..SETTLE {
            a.observe(100.0);
        }
        assert_eq!(a.scale(), 0.75);
        for _ in 0..HOLD {
            a.observe(70.0);
        }
        assert_eq!(a.scale(), 0.5);
        // At 0.5 it takes 30 ms: going back to 0.75 would cost ~53 ms > 0.8 x 50: stay.
        for _ in 0..50 {
            a.observe(30.0);
        }
        assert_eq!(a.scale(), 0.5);
        // Much faster now (a lighter scene): up again.
        for _ in 0..SETTLE + HOLD + 2 {
            a.observe(10.0);
        }
        assert_eq!(a.scale(), 0.75);
    }

    #[test]
    fn resize_keeps_flat_colours_and_sizes() {
        let src = RgbImage::from_pixel(40, 30, image::Rgb([10, 200, 90]));
        let mut dst = RgbImage::new(17, 23);
        resize_into(&src, &mut dst);
        assert!(dst.pixels().all(|p| p.0 == [10, 200, 90]));
        assert_eq!(scaled(640, 480, 0.75), (480, 360));
        assert_eq!(scaled(20, 20, 0.5), (16, 16));
    }
}
