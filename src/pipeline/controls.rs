//! What the pipeline paints, changeable while it runs: the palette weights shown, a morph in
//! progress, strength, stabilisation, colour preservation.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use super::StabilizeMode;
use crate::look::MAX_PALETTE;
use crate::style::StyleEmbedding;

/// What the pipeline should do; all of it can change while it runs. Plain data (no heap), so
/// the inference thread copies it every frame without allocating.
#[derive(Debug, Clone, Copy)]
pub struct ControlState {
    /// How much of each palette entry is shown (normalized when used; the first `len` count).
    pub weights: [f32; MAX_PALETTE],
    /// A morph in progress from one set of weights to another.
    pub morph: Option<Morph>,
    /// 0..1: identity interpolation toward the frame's own embedding (for presets, a pixel blend).
    pub strength: f32,
    /// Temporal blending of outputs, 0 (off) to 0.95.
    pub stabilize: f32,
    /// How outputs are blended.
    pub stabilizer: StabilizeMode,
    /// Frames a morph takes.
    pub morph_frames: u32,
    /// Keep the input's colours under the stylized luminance.
    pub preserve_color: bool,
}

/// A morph between two sets of palette weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Morph {
    pub from: [f32; MAX_PALETTE],
    pub to: [f32; MAX_PALETTE],
    /// Progress, 0 to 1.
    pub t: f32,
}

/// Weights that show entry `i` alone.
pub fn one_hot(i: usize) -> [f32; MAX_PALETTE] {
    let mut w = [0.0; MAX_PALETTE];
    w[i.min(MAX_PALETTE - 1)] = 1.0;
    w
}

impl ControlState {
    /// Starting state: the palette blended by `weights` (at most [`MAX_PALETTE`]), no morph.
    /// They are kept as shares of 1, so that any finite weights fit in f32 (weights that do
    /// not pass [`crate::style::check_weights`] are kept as given).
    pub fn new<W: Copy + Into<f64>>(weights: &[W]) -> ControlState {
        let shares = crate::style::normalize_weights(weights)
            .unwrap_or_else(|_| weights.iter().map(|&w| w.into() as f32).collect());
        let mut w = [0.0; MAX_PALETTE];
        for (d, s) in w.iter_mut().zip(&shares) {
            *d = *s;
        }
        ControlState {
            weights: w,
            morph: None,
            strength: 1.0,
            stabilize: 0.0,
            stabilizer: StabilizeMode::Motion,
            morph_frames: 30,
            preserve_color: false,
        }
    }

    /// The weights shown now: the morph's point between its ends, else `weights`.
    pub fn shown_weights(&self) -> [f32; MAX_PALETTE] {
        match self.morph {
            Some(m) => std::array::from_fn(|i| m.t * m.to[i] + (1.0 - m.t) * m.from[i]),
            None => self.weights,
        }
    }

    /// Where the picture is heading: the morph's end, else the weights.
    pub fn target_weights(&self) -> [f32; MAX_PALETTE] {
        self.morph.map_or(self.weights, |m| m.to)
    }

    /// Shows entry `i` alone, at once.
    pub fn select(&mut self, i: usize) {
        self.weights = one_hot(i);
        self.morph = None;
    }

    /// Starts a morph from what is shown now to entry `i` alone.
    pub fn morph_to(&mut self, i: usize) {
        self.morph = Some(Morph {
            from: self.shown_weights(),
            to: one_hot(i),
            t: 0.0,
        });
    }
}

/// The entry with the largest weight among the first `len` (the first on a tie).
pub fn dominant(weights: &[f32; MAX_PALETTE], len: usize) -> usize {
    let mut best = 0;
    for i in 1..len.min(MAX_PALETTE) {
        if weights[i] > weights[best] {
            best = i;
        }
    }
    best
}

/// Whose own embedding a strength below 1 pulls toward.
#[derive(Debug, Clone, Copy)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per run, never copied in a loop"
)]
pub enum OwnEmbedding {
    /// Each frame's, refreshed every `OWN_EMBEDDING_EVERY` (60) frames (live).
    Refreshed,
    /// One for the whole run (a video keeps its strength steady from frame to frame).
    Fixed(StyleEmbedding),
}

/// Shared between the display thread (which changes it) and the inference thread.
pub struct Controls {
    state: Mutex<ControlState>,
    quit: AtomicBool,
    generation: AtomicU64,
}

impl Controls {
    pub fn new(state: ControlState) -> Self {
        Controls {
            state: Mutex::new(state),
            quit: AtomicBool::new(false),
            generation: AtomicU64::new(0),
        }
    }

    pub fn get(&self) -> ControlState {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes what is painted (a key, a slider); bumps the [`generation`](Self::generation).
    pub fn update(&self, f: impl FnOnce(&mut ControlState)) {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()));
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The pipeline's own step (a morph moving on): no new generation.
    pub(crate) fn advance(&self, f: impl FnOnce(&mut ControlState)) {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// How many times [`update`](Self::update) has changed the state: a still picture is
    /// painted again when this moves.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn quit(&self) {
        self.quit.store(true, Ordering::Relaxed);
    }

    pub fn should_quit(&self) -> bool {
        self.quit.load(Ordering::Relaxed)
    }
}
