//! Pictures larger than the memory budget, stylized in tiles with whole-picture statistics.
//!
//! The transformation network's 13 conditional instance norms normalise with the mean and
//! variance of their input over the whole picture, so tiles that each ran the whole network
//! would each get their own statistics: seams and colour shifts. `python-export/tiling.py` cuts
//! the network at every norm into segments that take the finished statistics as inputs, and
//! writes them, with the plans that order them, into one bundle per variant
//! (`models/tiled_fp32.bundle`, `tiled_fp16.bundle`). [`Tiler`] runs a plan: each segment tile
//! by tile over the whole picture, each tile read with a halo that covers the segment's
//! receptive field, its output either summed into the next norm's statistics (in f64, over the
//! tile's own region only) or kept in half precision for the segments that read it. The
//! statistics are exact; the result differs from the untiled network by the fp16 rounding of
//! the kept activations (0.03/255 on average).
//!
//! Tiles are laid out on the 1/4-resolution grid (the network's stride) and every tile of a
//! segment is read through a window of the same size (shifted inwards at the picture's edges),
//! so each segment sees one input shape per picture.

use std::borrow::Cow;
use std::collections::HashMap;

use half::f16;
use half::slice::HalfFloatSliceExt;
use image::RgbImage;
use ort::session::{Session, SessionInputValue};
use ort::value::TensorRef;
use serde::Deserialize;

use crate::models::{ModelBytes, ModelError, Precision};
use crate::providers::Device;
use crate::tensor::fill_nhwc_window;

use super::openvino::OpenVinoSegments;
use super::{session, StylizeError};

const MAGIC: &[u8; 8] = b"BWTILES1";
const CONTENT: &str = "content_image";
const PICTURE: &str = "stylized_image";
/// The network's stride: tiles and halos are counted in pixels of the 1/4-resolution grid.
const STRIDE: usize = 4;

/// Limits on what a bundle's header may say, far above the built-in networks' (32 channels,
/// halos of 2, 100 style numbers), so that no header can overflow the executor's arithmetic.
const MAX_CHANNELS: usize = 1024;
const MAX_HALO: usize = 256;
const MAX_STYLE_LEN: usize = 4096;

/// The default tile side, in picture pixels (see README, "Large pictures": 256 px runs as fast
/// as 512 and needs 150 MB less; 1024 is slower and needs 600 MB more, at 3000x3000).
pub const DEFAULT_TILE_SIDE: u32 = 256;
/// The default memory budget on the CPU: pictures whose untiled run would need more are tiled.
pub const DEFAULT_MEMORY_BUDGET: u64 = 1 << 30;
/// The default on a GPU, whose memory holds the activations: 3840x2160 frames still run whole
/// (the speed targets are for untiled frames), 24-megapixel photos run in tiles.
pub const DEFAULT_GPU_MEMORY_BUDGET: u64 = 4 << 30;
/// The smallest memory budget: the process itself ([`BASE_BYTES`]) and every picture up to
/// 256x256 whole, on either network, so that no budget accepted refuses a small photo.
pub const MIN_MEMORY_BUDGET: u64 = 96 << 20;

/// What the process holds besides the picture's own tensors: the runtime, the networks and
/// their sessions (a 64x64 picture peaks at 46 MB).
const BASE_BYTES: u64 = 64 << 20;
/// The networks that can run in tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Network {
    /// The arbitrary-style transformation network.
    Transform,
    /// The 26-preset network.
    Presets,
}

impl Network {
    /// What ONNX Runtime needs per pixel of an untiled run (padded picture, the larger of the
    /// figures measured at 1920x1080 and 3000x3000: 190 and 245 bytes a pixel for the
    /// transformation network, 300 and 400 for the presets' network, whose first layer has 32
    /// channels at full resolution).
    fn untiled_bytes_per_pixel(self) -> u64 {
        match self {
            Network::Transform => 250,
            Network::Presets => 400,
        }
    }
}
/// What a segment's run needs per pixel of its window at its finest resolution (its
/// activations and convolution buffers; measured with 256, 512 and 1024 px tiles: 1.2 KB).
const WINDOW_BYTES_PER_PIXEL: u64 = 1200;

#[derive(Debug, Deserialize)]
struct Header {
    variant: String,
    pixels: String,
    /// The network's style input (`style_embedding`, or `style_weights` for the presets) and
    /// its shape.
    style_input: String,
    style_shape: Vec<usize>,
    tensors: HashMap<String, TensorInfo>,
    norms: Vec<Norm>,
    segments: HashMap<String, SegmentInfo>,
    /// Ways to run the network, fastest first.
    plans: Vec<Plan>,
}

#[derive(Debug, Deserialize)]
struct Plan {
    name: String,
    stages: Vec<Stage>,
}

#[derive(Debug, Deserialize)]
struct TensorInfo {
    channels: usize,
    /// The tensor's resolution: the padded picture divided by this (1, 2 or 4).
    scale: usize,
}

#[derive(Debug, Deserialize)]
struct Norm {
    mean: String,
    variance: String,
    channels: usize,
}

#[derive(Debug, Deserialize)]
struct SegmentInfo {
    inputs: Vec<String>,
    outputs: Vec<String>,
    /// 1/4-resolution pixels each side of a tile that its outputs depend on.
    halo: usize,
    stat_inputs: Vec<String>,
    embedding: bool,
    offset: usize,
    bytes: usize,
}

#[derive(Debug, Deserialize)]
struct Stage {
    segment: String,
    /// What becomes of each of the segment's outputs, in its order.
    outputs: Vec<StageOutput>,
}

#[derive(Debug, Deserialize)]
struct StageOutput {
    tensor: String,
    /// The norm whose statistics this output gives.
    stats: Option<usize>,
    /// Whether it is kept for later stages.
    keep: bool,
}

/// A parsed tiling bundle: its header and the segments' ONNX bytes.
pub(super) struct Bundle {
    header: Header,
    model: ModelBytes,
    base: usize,
}

impl Bundle {
    pub(super) fn parse(model: &ModelBytes) -> Result<Bundle, ModelError> {
        let invalid = |reason: String| ModelError::Invalid {
            path: model.origin.clone(),
            role: "tiled transformation",
            reason,
        };
        let bytes = &model.bytes[..];
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(invalid("it does not start with BWTILES1".into()));
        }
        let len = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
        let Some(json) = bytes.get(12..12 + len) else {
            return Err(invalid("its header is cut short".into()));
        };
        let header: Header = serde_json::from_slice(json)
            .map_err(|e| invalid(format!("its header is not valid: {e}")))?;
        let base = 12 + len;
        header.check(bytes.len() - base).map_err(invalid)?;
        Ok(Bundle {
            header,
            model: model.clone(),
            base,
        })
    }

    fn segment_bytes(&self, name: &str) -> &[u8] {
        let s = &self.header.segments[name];
        &self.model.bytes[self.base + s.offset..self.base + s.offset + s.bytes]
    }
}

impl Header {
    /// Everything the executor indexes exists, so that running the stages cannot panic.
    fn check(&self, blob_len: usize) -> Result<(), String> {
        if self.pixels != "u8" {
            return Err(format!("its pixels are '{}', not u8", self.pixels));
        }
        let style_len = match self.style_shape[..] {
            [n] => n,
            [a, b, c, d] => a * b * c * d,
            _ => 0,
        };
        if !(1..=MAX_STYLE_LEN).contains(&style_len) || self.style_shape.contains(&0) {
            return Err(format!("its style input has shape {:?}", self.style_shape));
        }
        for (name, t) in &self.tensors {
            if ![1, 2, 4].contains(&t.scale) || !(1..=MAX_CHANNELS).contains(&t.channels) {
                return Err(format!(
                    "tensor {name} has scale {} and {} channels",
                    t.scale, t.channels
                ));
            }
        }
        for pixels in [CONTENT, PICTURE] {
            if self
                .tensors
                .get(pixels)
                .is_none_or(|t| (t.scale, t.channels) != (1, 3))
            {
                return Err(format!("{pixels} is not 3 channels at full resolution"));
            }
        }
        for (name, s) in &self.segments {
            if s.offset
                .checked_add(s.bytes)
                .is_none_or(|end| end > blob_len)
            {
                return Err(format!("segment {name} lies outside the file"));
            }
            if s.halo > MAX_HALO {
                return Err(format!("segment {name} has a halo of {}", s.halo));
            }
            for t in s.inputs.iter().chain(&s.outputs) {
                if !self.tensors.contains_key(t) {
                    return Err(format!("segment {name} uses {t}, which has no entry"));
                }
            }
            if let Some(i) = s.stat_inputs.iter().find(|i| self.norm_of(i).is_none()) {
                return Err(format!(
                    "segment {name} takes {i}, which is no norm's statistic"
                ));
            }
        }
        if self.plans.is_empty() {
            return Err("it has no plan".into());
        }
        for plan in &self.plans {
            self.check_plan(plan)
                .map_err(|e| format!("plan {}: {e}", plan.name))?;
        }
        Ok(())
    }

    /// A plan's stages read only what earlier stages kept, take only statistics earlier
    /// stages computed, and end with the picture.
    fn check_plan(&self, plan: &Plan) -> Result<(), String> {
        let mut made = vec![CONTENT];
        let mut known: Vec<&str> = Vec::new();
        for st in &plan.stages {
            let Some(seg) = self.segments.get(&st.segment) else {
                return Err(format!("a stage runs {}, which is missing", st.segment));
            };
            if let Some(i) = seg
                .inputs
                .iter()
                .find(|i| !made.contains(&i.as_str()) || *i == PICTURE)
            {
                return Err(format!("{} reads {i} before it is kept", st.segment));
            }
            if let Some(i) = seg
                .stat_inputs
                .iter()
                .find(|i| !known.contains(&i.as_str()))
            {
                return Err(format!("{} takes {i} before it is computed", st.segment));
            }
            let names: Vec<&String> = st.outputs.iter().map(|o| &o.tensor).collect();
            if names != seg.outputs.iter().collect::<Vec<_>>() {
                return Err(format!("{}: its stage names other outputs", st.segment));
            }
            for o in &st.outputs {
                if o.tensor == CONTENT || (o.tensor == PICTURE && o.stats.is_some()) {
                    return Err(format!("{} gives {} as it cannot", st.segment, o.tensor));
                }
                if let Some(n) = o.stats {
                    let Some(norm) = self
                        .norms
                        .get(n)
                        .filter(|norm| norm.channels == self.tensors[&o.tensor].channels)
                    else {
                        return Err(format!("{} gives no norm {n}", st.segment));
                    };
                    known.extend([norm.mean.as_str(), norm.variance.as_str()]);
                }
                if o.keep {
                    made.push(&o.tensor);
                }
            }
        }
        if !made.contains(&PICTURE) {
            return Err("no stage gives the picture".into());
        }
        Ok(())
    }

    fn norm_of(&self, stat: &str) -> Option<&Norm> {
        self.norms
            .iter()
            .find(|n| n.mean == stat || n.variance == stat)
    }

    /// Bytes of a kept tensor (f16) for a picture of `hq x wq` quarter-resolution pixels.
    fn kept_bytes(&self, tensor: &str, hq: usize, wq: usize) -> u64 {
        let t = &self.tensors[tensor];
        let f = STRIDE / t.scale;
        (t.channels * hq * f * wq * f * 2) as u64
    }

    /// The most bytes a tiled run holds at once beyond the process and the picture: at each
    /// stage, the kept tensors alive (its outputs included), the result once its stage has
    /// begun (the caller's output image is written, so touched, from then on), and what one
    /// run of the segment needs for its window at the segment's finest resolution.
    fn peak(&self, plan: &Plan, hq: usize, wq: usize, tq: usize) -> u64 {
        let last_use = plan.last_uses(self);
        let (mut alive, mut peak) = (0u64, 0u64);
        for (i, st) in plan.stages.iter().enumerate() {
            let seg = &self.segments[&st.segment];
            for o in st.outputs.iter().filter(|o| o.keep) {
                alive += if o.tensor == PICTURE {
                    (3 * hq * wq * STRIDE * STRIDE) as u64
                } else {
                    self.kept_bytes(&o.tensor, hq, wq)
                };
            }
            let finest = seg
                .inputs
                .iter()
                .chain(&seg.outputs)
                .map(|t| STRIDE / self.tensors[t].scale)
                .max()
                .unwrap_or(1);
            let side = |n: usize| ((tq + 2 * seg.halo).min(n) * finest) as u64;
            peak = peak.max(alive + WINDOW_BYTES_PER_PIXEL * side(hq) * side(wq));
            for input in &seg.inputs {
                if input != CONTENT && last_use.get(input.as_str()) == Some(&i) {
                    alive -= self.kept_bytes(input, hq, wq);
                }
            }
        }
        peak
    }
}

impl Plan {
    /// The index of the last stage that reads each kept tensor.
    fn last_uses<'a>(&self, header: &'a Header) -> HashMap<&'a str, usize> {
        let mut last = HashMap::new();
        for (i, st) in self.stages.iter().enumerate() {
            for input in &header.segments[&st.segment].inputs {
                last.insert(input.as_str(), i);
            }
        }
        last
    }
}

/// How a picture is run: whole, or in tiles.
#[derive(Debug, Clone, PartialEq)]
pub enum Tiling {
    /// Untiled: the estimated peak fits the budget.
    Whole { estimate: u64 },
    /// In tiles, by the segments of the named variant.
    Tiled {
        variant: String,
        /// The plan: `fast` keeps more between segments, `lean` computes it again.
        plan: String,
        tile_side: u32,
        tiles: usize,
        estimate: u64,
    },
}

impl std::fmt::Display for Tiling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tiling::Whole { estimate } => write!(f, "untiled (needs about {})", mib(*estimate)),
            Tiling::Tiled {
                variant,
                plan,
                tile_side,
                tiles,
                estimate,
            } => write!(
                f,
                "in {tiles} tiles of {tile_side}x{tile_side} px ({variant} segments, plan {plan}, whole-picture statistics; needs about {})",
                mib(*estimate)
            ),
        }
    }
}

/// About what an untiled run of a `width x height` picture needs: the process, the picture
/// in and out, and the network's activations.
pub(super) fn whole_estimate(network: Network, width: u32, height: u32) -> u64 {
    let (pw, ph) = (
        crate::tensor::padded(width) as u64,
        crate::tensor::padded(height) as u64,
    );
    BASE_BYTES
        + 2 * 3 * u64::from(width) * u64::from(height)
        + network.untiled_bytes_per_pixel() * pw * ph
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes.div_ceil(1 << 20))
}

/// The tile grid along one side: `[start, end)` ranges of quarter-resolution pixels.
fn tiles(n: usize, tile: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n).step_by(tile).map(move |t| (t, (t + tile).min(n)))
}

/// The window read for the tile starting at `t0`: `tile + 2 * halo` wide wherever the side
/// allows, shifted inwards at the edges, so that every tile of a segment has one input shape.
fn window(t0: usize, n: usize, tile: usize, halo: usize) -> (usize, usize) {
    let w = (tile + 2 * halo).min(n);
    let a0 = t0.saturating_sub(halo).min(n - w);
    (a0, a0 + w)
}

/// One output of the stage being run: where its tiles go.
struct Sink {
    channels: usize,
    /// Its resolution relative to the quarter grid (1, 2 or 4).
    factor: usize,
    picture: bool,
    keep: Option<Vec<f16>>,
    /// Per channel: the sum and the sum of squares, over the tiles so far.
    sums: Option<Vec<f64>>,
}

/// One input of a segment's run: its data and NCHW (or NHWC for pixels) shape, of which the
/// first `rank` dimensions count (the presets' weights are a vector).
pub(super) enum TileInput<'a> {
    U8(&'a [u8], [usize; 4]),
    F32(&'a [f32], [usize; 4]),
    Vector(&'a [f32]),
}

impl TileInput<'_> {
    pub(super) fn shape(&self) -> Vec<usize> {
        match self {
            TileInput::U8(_, s) | TileInput::F32(_, s) => s.to_vec(),
            TileInput::Vector(v) => vec![v.len()],
        }
    }
}

/// One output of a segment's run, with its shape.
pub(super) enum TileOutput<'a> {
    U8(&'a [u8], &'a [i64]),
    F32(&'a [f32], &'a [i64]),
}

/// What runs the segments: ONNX Runtime sessions (CPU or GPU), or OpenVINO for
/// `--device openvino`, each built on first use.
pub(super) enum Runner {
    Ort {
        sessions: HashMap<String, Session>,
        device: Device,
        precision: Precision,
        threads: Option<usize>,
    },
    OpenVino(OpenVinoSegments),
}

impl Runner {
    pub(super) fn ort(device: Device, precision: Precision, threads: Option<usize>) -> Self {
        Runner::Ort {
            sessions: HashMap::new(),
            device,
            precision,
            threads,
        }
    }

    /// Runs segment `name` on `inputs` and hands each of `outputs` to `take`.
    fn run(
        &mut self,
        bundle: &Bundle,
        name: &str,
        inputs: &[(&str, TileInput)],
        outputs: &[String],
        take: &mut dyn FnMut(usize, TileOutput) -> Result<(), StylizeError>,
    ) -> Result<(), StylizeError> {
        let (sessions, device, precision, threads) = match self {
            Runner::OpenVino(ov) => {
                return ov.run(name, bundle.segment_bytes(name), inputs, outputs, take)
            }
            Runner::Ort {
                sessions,
                device,
                precision,
                threads,
            } => (sessions, *device, *precision, *threads),
        };
        if !sessions.contains_key(name) {
            let model = ModelBytes {
                origin: format!("{}#{name}", bundle.model.origin),
                bytes: Cow::Owned(bundle.segment_bytes(name).to_vec()),
            };
            let s = session(&model, threads, device, precision, "tiled transformation")?;
            sessions.insert(name.to_string(), s);
        }
        let session = sessions.get_mut(name).expect("built above");
        let mut feed: Vec<(&str, SessionInputValue)> = Vec::with_capacity(inputs.len());
        for (input, value) in inputs {
            let value: SessionInputValue = match value {
                TileInput::U8(d, s) => TensorRef::from_array_view((*s, *d))?.into(),
                TileInput::F32(d, s) => TensorRef::from_array_view((*s, *d))?.into(),
                TileInput::Vector(d) => TensorRef::from_array_view(([d.len()], *d))?.into(),
            };
            feed.push((input, value));
        }
        let results = session.run(feed)?;
        for (k, output) in outputs.iter().enumerate() {
            let value = results.get(output.as_str()).ok_or_else(|| {
                StylizeError::Model(ModelError::Invalid {
                    path: bundle.model.origin.clone(),
                    role: "tiled transformation",
                    reason: format!("segment {name} has no output named {output}"),
                })
            })?;
            if let Ok((shape, data)) = value.try_extract_tensor::<u8>() {
                take(k, TileOutput::U8(data, shape))?;
            } else {
                let (shape, data) = value.try_extract_tensor::<f32>()?;
                take(k, TileOutput::F32(data, shape))?;
            }
        }
        Ok(())
    }
}

/// Runs the segments of a bundle.
pub(super) struct Tiler {
    bundle: Bundle,
    runner: Runner,
    /// Scratch for one window of each input, reused between tiles.
    scratch: Vec<Vec<f32>>,
    pixels: Vec<u8>,
}

impl Tiler {
    pub(super) fn new(bundle: Bundle, runner: Runner) -> Self {
        Tiler {
            bundle,
            runner,
            scratch: Vec::new(),
            pixels: Vec::new(),
        }
    }

    /// The tiling of a `width x height` picture: the fastest plan that fits `budget`, and what
    /// it needs. With `strict`, a picture that no plan fits is an error; otherwise the leanest
    /// plan runs.
    pub(super) fn choose(
        &self,
        width: u32,
        height: u32,
        budget: u64,
        strict: bool,
        tile_side: u32,
    ) -> Result<Tiling, StylizeError> {
        let h = &self.bundle.header;
        let (hq, wq) = (
            crate::tensor::padded(height) as usize / STRIDE,
            crate::tensor::padded(width) as usize / STRIDE,
        );
        let tq = (tile_side as usize / STRIDE).max(1);
        let content = 3 * u64::from(width) * u64::from(height);
        let estimates: Vec<(&Plan, u64)> = h
            .plans
            .iter()
            .map(|p| (p, BASE_BYTES + content + h.peak(p, hq, wq, tq)))
            .collect();
        let leanest = *estimates
            .iter()
            .min_by_key(|(_, e)| *e)
            .expect("a bundle has a plan");
        let (plan, estimate) = match estimates.iter().find(|(_, e)| *e <= budget) {
            Some(&fits) => fits,
            None if strict => {
                return Err(StylizeError::OverBudget {
                    width,
                    height,
                    needed: leanest.1,
                    budget,
                })
            }
            None => leanest,
        };
        Ok(Tiling::Tiled {
            variant: h.variant.clone(),
            plan: plan.name.clone(),
            tile_side: (tq * STRIDE) as u32,
            tiles: hq.div_ceil(tq) * wq.div_ceil(tq),
            estimate,
        })
    }

    /// Stylizes `content` into `out` (its size) in tiles of `tile_side` px, by the plan named
    /// `plan` (one [`Tiler::choose`] gave).
    pub(super) fn run(
        &mut self,
        content: &RgbImage,
        style: &[f32],
        out: &mut RgbImage,
        plan: &str,
        tile_side: u32,
    ) -> Result<(), StylizeError> {
        let plan = self
            .bundle
            .header
            .plans
            .iter()
            .position(|p| p.name == plan)
            .expect("a plan of this bundle");
        let style_shape: [usize; 4] = match self.bundle.header.style_shape[..] {
            [a, b, c, d] => [a, b, c, d],
            // A vector (checked when the bundle was read).
            _ => [style.len(), 1, 1, 1],
        };
        let style_rank = self.bundle.header.style_shape.len();
        if style.len() != self.bundle.header.style_shape.iter().product::<usize>() {
            return Err(StylizeError::Model(ModelError::Invalid {
                path: self.bundle.model.origin.clone(),
                role: "tiled transformation",
                reason: format!(
                    "its style input has shape {:?}; brushwork has {} numbers",
                    self.bundle.header.style_shape,
                    style.len()
                ),
            }));
        }
        let (ph, pw) = super::padded_dims(content);
        let (hq, wq) = (ph / STRIDE, pw / STRIDE);
        let tq = (tile_side as usize / STRIDE).max(1);
        let origin = self.bundle.model.origin.clone();
        let last_use: HashMap<String, usize> = self.bundle.header.plans[plan]
            .last_uses(&self.bundle.header)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let mut kept: HashMap<String, Vec<f16>> = HashMap::new();
        let mut known: HashMap<String, Vec<f32>> = HashMap::new();
        for i in 0..self.bundle.header.plans[plan].stages.len() {
            let header = &self.bundle.header;
            let stage = &header.plans[plan].stages[i];
            let seg_name = stage.segment.clone();
            let seg = &header.segments[&seg_name];
            let mut sinks: Vec<Sink> = Vec::with_capacity(stage.outputs.len());
            for o in &stage.outputs {
                let t = &header.tensors[&o.tensor];
                let factor = STRIDE / t.scale;
                let picture = o.tensor == PICTURE;
                let keep = if o.keep && !picture {
                    Some(zeroed(t.channels * hq * factor * wq * factor)?)
                } else {
                    None
                };
                sinks.push(Sink {
                    channels: t.channels,
                    factor,
                    picture,
                    keep,
                    sums: o.stats.map(|_| vec![0f64; 2 * t.channels]),
                });
            }
            let halo = seg.halo;
            let inputs: Vec<(String, usize, usize)> = seg
                .inputs
                .iter()
                .map(|n| {
                    let t = &header.tensors[n];
                    (n.clone(), t.channels, STRIDE / t.scale)
                })
                .collect();
            let stat_inputs = seg.stat_inputs.clone();
            let embedding = seg.embedding;
            let output_names = seg.outputs.clone();
            let frees: Vec<String> = seg
                .inputs
                .iter()
                .filter(|n| *n != CONTENT && last_use.get(n.as_str()) == Some(&i))
                .cloned()
                .collect();
            if self.scratch.len() < inputs.len() {
                self.scratch.resize_with(inputs.len(), Vec::new);
            }
            for (y0, y1) in tiles(hq, tq) {
                let (ay0, ay1) = window(y0, hq, tq, halo);
                for (x0, x1) in tiles(wq, tq) {
                    let (ax0, ax1) = window(x0, wq, tq, halo);
                    // The window of each input.
                    for (k, (name, c, f)) in inputs.iter().enumerate() {
                        let (h, w) = ((ay1 - ay0) * f, (ax1 - ax0) * f);
                        if name == CONTENT {
                            grow(&mut self.pixels, h * w * 3, 0)?;
                            let (y0, x0) = (ay0 * f, ax0 * f);
                            fill_nhwc_window(content, y0, x0, h, w, &mut self.pixels, |v| v);
                            continue;
                        }
                        let buf = &kept[name];
                        let (bh, bw) = (hq * f, wq * f);
                        let dst = &mut self.scratch[k];
                        grow(dst, c * h * w, 0.0)?;
                        for ch in 0..*c {
                            for y in 0..h {
                                let src = &buf[(ch * bh + ay0 * f + y) * bw + ax0 * f..][..w];
                                src.convert_to_f32_slice(&mut dst[(ch * h + y) * w..][..w]);
                            }
                        }
                    }
                    let mut feed: Vec<(&str, TileInput)> = Vec::with_capacity(8);
                    for (k, (name, c, f)) in inputs.iter().enumerate() {
                        let (h, w) = ((ay1 - ay0) * f, (ax1 - ax0) * f);
                        feed.push((
                            name,
                            if name == CONTENT {
                                TileInput::U8(&self.pixels, [1, h, w, 3])
                            } else {
                                TileInput::F32(&self.scratch[k], [1, *c, h, w])
                            },
                        ));
                    }
                    for s in &stat_inputs {
                        let v = &known[s];
                        feed.push((s, TileInput::F32(v, [1, v.len(), 1, 1])));
                    }
                    if embedding {
                        let input = &self.bundle.header.style_input;
                        feed.push((
                            input,
                            if style_rank == 1 {
                                TileInput::Vector(style)
                            } else {
                                TileInput::F32(style, style_shape)
                            },
                        ));
                    }
                    let mut take = |k: usize, value: TileOutput| {
                        let sink = &mut sinks[k];
                        let so = sink.factor;
                        // The tile's own region within the window, at the output's resolution.
                        let region = Region {
                            wh: (ay1 - ay0) * so,
                            ww: (ax1 - ax0) * so,
                            ry: (y0 - ay0) * so,
                            rx: (x0 - ax0) * so,
                            rh: (y1 - y0) * so,
                            rw: (x1 - x0) * so,
                            oy: y0 * so,
                            ox: x0 * so,
                        };
                        match (sink.picture, value) {
                            (true, TileOutput::U8(px, shape)) => {
                                check_shape(
                                    &origin,
                                    shape,
                                    &[1, region.wh as i64, region.ww as i64, 3],
                                )?;
                                write_picture(px, &region, out);
                            }
                            (false, TileOutput::F32(v, shape)) => {
                                let want =
                                    [1, sink.channels as i64, region.wh as i64, region.ww as i64];
                                check_shape(&origin, shape, &want)?;
                                sink.take(v, &region, hq * so, wq * so);
                            }
                            _ => return Err(wrong_type(&origin)),
                        }
                        Ok(())
                    };
                    self.runner
                        .run(&self.bundle, &seg_name, &feed, &output_names, &mut take)?;
                }
            }
            let header = &self.bundle.header;
            for (sink, o) in sinks.into_iter().zip(&header.plans[plan].stages[i].outputs) {
                if let (Some(s), Some(n)) = (&sink.sums, o.stats) {
                    let norm = &header.norms[n];
                    let count = (hq * sink.factor * wq * sink.factor) as f64;
                    let mean: Vec<f64> = s.chunks_exact(2).map(|p| p[0] / count).collect();
                    let var: Vec<f32> = s
                        .chunks_exact(2)
                        .zip(&mean)
                        .map(|(p, m)| (p[1] / count - m * m).max(0.0) as f32)
                        .collect();
                    known.insert(norm.mean.clone(), mean.iter().map(|&m| m as f32).collect());
                    known.insert(norm.variance.clone(), var);
                }
                if let Some(buf) = sink.keep {
                    kept.insert(o.tensor.clone(), buf);
                }
            }
            for name in frees {
                kept.remove(&name);
            }
        }
        Ok(())
    }
}

/// Where a tile's output lies: the window (`wh x ww`), the tile's own region in it (at `ry`,
/// `rx`, `rh x rw`) and where that region goes in the whole tensor (`oy`, `ox`).
struct Region {
    wh: usize,
    ww: usize,
    ry: usize,
    rx: usize,
    rh: usize,
    rw: usize,
    oy: usize,
    ox: usize,
}

impl Sink {
    /// Adds a tile's own region of an NCHW output to the statistics and the kept tensor
    /// (`height x width` per channel).
    fn take(&mut self, v: &[f32], r: &Region, height: usize, width: usize) {
        for ch in 0..self.channels {
            let (mut s1, mut s2) = (0f64, 0f64);
            for y in 0..r.rh {
                let row = &v[(ch * r.wh + r.ry + y) * r.ww + r.rx..][..r.rw];
                if self.sums.is_some() {
                    let (a, b) = sums_f64(row);
                    s1 += a;
                    s2 += b;
                }
                if let Some(buf) = self.keep.as_mut() {
                    let at = (ch * height + r.oy + y) * width + r.ox;
                    buf[at..at + r.rw].convert_from_f32_slice(row);
                }
            }
            if let Some(s) = self.sums.as_mut() {
                s[2 * ch] += s1;
                s[2 * ch + 1] += s2;
            }
        }
    }
}

/// A zeroed buffer of `n` values, or the error a picture too large for memory gets (not the
/// abort of a failed `vec!`).
fn zeroed(n: usize) -> Result<Vec<f16>, StylizeError> {
    let mut v = Vec::new();
    grow(&mut v, n, f16::ZERO)?;
    Ok(v)
}

/// Resizes `v` to `n` values, failing cleanly when the memory is not there.
fn grow<T: Clone>(v: &mut Vec<T>, n: usize, value: T) -> Result<(), StylizeError> {
    if n > v.len() {
        v.try_reserve_exact(n - v.len()).map_err(|_| {
            StylizeError::OutOfMemory(format!(
                "could not allocate {} MB for a tiled picture",
                (n * std::mem::size_of::<T>()).div_ceil(1_000_000)
            ))
        })?;
    }
    v.resize(n, value);
    Ok(())
}

/// The sum and the sum of squares of `row`, in f64: the variance is E[x^2] - mean^2, which
/// would cancel in f32 where a channel's mean is large against its spread. Eight lanes, so
/// that the compiler vectorises it (a strict left-to-right sum cannot be).
fn sums_f64(row: &[f32]) -> (f64, f64) {
    let mut s1 = [0f64; 8];
    let mut s2 = [0f64; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for i in 0..8 {
            let x = f64::from(c[i]);
            s1[i] += x;
            s2[i] += x * x;
        }
    }
    let (mut a, mut b) = (s1.iter().sum::<f64>(), s2.iter().sum::<f64>());
    for &x in chunks.remainder() {
        let x = f64::from(x);
        a += x;
        b += x * x;
    }
    (a, b)
}

fn wrong_type(origin: &str) -> StylizeError {
    StylizeError::Model(ModelError::Invalid {
        path: origin.into(),
        role: "tiled transformation",
        reason: "a segment gave pixels where activations belong, or the reverse".into(),
    })
}

fn check_shape(origin: &str, shape: &[i64], want: &[i64]) -> Result<(), StylizeError> {
    if shape != want {
        return Err(StylizeError::Model(ModelError::Invalid {
            path: origin.into(),
            role: "tiled transformation",
            reason: format!("a segment gave shape {shape:?}, not {want:?}"),
        }));
    }
    Ok(())
}

/// Writes a tile's own region of an NHWC u8 window into the picture, clipped to its size.
fn write_picture(px: &[u8], r: &Region, out: &mut RgbImage) {
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
    use super::*;

    #[test]
    fn the_smallest_budget_runs_small_pictures_whole() {
        for network in [Network::Transform, Network::Presets] {
            assert!(whole_estimate(network, 256, 256) <= MIN_MEMORY_BUDGET);
        }
        assert!(whole_estimate(Network::Presets, 300, 300) > MIN_MEMORY_BUDGET);
    }

    #[test]
    fn row_sums_are_exact_where_f32_would_cancel() {
        // A mean of 1000 and a spread of 0.01: f32 sums lose the variance entirely.
        let row: Vec<f32> = (0..1003)
            .map(|i| 1000.0 + if i % 2 == 0 { 0.01 } else { -0.01 })
            .collect();
        let (s1, s2) = sums_f64(&row);
        let n = row.len() as f64;
        let want: f64 = row.iter().map(|&x| f64::from(x)).sum();
        assert!((s1 - want).abs() < 1e-9 * want);
        let mean = s1 / n;
        let var = s2 / n - mean * mean;
        let exact = row
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!((var - exact).abs() < 1e-3 * exact, "{var} vs {exact}");
    }

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

    #[test]
    fn the_embedded_bundles_parse_and_their_peak_is_what_the_readme_says() {
        for variant in [Precision::Fp32, Precision::Fp16] {
            let set = crate::ModelSet::embedded();
            let b = Bundle::parse(set.tiled_for(variant).expect("embedded")).expect("valid");
            // 6000x4000 in 256 px tiles. While a residual block's sum is formed: four
            // 32-channel quarter-resolution tensors in fp16 (the previous sum, its second
            // convolution, the new sum, the next first convolution) and a 66x66 window. While
            // the last convolution runs: its input at half resolution (16 channels), its
            // 3-channel output at full resolution, and a full-resolution window of 272x272.
            let residual = 4 * 32 * 1000 * 1500 * 2 + 1200 * 66 * 66;
            let expand = 16 * 2000 * 3000 * 2 + 3 * 4000 * 6000 * 2 + 1200 * 272 * 272;
            let lean = b.header.plans.iter().find(|p| p.name == "lean").unwrap();
            assert_eq!(
                b.header.peak(lean, 1000, 1500, 64),
                residual.max(expand),
                "{variant}"
            );
            // The fast plan keeps the 8-channel full-resolution tensor beside the half-resolution
            // one while it is made.
            let fast = &b.header.plans[0];
            assert_eq!(fast.name, "fast");
            let expand2 = 16 * 2000 * 3000 * 2 + 8 * 4000 * 6000 * 2 + 1200 * 264 * 264;
            assert_eq!(b.header.peak(fast, 1000, 1500, 64), expand2, "{variant}");
        }
    }

    #[test]
    fn damaged_bundles_are_refused_with_a_reason() {
        let good = crate::ModelSet::embedded().tiled_fp32.expect("embedded");
        let with = |bytes: Vec<u8>| ModelBytes {
            origin: "x.bundle".into(),
            bytes: Cow::Owned(bytes),
        };
        let err = |bytes: Vec<u8>| {
            Bundle::parse(&with(bytes))
                .err()
                .expect("refused")
                .to_string()
        };
        assert!(err(b"ONNX".to_vec()).contains("does not start with BWTILES1"));
        assert!(err(good.bytes[..20].to_vec()).contains("cut short"));
        let cut = good.bytes.len() - 1000;
        assert!(err(good.bytes[..cut].to_vec()).contains("outside the file"));

        // A header that parses but says what the executor could not do safely.
        let len = u32::from_le_bytes(good.bytes[8..12].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&good.bytes[12..12 + len]).unwrap();
        let with_header = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut h = header.clone();
            edit(&mut h);
            let json = serde_json::to_vec(&h).unwrap();
            let mut bytes = MAGIC.to_vec();
            bytes.extend((json.len() as u32).to_le_bytes());
            bytes.extend(json);
            bytes.extend(&good.bytes[12 + len..]);
            err(bytes)
        };
        let first_norm_input = header["norms"][0]["input"].as_str().unwrap().to_string();
        type Edit<'a> = &'a dyn Fn(&mut serde_json::Value);
        let cases: [(Edit, &str); 6] = [
            (
                &|h| h["plans"][0]["stages"][1]["outputs"][0]["stats"] = serde_json::Value::Null,
                "before it is computed",
            ),
            (
                &|h| {
                    let seg = h["plans"][0]["stages"][2]["segment"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    h["segments"][seg]["inputs"][0] = "stylized_image".into();
                },
                "reads stylized_image",
            ),
            (
                &|h| h["tensors"][first_norm_input.as_str()]["channels"] = 1_000_000_000.into(),
                "channels",
            ),
            (
                &|h| h["segments"]["contract"]["halo"] = u64::MAX.into(),
                "halo",
            ),
            (
                &|h| h["style_shape"] = serde_json::json!([0]),
                "style input",
            ),
            (
                &|h| h["tensors"]["stylized_image"]["scale"] = 2.into(),
                "full resolution",
            ),
        ];
        for (edit, needle) in cases {
            let e = with_header(edit);
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }
}
