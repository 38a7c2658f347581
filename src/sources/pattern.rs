//! A synthetic, deterministic test pattern: for machines without a camera, and for tests.

use image::{Rgb, RgbImage};

use super::{FrameSource, SourceError};

/// What the synthetic pattern shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PatternKind {
    /// Shapes moving over a gradient.
    Moving,
    /// A fixed scene with a little sensor-like noise in every frame.
    Still,
    /// A slow pan across a fixed scene.
    Pan,
    /// The still scene (with its noise) and a square moving across it.
    Object,
}

/// A synthetic, deterministic test pattern at 30 fps.
pub struct Pattern {
    kind: PatternKind,
    width: u32,
    height: u32,
    t: u32,
    rng: u32,
    scene: RgbImage,
}

impl Pattern {
    pub fn new(kind: PatternKind, width: u32, height: u32) -> Self {
        // The scene is wider than the frame so that it can pan.
        let sw = width + width / 2;
        let scene = RgbImage::from_fn(sw, height, |x, y| {
            let fx = x as f32 / sw as f32;
            let fy = y as f32 / height as f32;
            let stripes = (((x / 24) + (y / 24)) % 2) as f32 * 40.0;
            let ring = {
                let (dx, dy) = (fx - 0.4, fy - 0.5);
                if (dx * dx + dy * dy).sqrt() < 0.18 {
                    90.0
                } else {
                    0.0
                }
            };
            Rgb([
                (60.0 + 150.0 * fx + ring) as u8,
                (40.0 + 120.0 * fy + stripes) as u8,
                (200.0 - 120.0 * fx + stripes - ring / 2.0).clamp(0.0, 255.0) as u8,
            ])
        });
        Pattern {
            kind,
            width,
            height,
            t: 0,
            rng: 0x9e37_79b9,
            scene,
        }
    }

    fn noise(&mut self) -> i16 {
        // xorshift32: deterministic, no dependency
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 17;
        self.rng ^= self.rng << 5;
        (self.rng % 7) as i16 - 3
    }
}

impl FrameSource for Pattern {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn fps(&self) -> Option<f64> {
        Some(30.0)
    }

    fn next_frame(&mut self, frame: &mut RgbImage) -> Result<bool, SourceError> {
        let t = self.t;
        self.t += 1;
        let (w, h) = (self.width, self.height);
        let offset = match self.kind {
            PatternKind::Pan => (t / 2) % (self.scene.width() - w),
            _ => 0,
        };
        for y in 0..h {
            for x in 0..w {
                frame.put_pixel(x, y, *self.scene.get_pixel(x + offset, y));
            }
        }
        if matches!(self.kind, PatternKind::Still | PatternKind::Object) {
            for v in frame.as_mut().iter_mut() {
                *v = (i16::from(*v) + self.noise()).clamp(0, 255) as u8;
            }
        }
        match self.kind {
            PatternKind::Still | PatternKind::Pan => {}
            PatternKind::Object => {
                // a square crossing the frame, back and forth, 4 px a frame
                let side = w.min(h) / 5;
                let span = w - side;
                let pos = (t * 4) % (2 * span);
                let x0 = if pos < span { pos } else { 2 * span - pos };
                let y0 = h / 2 - side / 2;
                for y in y0..y0 + side {
                    for x in x0..x0 + side {
                        let stripe = if (x - x0) / 8 % 2 == 0 { 240 } else { 40 };
                        frame.put_pixel(x, y, Rgb([stripe, 200, 40]));
                    }
                }
            }
            PatternKind::Moving => {
                // a bright square orbiting, and a bar sweeping down
                let cx = (w / 2) as f32 + (w as f32 / 3.0) * (t as f32 * 0.05).cos();
                let cy = (h / 2) as f32 + (h as f32 / 3.0) * (t as f32 * 0.05).sin();
                let side = (w.min(h) / 8) as i64;
                for y in (cy as i64 - side).max(0)..(cy as i64 + side).min(h as i64) {
                    for x in (cx as i64 - side).max(0)..(cx as i64 + side).min(w as i64) {
                        frame.put_pixel(x as u32, y as u32, Rgb([250, 230, 60]));
                    }
                }
                let bar = (t * 4) % h;
                for y in bar..(bar + 6).min(h) {
                    for x in 0..w {
                        frame.put_pixel(x, y, Rgb([20, 20, 20]));
                    }
                }
            }
        }
        Ok(true)
    }

    fn describe(&self) -> String {
        format!(
            "test pattern ({:?}) {}x{}",
            self.kind, self.width, self.height
        )
        .to_lowercase()
    }
}
