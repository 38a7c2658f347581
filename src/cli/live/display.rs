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
    /// What the status line said of the last frame: fps, inference ms, latency.
    last_timing: (f64, f32, f32),
    /// The scale the network ran at for the last frame, and frames per scale step.
    last_scale: f32,
    frames_at_scale: [u64; 3],
    /// A message on the status line ("saved PATH") until the instant given.
    notice: Option<(String, Instant)>,
    snapshots: PathBuf,
    verbose: bool,
    /// The last output as the window's 0RGB pixels, its top rows under the status line.
    shown: Vec<u32>,
    /// The top [`STATUS_ROWS`] rows of `shown` as they came, before the status line.
    shown_top: Vec<u32>,
    /// The output and the input side by side (0RGB), made only while that is on.
    side_by_side_pixels: Vec<u32>,
    /// The status line's strip, in RGB, for the text drawing.
    strip: RgbImage,
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

/// Rows under the status line.
const STATUS_ROWS: u32 = 12;

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
        let measure_flicker = args.every_frame && args.json && !args.stand_in_network;
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
            last_timing: (0.0, 0.0, 0.0),
            last_scale: 1.0,
            frames_at_scale: [0; 3],
            notice: None,
            snapshots: args.snapshots.clone().unwrap_or_else(|| PathBuf::from(".")),
            verbose: args.engine.verbose,
            shown: vec![0; (w * h) as usize],
            shown_top: Vec::new(),
            side_by_side_pixels: Vec::new(),
            strip: RgbImage::new(0, 0),
            latencies: Vec::with_capacity(SAMPLES),
            infer: Vec::with_capacity(SAMPLES),
            first_shown: None,
            last_shown: Instant::now(),
            rss_after_30: f64::NAN,
            // The metrics need consecutive frames, which only every-frame mode guarantees, and
            // cost ~10 ms a 1080p frame: they are measured only for the JSON summary, which
            // alone reports them, and not of a stand-in network (its copies do not flicker).
            flicker: measure_flicker.then(Flicker::default),
            ghosting: (measure_flicker && args.stabilize > 0.0).then(Ghosting::default),
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
        // Straight from the frame into the window's pixels: no intermediate canvas.
        let (w, h) = frame.output.dimensions();
        if self.last_input.dimensions() != (w, h) {
            self.last_input = frame.input.clone();
        } else {
            self.last_input.copy_from_slice(frame.input.as_raw());
        }
        self.shown.resize((w * h) as usize, 0);
        to_0rgb(frame.output.as_raw(), &mut self.shown);
        let top = (STATUS_ROWS.min(h) * w) as usize;
        self.shown_top.clear();
        self.shown_top.extend_from_slice(&self.shown[..top]);
        self.last_timing = (fps, frame.infer_ms, latency);
        if !self.redraw(controls) {
            return Flow::Stop;
        }
        self.keys(controls)
    }

    /// The last output, as shown without the status line (for snapshots).
    fn last_output(&self) -> RgbImage {
        let (w, h) = self.last_input.dimensions();
        let mut out = RgbImage::new(w, h);
        let top = self.shown_top.len();
        let pixels = self.shown_top.iter().chain(&self.shown[top..]);
        for (dst, p) in out.as_mut().chunks_exact_mut(3).zip(pixels) {
            dst.copy_from_slice(&from_0rgb(*p));
        }
        out
    }

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
        let (w, h) = self.last_input.dimensions();
        let c = controls.get();
        let cw = if self.side_by_side { 2 * w } else { w };
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
        let top = self.shown_top.len();
        self.shown[..top].copy_from_slice(&self.shown_top);
        let pixels = if self.side_by_side {
            let px = &mut self.side_by_side_pixels;
            px.resize((cw * h) as usize, 0);
            let (w, input) = (w as usize, self.last_input.as_raw());
            for ((row, out), inp) in px
                .chunks_exact_mut(2 * w)
                .zip(self.shown.chunks_exact(w))
                .zip(input.chunks_exact(3 * w))
            {
                row[..w].copy_from_slice(out);
                to_0rgb(inp, &mut row[w..]);
            }
            px
        } else {
            &mut self.shown
        };
        // The status line: the top rows darkened, with the text over them.
        let rows = STATUS_ROWS.min(h);
        let strip_len = (cw * rows) as usize;
        if self.strip.dimensions() != (cw, rows) {
            self.strip = RgbImage::new(cw, rows);
        }
        for (dst, p) in self
            .strip
            .as_mut()
            .chunks_exact_mut(3)
            .zip(&pixels[..strip_len])
        {
            dst.copy_from_slice(&from_0rgb(*p).map(|v| v / 3));
        }
        draw_text_scaled(&mut self.strip, 3, 2, &self.status, Rgb([255, 255, 255]), 1);
        to_0rgb(self.strip.as_raw(), &mut pixels[..strip_len]);
        let window = self.window.as_mut().expect("drawing needs a window");
        window.is_open()
            && window
                .update_with_buffer(pixels, cw as usize, h as usize)
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
            cpu_ms_per_frame: f64::NAN,
        }
    }
}

/// Packed RGB bytes to the window's 0RGB pixels.
fn to_0rgb(rgb: &[u8], out: &mut [u32]) {
    for (dst, p) in out.iter_mut().zip(rgb.chunks_exact(3)) {
        *dst = (u32::from(p[0]) << 16) | (u32::from(p[1]) << 8) | u32::from(p[2]);
    }
}

/// A window pixel (0RGB) back to its RGB bytes.
fn from_0rgb(p: u32) -> [u8; 3] {
    [(p >> 16) as u8, (p >> 8) as u8, p as u8]
}

fn push_ring(v: &mut Vec<f32>, x: f32, n: u64) {
    if v.len() < SAMPLES {
        v.push(x);
    } else {
        v[(n as usize) % SAMPLES] = x;
    }
}
