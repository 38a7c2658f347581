//! The display stage of `live`: a window (drawing, the status line, keys) or a recorder, and
//! the measurements behind the closing summary. Its keys are in [`keys`].

mod keys;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::cli::sheet::draw_text_scaled;
use brushwork::images;
use brushwork::metrics::{percentile, proc_status_mb, Flicker, Ghosting};
use brushwork::pipeline::{dominant, ControlState, Controls, Flow, Frame, Stats};
use image::{Rgb, RgbImage};
use minifb::{Window, WindowOptions};

use super::{LiveArgs, Summary};
use crate::cli::UsageError;

/// The display stage: a window or a recorder, plus the measurements.
pub(super) struct Display<'a> {
    window: Option<Window>,
    /// The status line, rebuilt in place each frame.
    status: String,
    device: String,
    labels: &'a [String],
    /// The state the run started in (key 0 returns to its blend).
    start: ControlState,
    record: Option<PathBuf>,
    /// Frames written to `record`.
    pub(super) recorded: u64,
    /// Why recording stopped the run.
    pub(super) record_error: Option<images::ImageError>,
    side_by_side: bool,
    /// The last frame shown, kept to redraw it when only the display changes (Space, a
    /// notice, a still picture).
    last_input: RgbImage,
    last_output: RgbImage,
    /// What the status line said of the last frame: fps, inference ms, latency.
    last_timing: (f64, f32, f32),
    /// The scale the network ran at for the last frame, and frames per scale step.
    last_scale: f32,
    frames_at_scale: [u64; 3],
    /// A message on the status line ("saved PATH") until the instant given.
    notice: Option<(String, Instant)>,
    snapshots: PathBuf,
    verbose: bool,
    canvas: RgbImage,
    pixels: Vec<u32>,
    latencies: Vec<f32>,
    infer: Vec<f32>,
    first_shown: Option<Instant>,
    last_shown: Instant,
    rss_after_30: f64,
    flicker: Option<Flicker>,
    ghosting: Option<Ghosting>,
    last_seq: Option<u64>,
    fps_window: (Instant, u64, f64),
}

/// How long a notice ("saved PATH") stays on the status line.
const NOTICE: Duration = Duration::from_secs(4);

/// Samples kept for the summary (a ring beyond this).
const SAMPLES: usize = 4096;

impl<'a> Display<'a> {
    pub(super) fn new(
        args: &LiveArgs,
        w: u32,
        h: u32,
        labels: &'a [String],
        start: ControlState,
        device: String,
    ) -> anyhow::Result<Self> {
        let window = if args.headless {
            None
        } else {
            let mut window = Window::new(
                "brushwork live — 1-9 style, 0 blend, ←/→ morph, ↑/↓ strength, C colours, Space compare, S snapshot, Q quit",
                w as usize,
                h as usize,
                WindowOptions {
                    resize: true,
                    scale_mode: minifb::ScaleMode::AspectRatioStretch,
                    ..WindowOptions::default()
                },
            )
            .map_err(|e| UsageError(format!("cannot open a window ({e}); use --headless without a display")))?;
            window.set_target_fps(0);
            Some(window)
        };
        Ok(Display {
            window,
            status: String::with_capacity(128),
            device,
            labels,
            start,
            record: args.record.clone(),
            recorded: 0,
            record_error: None,
            side_by_side: false,
            last_input: RgbImage::new(w, h),
            last_output: RgbImage::new(w, h),
            last_timing: (0.0, 0.0, 0.0),
            last_scale: 1.0,
            frames_at_scale: [0; 3],
            notice: None,
            snapshots: args.snapshots.clone().unwrap_or_else(|| PathBuf::from(".")),
            verbose: args.engine.verbose,
            canvas: RgbImage::new(2 * w, h),
            pixels: vec![0; (2 * w * h) as usize],
            latencies: Vec::with_capacity(SAMPLES),
            infer: Vec::with_capacity(SAMPLES),
            first_shown: None,
            last_shown: Instant::now(),
            rss_after_30: f64::NAN,
            // The metric needs consecutive frames, which only every-frame mode guarantees.
            flicker: args.every_frame.then(Flicker::default),
            ghosting: (args.every_frame && args.stabilize > 0.0).then(Ghosting::default),
            last_seq: None,
            fps_window: (Instant::now(), 0, 0.0),
        })
    }

    /// Called with each stylized frame, and with `None` at least every few milliseconds in
    /// between: a window then handles its events, so no key tap is lost however slow the
    /// network runs.
    pub(super) fn show(
        &mut self,
        frame: Option<&Frame>,
        controls: &Controls,
        stats: &Stats,
    ) -> Flow {
        match frame {
            Some(frame) => self.show_frame(frame, controls, stats),
            None => self.idle(controls),
        }
    }

    fn idle(&mut self, controls: &Controls) -> Flow {
        let Some(window) = self.window.as_mut() else {
            return Flow::Continue;
        };
        if !window.is_open() {
            return Flow::Stop;
        }
        window.update();
        let flow = self.keys(controls);
        let expired = self
            .notice
            .as_ref()
            .is_some_and(|(_, t)| Instant::now() >= *t);
        if expired {
            self.notice = None;
            self.redraw(controls);
        }
        flow
    }

    fn show_frame(&mut self, frame: &Frame, controls: &Controls, stats: &Stats) -> Flow {
        let now = Instant::now();
        let shown = stats.shown.load(Ordering::Relaxed);
        self.first_shown.get_or_insert(now);
        self.last_shown = now;
        let latency = now.duration_since(frame.captured).as_secs_f32() * 1e3;
        push_ring(&mut self.latencies, latency, shown);
        push_ring(&mut self.infer, frame.infer_ms, shown);
        if shown == 30 {
            self.rss_after_30 = proc_status_mb("VmRSS").unwrap_or(f64::NAN);
        }
        self.last_scale = frame.scale;
        if let Some(i) = brushwork::pipeline::STEPS
            .iter()
            .position(|s| *s == frame.scale)
        {
            self.frames_at_scale[i] += 1;
        }
        let consecutive =
            self.last_seq.is_some_and(|s| s + 1 == frame.seq) || self.last_seq.is_none();
        if let Some(f) = &mut self.flicker {
            if consecutive {
                f.add(&frame.input, &frame.output);
            }
        }
        if let Some(g) = &mut self.ghosting {
            if consecutive {
                g.add(&frame.input, &frame.output, &frame.fresh);
            }
        }
        self.last_seq = Some(frame.seq);
        if let Some(dir) = &self.record {
            let path = dir.join(format!("frame-{:06}.png", frame.seq));
            if let Err(e) = images::save_atomic(&frame.output, &path, images::JPEG_QUALITY) {
                // Ends the run with this error (and a non-zero exit).
                self.record_error = Some(e);
                return Flow::Stop;
            }
            self.recorded += 1;
        }
        let (t0, n0, fps) = self.fps_window;
        if now.duration_since(t0) >= Duration::from_secs(1) {
            let fps = (shown - n0) as f64 / now.duration_since(t0).as_secs_f64();
            self.fps_window = (now, shown, fps);
        }
        if self.window.is_some() {
            return self.draw(frame, controls, fps, latency);
        }
        Flow::Continue
    }

    fn draw(&mut self, frame: &Frame, controls: &Controls, fps: f64, latency: f32) -> Flow {
        if self.last_output.dimensions() != frame.output.dimensions() {
            self.last_output = frame.output.clone();
            self.last_input = frame.input.clone();
        } else {
            self.last_output.copy_from_slice(frame.output.as_raw());
            self.last_input.copy_from_slice(frame.input.as_raw());
        }
        self.last_timing = (fps, frame.infer_ms, latency);
        if !self.redraw(controls) {
            return Flow::Stop;
        }
        self.keys(controls)
    }

    /// What is painted, for the status line and `-v`: `2 bricks  strength 0.80`.
    fn describe_controls(&self, c: &ControlState, out: &mut String) {
        let n = self.labels.len();
        let _ = match c.morph {
            Some(m) => write!(
                out,
                "{} > {} {:.0}%",
                self.labels[dominant(&m.from, n)],
                self.labels[dominant(&m.to, n)],
                m.t * 100.0
            ),
            None if c.weights[..n].iter().filter(|w| **w > 0.0).count() > 1 => {
                write!(out, "0 blend")
            }
            None => {
                let i = dominant(&c.weights, n);
                write!(out, "{} {}", i + 1, self.labels[i])
            }
        };
        let _ = write!(out, "  strength {:.2}", c.strength);
        if c.preserve_color {
            let _ = write!(out, "  colours kept");
        }
        if self.side_by_side {
            let _ = write!(out, "  side by side");
        }
    }

    /// Draws the last frame with the status line; false when the window is gone.
    fn redraw(&mut self, controls: &Controls) -> bool {
        let (w, h) = self.last_output.dimensions();
        let c = controls.get();
        let cw = if self.side_by_side { 2 * w } else { w };
        if self.canvas.dimensions() != (cw, h) {
            self.canvas = RgbImage::new(cw, h);
        }
        image::imageops::replace(&mut self.canvas, &self.last_output, 0, 0);
        if self.side_by_side {
            image::imageops::replace(&mut self.canvas, &self.last_input, i64::from(w), 0);
        }
        let mut status = std::mem::take(&mut self.status);
        status.clear();
        let (fps, infer_ms, latency) = self.last_timing;
        let _ = write!(
            status,
            "{fps:.1} fps  infer {infer_ms:.0} ms  latency {latency:.0} ms  {}  ",
            self.device
        );
        self.describe_controls(&c, &mut status);
        if self.last_scale < 1.0 {
            let (sw, sh) = brushwork::pipeline::scaled(w, h, self.last_scale);
            let _ = write!(status, "  at {sw}x{sh}");
        }
        if let Some((text, _)) = &self.notice {
            let _ = write!(status, "  {text}");
        }
        self.status = status;
        for y in 0..12.min(h) {
            for x in 0..cw {
                let p = self.canvas.get_pixel_mut(x, y);
                p.0 = p.0.map(|v| v / 3);
            }
        }
        draw_text_scaled(
            &mut self.canvas,
            3,
            2,
            &self.status,
            Rgb([255, 255, 255]),
            1,
        );
        self.pixels.resize((cw * h) as usize, 0);
        for (dst, p) in self.pixels.iter_mut().zip(self.canvas.pixels()) {
            *dst = (u32::from(p[0]) << 16) | (u32::from(p[1]) << 8) | u32::from(p[2]);
        }
        let window = self.window.as_mut().expect("drawing needs a window");
        window.is_open()
            && window
                .update_with_buffer(&self.pixels, cw as usize, h as usize)
                .is_ok()
    }

    pub(super) fn summary(
        &self,
        stats: &Stats,
        elapsed: Duration,
        source: String,
        w: u32,
        h: u32,
    ) -> Summary {
        let shown = stats.shown.load(Ordering::Relaxed);
        let span = self
            .first_shown
            .map(|f| self.last_shown.duration_since(f).as_secs_f64())
            .unwrap_or(elapsed.as_secs_f64());
        let mut lat = self.latencies.clone();
        let mut inf = self.infer.clone();
        Summary {
            source,
            width: w,
            height: h,
            captured: stats.captured.load(Ordering::Relaxed),
            stylized: stats.stylized.load(Ordering::Relaxed),
            shown,
            dropped_before_inference: stats.dropped_before_inference.load(Ordering::Relaxed),
            dropped_before_display: stats.dropped_before_display.load(Ordering::Relaxed),
            fps: if span > 0.0 {
                (shown.saturating_sub(1)) as f64 / span
            } else {
                0.0
            },
            infer_ms_median: percentile(&mut inf, 0.5),
            latency_ms_median: percentile(&mut lat, 0.5),
            latency_ms_p95: percentile(&mut lat, 0.95),
            latency_ms_max: percentile(&mut lat, 1.0),
            infer_ms_max: percentile(&mut inf, 1.0),
            rss_mb_after_30: self.rss_after_30,
            rss_mb_end: proc_status_mb("VmRSS").unwrap_or(f64::NAN),
            flicker: self
                .flicker
                .as_ref()
                .map(Flicker::mean)
                .filter(|v| v.is_finite()),
            flicker_compensated: self
                .flicker
                .as_ref()
                .map(Flicker::mean_compensated)
                .filter(|v| v.is_finite()),
            size_in_use: {
                let (sw, sh) = brushwork::pipeline::scaled(w, h, self.last_scale);
                [sw, sh]
            },
            frames_at_scale: self.frames_at_scale,
            ghosting: self
                .ghosting
                .as_ref()
                .map(Ghosting::mean)
                .filter(|v| v.is_finite()),
        }
    }
}

fn push_ring(v: &mut Vec<f32>, x: f32, n: u64) {
    if v.len() < SAMPLES {
        v.push(x);
    } else {
        v[(n as usize) % SAMPLES] = x;
    }
}
