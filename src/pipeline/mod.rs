//! The frame pipeline that `live` and `video` share: capture, inference and display on their
//! own threads, joined by latest-frame-wins [`Slot`]s. Frames circulate through a fixed pool,
//! so the steady state allocates nothing per frame. What is painted can change while it runs
//! ([`Controls`]).

mod adaptive;
mod controls;
pub mod slot;
mod stabilize;

pub use adaptive::{resize_into, scaled, AdaptiveSize, STEPS};
pub use controls::{dominant, one_hot, ControlState, Controls, Morph, OwnEmbedding};
pub use stabilize::{global_shift, StabilizeMode, Stabilizer};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use image::RgbImage;

use slot::{Slot, Take};

use crate::look::{Look, Palette};
use crate::sources::{FrameSource, SourceError};
use crate::style::StyleEmbedding;
use crate::stylizer::{StylizeError, Stylizer};

/// Frames in circulation: one at each stage and in each slot, and one spare.
const POOL: usize = 6;
/// The longest the display waits without being called: windows pump their events at least
/// this often (250 Hz), so no key tap is lost while inference is slow.
pub const IDLE_TICK: Duration = Duration::from_millis(4);
/// How often a still source looks at the controls while nothing changes.
const STILL_POLL: Duration = Duration::from_millis(10);
/// How often (in stylized frames) the content's own embedding is refreshed for `strength < 1`.
const OWN_EMBEDDING_EVERY: u64 = 60;

/// One frame on its way through the pipeline.
pub struct Frame {
    pub seq: u64,
    pub captured: Instant,
    pub input: RgbImage,
    pub output: RgbImage,
    /// The output before stabilisation (filled only while stabilizing), for the ghosting
    /// figure.
    pub fresh: RgbImage,
    /// Milliseconds the transformer took on this frame.
    pub infer_ms: f32,
    /// The scale of each side the network ran at (below 1 under `target_fps`).
    pub scale: f32,
}

/// Whether a slow stage drops frames or holds the source back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Latest frame wins: stale frames are dropped so latency stays bounded (cameras, windows).
    Realtime,
    /// Every frame is stylized: the source waits for inference (video files, measurements).
    EveryFrame,
}

/// Counters, readable while the pipeline runs.
#[derive(Default)]
pub struct Stats {
    pub captured: AtomicU64,
    pub stylized: AtomicU64,
    pub shown: AtomicU64,
    /// Frames replaced in the capture -> inference slot before inference took them.
    pub dropped_before_inference: AtomicU64,
    /// Frames replaced in the inference -> display slot before display took them.
    pub dropped_before_display: AtomicU64,
}

impl Stats {
    pub fn dropped(&self) -> u64 {
        self.dropped_before_inference.load(Ordering::Relaxed)
            + self.dropped_before_display.load(Ordering::Relaxed)
    }
}

/// Why the pipeline stopped early.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Stylize(#[from] StylizeError),
}

impl PipelineError {
    /// Whether the user can fix it (see the wrapped errors).
    pub fn is_user_error(&self) -> bool {
        match self {
            PipelineError::Source(e) => e.is_user_error(),
            PipelineError::Stylize(e) => e.is_user_error(),
        }
    }
}

/// What the display stage says after each frame.
#[derive(Debug, PartialEq)]
pub enum Flow {
    Continue,
    Stop,
}

/// Options of one run.
pub struct RunOptions {
    pub mode: Mode,
    /// Stop after this many captured frames.
    pub max_frames: Option<u64>,
    /// Pace the source at its natural rate (patterns, image sequences).
    pub pace: bool,
    pub own: OwnEmbedding,
    /// Keep this many frames a second by running the network at 0.75 or 0.5 of each side
    /// when it is too slow (see [`AdaptiveSize`]); the output is scaled back up.
    pub target_fps: Option<f32>,
}

/// Runs the pipeline until the source ends, `max_frames` are captured, the display returns
/// [`Flow::Stop`] or [`Controls::quit`] is called. `display` runs on the calling thread (windows
/// want the main thread) and gets each stylized frame, and `None` at least every
/// [`IDLE_TICK`] while no frame is ready, so that a window answers its keys whatever the
/// inference rate. A still source is taken once and painted again only when the controls
/// change (or a morph is under way), so the machine idles in front of a still photo.
pub fn run(
    source: Box<dyn FrameSource>,
    stylizer: &mut Stylizer,
    palette: &Palette,
    controls: &Controls,
    stats: &Stats,
    options: &RunOptions,
    display: &mut dyn FnMut(Option<&Frame>) -> Flow,
) -> Result<(), PipelineError> {
    assert!(!palette.is_empty(), "at least one style");
    let (w, h) = source.size();
    let to_infer: Slot<Frame> = Slot::new();
    let to_show: Slot<Frame> = Slot::new();
    let (pool_tx, pool_rx) = sync_channel::<Frame>(POOL);
    for _ in 0..POOL {
        pool_tx
            .send(Frame {
                seq: 0,
                captured: Instant::now(),
                input: RgbImage::new(w, h),
                output: RgbImage::new(w, h),
                fresh: RgbImage::new(0, 0),
                infer_ms: 0.0,
                scale: 1.0,
            })
            .expect("pool has room");
    }
    let failure: Mutex<Option<PipelineError>> = Mutex::new(None);
    let fail = |e: PipelineError| {
        failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(e);
        controls.quit();
    };

    let fail = &fail;
    let (to_infer, to_show, pool_tx) = (&to_infer, &to_show, &pool_tx);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            if let Err(e) = capture(
                source, to_infer, &pool_rx, pool_tx, controls, stats, options,
            ) {
                fail(e.into());
            }
            to_infer.close();
        });
        scope.spawn(|| {
            if let Err(e) = infer(
                stylizer, palette, to_infer, to_show, pool_tx, controls, stats, options,
            ) {
                fail(e.into());
            }
            to_infer.close(); // unblock capture if inference stopped first
            to_show.close();
        });
        loop {
            match to_show.take(IDLE_TICK) {
                Take::Item(frame) => {
                    stats.shown.fetch_add(1, Ordering::Relaxed);
                    if display(Some(&frame)) == Flow::Stop {
                        controls.quit();
                    }
                    let _ = pool_tx.try_send(frame);
                }
                Take::Empty => {
                    if controls.should_quit() && to_show.is_closed() {
                        break;
                    }
                    if display(None) == Flow::Stop {
                        controls.quit();
                    }
                }
                Take::Closed => break,
            }
        }
        controls.quit();
    });
    match failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn capture(
    mut source: Box<dyn FrameSource>,
    to_infer: &Slot<Frame>,
    pool: &Receiver<Frame>,
    pool_tx: &SyncSender<Frame>,
    controls: &Controls,
    stats: &Stats,
    options: &RunOptions,
) -> Result<(), SourceError> {
    let period = source
        .fps()
        .filter(|_| options.pace)
        .map(|fps| Duration::from_secs_f64(1.0 / fps));
    let start = Instant::now();
    let mut seq = 0u64;
    let mut still: Option<RgbImage> = None;
    let mut generation = controls.generation();
    while !controls.should_quit() && options.max_frames.is_none_or(|m| seq < m) {
        if let Some(picture) = &still {
            let g = controls.generation();
            if g == generation && controls.get().morph.is_none() {
                std::thread::sleep(STILL_POLL);
                continue;
            }
            generation = g;
            let Ok(mut frame) = pool.recv_timeout(Duration::from_millis(100)) else {
                continue;
            };
            frame.input.copy_from_slice(picture.as_raw());
            frame.seq = seq;
            frame.captured = Instant::now();
            seq += 1;
            stats.captured.fetch_add(1, Ordering::Relaxed);
            // Waits for inference to take it: a morph paints frame after frame, never ahead.
            if to_infer.put_wait(frame).is_some() {
                break;
            }
            continue;
        }
        let mut frame = match pool.recv_timeout(Duration::from_millis(100)) {
            Ok(f) => f,
            Err(_) => continue, // every frame is in flight; wait for one to come back
        };
        if let Some(p) = period {
            let due = start + p * seq as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        if !source.next_frame(&mut frame.input)? {
            let _ = pool_tx.try_send(frame);
            break;
        }
        if source.is_still() && seq == 0 {
            // Taken once; painted again below whenever the controls change.
            still = Some(frame.input.clone());
        }
        frame.seq = seq;
        frame.captured = Instant::now();
        seq += 1;
        stats.captured.fetch_add(1, Ordering::Relaxed);
        match options.mode {
            Mode::Realtime => {
                if let Some(stale) = to_infer.put(frame) {
                    stats
                        .dropped_before_inference
                        .fetch_add(1, Ordering::Relaxed);
                    let _ = pool_tx.try_send(stale);
                }
            }
            Mode::EveryFrame => {
                if to_infer.put_wait(frame).is_some() {
                    break; // inference has stopped
                }
            }
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn infer(
    stylizer: &mut Stylizer,
    palette: &Palette,
    to_infer: &Slot<Frame>,
    to_show: &Slot<Frame>,
    pool_tx: &SyncSender<Frame>,
    controls: &Controls,
    stats: &Stats,
    options: &RunOptions,
) -> Result<(), StylizeError> {
    let mut own: Option<StyleEmbedding> = match options.own {
        OwnEmbedding::Fixed(e) => Some(e),
        OwnEmbedding::Refreshed => None,
    };
    let mut stabilizer = Stabilizer::default();
    let mut adaptive = options.target_fps.map(AdaptiveSize::new);
    let (mut small_in, mut small_out) = (RgbImage::new(0, 0), RgbImage::new(0, 0));
    let mut count = 0u64;
    let n = palette.len();
    loop {
        let mut frame = match to_infer.take(Duration::from_millis(100)) {
            Take::Item(f) => f,
            Take::Empty if controls.should_quit() && to_infer.is_closed() => return Ok(()),
            Take::Empty => continue,
            Take::Closed => return Ok(()),
        };
        let c = advance_morph(controls);
        let weights = c.shown_weights();
        let paint = palette
            .blend(&weights[..n])
            .unwrap_or_else(|_| palette.get(0).expect("not empty"));
        let look = Look {
            paint,
            strength: c.strength.clamp(0.0, 1.0),
            preserve_color: c.preserve_color,
        };
        if look.needs_own_embedding()
            && matches!(options.own, OwnEmbedding::Refreshed)
            && (own.is_none() || count.is_multiple_of(OWN_EMBEDDING_EVERY))
        {
            own = Some(stylizer.embed(&frame.input)?);
        }
        let t = Instant::now();
        let scale = adaptive.as_ref().map_or(1.0, AdaptiveSize::scale);
        if scale < 1.0 {
            let (w, h) = frame.input.dimensions();
            let (sw, sh) = scaled(w, h, scale);
            if small_in.dimensions() != (sw, sh) {
                small_in = RgbImage::new(sw, sh); // once per step change
            }
            resize_into(&frame.input, &mut small_in);
            stylizer.paint_into(&small_in, &look, own.as_ref(), &mut small_out)?;
            resize_into(&small_out, &mut frame.output);
        } else {
            stylizer.paint_into(&frame.input, &look, own.as_ref(), &mut frame.output)?;
        }
        frame.infer_ms = t.elapsed().as_secs_f32() * 1e3;
        frame.scale = scale;
        if let Some(a) = &mut adaptive {
            a.observe(frame.infer_ms);
        }
        if c.stabilize > 0.0 {
            if frame.fresh.dimensions() != frame.output.dimensions() {
                frame.fresh = frame.output.clone(); // once per pool frame and size
            } else {
                frame.fresh.copy_from_slice(frame.output.as_raw());
            }
            stabilizer.apply(c.stabilizer, c.stabilize, &frame.input, &mut frame.output);
        }
        count += 1;
        stats.stylized.fetch_add(1, Ordering::Relaxed);
        match options.mode {
            Mode::Realtime => {
                if let Some(stale) = to_show.put(frame) {
                    stats.dropped_before_display.fetch_add(1, Ordering::Relaxed);
                    let _ = pool_tx.try_send(stale);
                }
            }
            Mode::EveryFrame => {
                if to_show.put_wait(frame).is_some() {
                    return Ok(());
                }
            }
        }
    }
}

/// Moves a morph one frame on; when it completes, its target becomes the weights.
fn advance_morph(controls: &Controls) -> ControlState {
    let mut out = None;
    controls.advance(|c| {
        if let Some(m) = &mut c.morph {
            m.t = (m.t + 1.0 / c.morph_frames.max(1) as f32).min(1.0);
            if m.t >= 1.0 {
                c.weights = m.to;
                c.morph = None;
            }
        }
        out = Some(*c);
    });
    out.expect("set in update")
}
