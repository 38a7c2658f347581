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
    /// Sensor-like noise, -3..=3, drawn once.
    noise: Vec<i8>,
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
        let mut pattern = Pattern {
            kind,
            width,
            height,
            t: 0,
            rng: 0x9e37_79b9,
            scene,
            noise: Vec::new(),
        };
        pattern.noise = (0..NOISE_TABLE + NOISE_RUN)
            .map(|_| (pattern.next_random() % 7) as i8 - 3)
            .collect();
        pattern
    }

    fn next_random(&mut self) -> u32 {
        // xorshift32: deterministic, no dependency
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 17;
        self.rng ^= self.rng << 5;
        self.rng
    }

    /// Adds noise of -3..=3 to every byte: runs of [`NOISE_RUN`] bytes read the noise table
    /// from a random place, so that no two frames (and no two runs) share their noise.
    fn add_noise(&mut self, frame: &mut [u8]) {
        for run in frame.chunks_mut(NOISE_RUN) {
            let at = self.next_random() as usize % NOISE_TABLE;
            for (v, n) in run.iter_mut().zip(&self.noise[at..]) {
                *v = v.saturating_add_signed(*n);
            }
        }
    }
}

/// Bytes that take their noise from one place of the table.
const NOISE_RUN: usize = 4096;
/// Distinct places in the noise table (which holds this many values plus a run).
const NOISE_TABLE: usize = 1 << 16;

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
        let (row, scene_row) = (w as usize * 3, self.scene.width() as usize * 3);
        for (y, dst) in frame.as_mut().chunks_exact_mut(row).enumerate() {
            let from = y * scene_row + offset as usize * 3;
            dst.copy_from_slice(&self.scene.as_raw()[from..from + row]);
        }
        if matches!(self.kind, PatternKind::Still | PatternKind::Object) {
            self.add_noise(frame);
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
