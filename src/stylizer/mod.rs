//! [`Stylizer`]: the networks in ONNX Runtime sessions (and the transformation network on
//! OpenVINO for `--device openvino`), with the buffers they reuse. The transformation network
//! and its I/O binding live in `transformer`, its OpenVINO engine in `openvino`, the 26-preset
//! network in `multistyle`, session building in `session`; applying a whole
//! [`Look`](crate::look::Look) is [`Stylizer::paint_into`], in [`crate::look`].

mod multistyle;
mod openvino;
mod session;
mod tiled;
mod transformer;

use tiled::{Bundle, Network, Runner, Tiler};
pub use tiled::{
    Tiling, DEFAULT_GPU_MEMORY_BUDGET, DEFAULT_MEMORY_BUDGET, DEFAULT_TILE_SIDE, MIN_MEMORY_BUDGET,
};

use openvino::OpenVinoTransformer;
use session::{check_io, session};
use transformer::Transformer;

use image::RgbImage;
use ort::session::Session;
use ort::value::TensorRef;

use crate::models::{ModelError, ModelSet, Precision};
pub use crate::providers::Device;
use crate::providers::{self, DeviceError};
use crate::runtime::RuntimeError;
use crate::style::{style_input, StyleEmbedding, EMBEDDING_DIM, STYLE_SIDE};

const STYLE_IMAGE: &str = "style_image";
const STYLE_EMBEDDING: &str = "style_embedding";
const CONTENT_IMAGE: &str = "content_image";
const STYLIZED_IMAGE: &str = "stylized_image";
const STYLE_WEIGHTS: &str = "style_weights";
/// The smallest content side the transformer handles (its first reflect pad is 4 px).
pub const MIN_CONTENT_SIDE: u32 = 16;

/// How a [`Stylizer`] is built.
#[derive(Debug, Clone)]
pub struct StylizerOptions {
    /// The networks; [`ModelSet::embedded`] by default.
    pub models: ModelSet,
    /// Threads per inference (ONNX Runtime's intra-op threads); `None` lets it choose (one per
    /// physical core).
    pub threads: Option<usize>,
    /// Where the transformation network runs (the style-prediction network always runs on the
    /// CPU: see [`Stylizer::new`]).
    pub device: Device,
    /// The transformer variant; `None` picks fp32 on the CPU and fp16 on a GPU (int8 when the
    /// models lack those).
    pub precision: Option<Precision>,
    /// Pictures whose untiled run would need more memory than this, in bytes, run in tiles.
    /// `None`: [`DEFAULT_MEMORY_BUDGET`] ([`DEFAULT_GPU_MEMORY_BUDGET`] on a GPU), exceeded
    /// rather than refused by a picture that cannot fit it even in tiles; a budget given here
    /// is kept, and such a picture is an error. At least [`MIN_MEMORY_BUDGET`]: a smaller one
    /// is raised to it.
    pub memory_budget: Option<u64>,
    /// The side of a tile in pixels ([`DEFAULT_TILE_SIDE`]; rounded down to a multiple of 4,
    /// at least 16).
    pub tile_side: u32,
    /// What will be stylized, where the caller knows it before starting (`stylize` does; a
    /// stream does not): [`Device::Auto`] then leaves out OpenVINO when its per-size compile
    /// would cost more than its bf16 speed saves (see [`OPENVINO_MIN_PIXELS_PER_SIZE`]).
    pub workload: Option<Workload>,
}

/// The pictures a one-shot job will stylize: what [`Device::Auto`] weighs an engine's start-up
/// against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// Pixels of all the pictures together.
    pub pixels: u64,
    /// How many different sizes there are among them (OpenVINO compiles once per size).
    pub sizes: u64,
}

impl Workload {
    /// The work of stylizing pictures of these sizes: their pixels, and how many distinct
    /// padded sizes they have (sizes that pad to the same tensor share a compile).
    ///
    /// ```
    /// use brushwork::Workload;
    /// // 333x250 and 334x252 both pad to 336x252.
    /// let w = Workload::of([(333, 250), (334, 252), (640, 480)]);
    /// assert_eq!(w, Workload { pixels: 333 * 250 + 334 * 252 + 640 * 480, sizes: 2 });
    /// assert!(!w.repays_openvino());
    /// assert!(Workload::of([(1920, 1080)]).repays_openvino());
    /// ```
    pub fn of(sizes: impl IntoIterator<Item = (u32, u32)>) -> Workload {
        let mut pixels = 0u64;
        let mut padded: Vec<(u32, u32)> = Vec::new();
        for (w, h) in sizes {
            pixels += u64::from(w) * u64::from(h);
            padded.push((crate::tensor::padded(w), crate::tensor::padded(h)));
        }
        padded.sort_unstable();
        padded.dedup();
        Workload {
            pixels,
            sizes: padded.len() as u64,
        }
    }

    /// Whether OpenVINO's compiles are repaid by its speed on this much work.
    pub fn repays_openvino(&self) -> bool {
        self.pixels >= self.sizes.max(1) * OPENVINO_MIN_PIXELS_PER_SIZE
    }
}

/// Under this many pixels per picture size, `auto` runs a known workload on ONNX Runtime:
/// OpenVINO's compile (about 0.3 s a size on 2 cores, the first frame's set-up on top) costs more
/// than bf16 saves. Measured on 2 AMX cores, a whole `stylize` process: 384x384 0.38 s on
/// OpenVINO against 0.16 s on ONNX Runtime, 1920x1080 0.77 against 1.11 s; the two cross near
/// 0.8 megapixels.
pub const OPENVINO_MIN_PIXELS_PER_SIZE: u64 = 800_000;

impl Default for StylizerOptions {
    fn default() -> Self {
        StylizerOptions {
            models: ModelSet::embedded(),
            threads: None,
            device: Device::Auto,
            precision: None,
            memory_budget: None,
            tile_side: DEFAULT_TILE_SIDE,
            workload: None,
        }
    }
}

/// Errors from building or running a [`Stylizer`].
#[derive(Debug, thiserror::Error)]
pub enum StylizeError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error("image is {width}x{height}; both sides must be at least {MIN_CONTENT_SIDE} px")]
    TooSmall { width: u32, height: u32 },
    #[error(
        "the models in use have no multi-style network ({}), so presets are unavailable",
        crate::models::MULTISTYLE_FILE
    )]
    NoPresets,
    #[error(
        "the models in use have no {precision} transformation network ({}); use --precision int8 or add that file to the models directory",
        precision.file()
    )]
    NoVariant { precision: Precision },
    #[error(
        "not enough memory to stylize this picture: {0}; use --max-size (or a smaller --size)"
    )]
    OutOfMemory(String),
    #[error("inference failed: {0}")]
    Inference(ort::Error),
    #[error("OpenVINO inference failed: {0}")]
    OpenVino(String),
    #[error("bf16 runs on OpenVINO only; use --device openvino (or --precision fp32)")]
    Bf16NeedsOpenVino,
    #[error("a {width}x{height} picture needs at least {} even in tiles of this size; the memory budget is {}: raise --memory-budget, use a smaller --tile-size or --max-size", tiled::mib(*needed), tiled::mib(*budget))]
    OverBudget {
        width: u32,
        height: u32,
        needed: u64,
        budget: u64,
    },
    #[error("a {width}x{height} picture needs about {} untiled, over the memory budget of {}, and {reason}", tiled::mib(*needed), tiled::mib(*budget))]
    CannotTile {
        width: u32,
        height: u32,
        needed: u64,
        budget: u64,
        /// Why, and what to do instead.
        reason: String,
    },
}

impl StylizeError {
    /// Whether the user can fix it: a picture too small or too large for memory, a variant or
    /// network their models directory lacks, a broken model of theirs. ONNX Runtime itself, a
    /// device, a failed inference or a broken built-in model are not theirs.
    pub fn is_user_error(&self) -> bool {
        match self {
            StylizeError::TooSmall { .. }
            | StylizeError::OutOfMemory(_)
            | StylizeError::OverBudget { .. }
            | StylizeError::CannotTile { .. }
            | StylizeError::NoPresets
            | StylizeError::NoVariant { .. }
            | StylizeError::Bf16NeedsOpenVino => true,
            StylizeError::Model(m) => m.is_users(),
            StylizeError::Runtime(_)
            | StylizeError::Device(_)
            | StylizeError::Inference(_)
            | StylizeError::OpenVino(_) => false,
        }
    }
}

impl From<ort::Error> for StylizeError {
    /// An allocation failure is told apart from other failures: the user can avoid it.
    fn from(e: ort::Error) -> Self {
        let msg = e.to_string();
        match msg.find("Failed to allocate memory") {
            Some(at) => {
                let what = msg[at..].trim();
                let what = what
                    .rsplit_once(' ')
                    .and_then(|(_, n)| n.parse::<f64>().ok())
                    .map_or_else(
                        || "ONNX Runtime could not allocate memory".to_string(),
                        |bytes| format!("ONNX Runtime could not allocate {:.0} MB", bytes / 1e6),
                    );
                StylizeError::OutOfMemory(what)
            }
            None => StylizeError::Inference(e),
        }
    }
}

/// Arbitrary style transfer: [`embed`](Stylizer::embed) a painting once, then
/// [`stylize`](Stylizer::stylize) any number of photos with it, at their own resolution.
///
/// ```
/// use brushwork::{Stylizer, StylizerOptions};
///
/// let painting = image::open("examples/styles/towers_1916_sq.jpg")?.into_rgb8();
/// let photo = image::open("examples/content/golden_gate_sq.jpg")?.into_rgb8();
///
/// let mut stylizer = Stylizer::new(StylizerOptions::default())?;
/// let style = stylizer.embed(&painting)?;
/// let out = stylizer.stylize(&photo, &style)?;
/// assert_eq!(out.dimensions(), photo.dimensions());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Stylizer {
    predict: Session,
    transform: Engine,
    /// The 26-style network, loaded on first use of a preset.
    multistyle: Option<Session>,
    threads: Option<usize>,
    models: ModelSet,
    /// sha256 of the style-prediction model, computed on first use.
    predictor_sha256: std::sync::OnceLock<String>,
    /// The padded content tensor of the multi-style network, reused between calls.
    content: Vec<f32>,
    /// The style image tensor, reused between calls.
    style: Vec<f32>,
    memory_budget: Option<u64>,
    tile_side: u32,
    /// The segments for tiled pictures, loaded on the first picture over the budget.
    tiler: Option<Tiler>,
    /// The presets' network's segments, likewise.
    preset_tiler: Option<Tiler>,
    /// How the last picture ran.
    last_tiling: Option<Tiling>,
    /// Whether it was said once that pictures over the default budget run whole.
    warned_untiled: bool,
}

impl Stylizer {
    /// Loads ONNX Runtime (once per process) and both networks.
    ///
    /// The device and precision are settled on the transformation network, the one that runs
    /// per frame; `Device::Auto` takes the first candidate that starts. The style-prediction
    /// network runs on the CPU whatever the device: it runs once per style (7 ms), a GPU
    /// session for it would cost more to start than it saves, and its embeddings, which style
    /// files store, are then the same on every machine.
    pub fn new(options: StylizerOptions) -> Result<Self, StylizeError> {
        let transform = match options.device {
            Device::Auto => {
                let mut last_err = None;
                let mut found = None;
                // OpenVINO is chosen for bf16: with another precision asked for, auto keeps to
                // ONNX Runtime.
                let mut openvino_wanted = matches!(options.precision, None | Some(Precision::Bf16));
                // Unless bf16 was asked for by name, a small known workload stays on ONNX
                // Runtime: it is done before OpenVINO would have compiled.
                if let (None, Some(w)) = (options.precision, options.workload) {
                    if openvino_wanted && !w.repays_openvino() {
                        openvino_wanted = false;
                        log::debug!(
                            "device auto: openvino left out: {:.2} megapixels in {} size{} is under {:.1} a size, less than its compile costs",
                            w.pixels as f64 / 1e6,
                            w.sizes,
                            if w.sizes == 1 { "" } else { "s" },
                            OPENVINO_MIN_PIXELS_PER_SIZE as f64 / 1e6,
                        );
                    }
                }
                for candidate in providers::auto_candidates()
                    .into_iter()
                    .filter(|d| *d != Device::OpenVino || openvino_wanted)
                {
                    match Engine::new(&options, candidate) {
                        Ok(t) => {
                            found = Some(t);
                            break;
                        }
                        Err(e) => {
                            log::debug!(
                                "device auto: {candidate} did not start ({e}); trying the next"
                            );
                            last_err = Some(e);
                        }
                    }
                }
                match (found, last_err) {
                    (Some(t), _) => t,
                    (None, Some(e)) => return Err(e),
                    (None, None) => unreachable!("the CPU is always a candidate"),
                }
            }
            device => Engine::new(&options, device)?,
        };
        let predict = session(
            &options.models.predict,
            options.threads,
            Device::Cpu,
            Precision::Int8,
            "style prediction",
        )?;
        check_io(
            &predict,
            &options.models.predict,
            &[STYLE_IMAGE],
            STYLE_EMBEDDING,
        )?;
        Ok(Stylizer {
            predict,
            transform,
            multistyle: None,
            threads: options.threads,
            models: options.models,
            predictor_sha256: std::sync::OnceLock::new(),
            content: Vec::new(),
            style: Vec::new(),
            memory_budget: options.memory_budget.map(|b| b.max(MIN_MEMORY_BUDGET)),
            tile_side: (options.tile_side / 4 * 4).max(16),
            tiler: None,
            preset_tiler: None,
            last_tiling: None,
            warned_untiled: false,
        })
    }

    /// The device the transformation network runs on (what `Auto` resolved to).
    pub fn device(&self) -> Device {
        self.transform.device()
    }

    /// The engine running the transformation network, with its version: `ONNX Runtime 1.31.1`
    /// or `OpenVINO 2026.4.1`.
    pub fn engine(&self) -> String {
        match &self.transform {
            Engine::Ort(_) => crate::runtime::info().map_or_else(
                |_| "ONNX Runtime".into(),
                |i| format!("ONNX Runtime {}", i.version),
            ),
            Engine::OpenVino(_) => crate::openvino::loaded().map_or_else(
                || "OpenVINO".into(),
                |i| format!("OpenVINO {}", i.version.split('-').next().unwrap_or("")),
            ),
        }
    }

    /// The transformation network's variant (what `None` resolved to).
    pub fn precision(&self) -> Precision {
        self.transform.precision()
    }

    /// sha256 of the style-prediction model: style files record it, and are only valid with it.
    pub fn predictor_sha256(&self) -> &str {
        self.predictor_sha256
            .get_or_init(|| self.models.predict.sha256())
    }

    /// The networks this stylizer runs.
    pub fn models(&self) -> &ModelSet {
        &self.models
    }

    /// One line per network input and output: name, element type and shape.
    pub fn describe_io(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut sessions = vec![("predict", &self.predict)];
        if let Engine::Ort(t) = &self.transform {
            sessions.push(("transform", &t.session));
        }
        for (role, session) in sessions {
            for (dir, outlets) in [("in ", session.inputs()), ("out", session.outputs())] {
                for o in outlets {
                    lines.push(format!("{role} {dir} {}: {}", o.name(), o.dtype()));
                }
            }
        }
        if let Engine::OpenVino(t) = &self.transform {
            lines.extend(t.describe_io());
        }
        lines
    }

    /// The style embedding of a painting. The painting is center-cropped to a square and resized
    /// to 256×256 first (see [`style_input`]).
    pub fn embed(&mut self, painting: &RgbImage) -> Result<StyleEmbedding, StylizeError> {
        check_size(painting)?;
        let square = style_input(painting);
        let side = STYLE_SIDE as usize;
        self.style.clear();
        self.style
            .extend(square.as_raw().iter().map(|&v| f32::from(v) / 255.0));
        let input = TensorRef::from_array_view(([1, side, side, 3], &self.style[..]))?;
        let outputs = self.predict.run(ort::inputs![STYLE_IMAGE => input])?;
        let (_, values) = outputs[STYLE_EMBEDDING].try_extract_tensor::<f32>()?;
        StyleEmbedding::from_slice(values).ok_or_else(|| {
            StylizeError::Model(ModelError::Invalid {
                path: self.models.predict.origin.clone(),
                role: "style prediction",
                reason: format!("it gave {} numbers, not {EMBEDDING_DIM}", values.len()),
            })
        })
    }

    /// Gets ready for a `width`×`height` picture that is coming, where that takes time: on
    /// OpenVINO the network is compiled for that size on a thread of its own, while the caller
    /// decodes the picture and prepares its style. Nothing happens on other engines, for a
    /// picture that will run in tiles, or one too small to run; a failed compile is reported by
    /// the run of that picture.
    pub fn prepare(&mut self, width: u32, height: u32) {
        if !matches!(self.transform, Engine::OpenVino(_))
            || width < MIN_CONTENT_SIDE
            || height < MIN_CONTENT_SIDE
        {
            return;
        }
        if !matches!(
            self.tiling_of(Network::Transform, width, height),
            Ok(Tiling::Whole { .. })
        ) {
            return;
        }
        if let Engine::OpenVino(t) = &mut self.transform {
            t.prepare(
                crate::tensor::padded(height) as usize,
                crate::tensor::padded(width) as usize,
            );
        }
    }

    /// Stylizes `content` at its own resolution.
    pub fn stylize(
        &mut self,
        content: &RgbImage,
        style: &StyleEmbedding,
    ) -> Result<RgbImage, StylizeError> {
        let mut out = RgbImage::new(content.width(), content.height());
        self.stylize_into(content, style, &mut out)?;
        Ok(out)
    }

    /// Like [`stylize`](Stylizer::stylize), writing into `out` (resized if its size differs), so
    /// a caller that stylizes many frames allocates no image per frame.
    pub fn stylize_into(
        &mut self,
        content: &RgbImage,
        style: &StyleEmbedding,
        out: &mut RgbImage,
    ) -> Result<(), StylizeError> {
        check_size(content)?;
        let tiling = self.tiling_of(Network::Transform, content.width(), content.height())?;
        if out.dimensions() != content.dimensions() {
            *out = RgbImage::new(content.width(), content.height());
        }
        match &tiling {
            Tiling::Whole { .. } => self.transform.run(content, style, out)?,
            Tiling::Tiled {
                plan, tile_side, ..
            } => self.run_tiled(
                Network::Transform,
                content,
                style.as_slice(),
                out,
                (plan, *tile_side),
            )?,
        }
        self.ran(content, tiling);
        Ok(())
    }

    /// Records (and, when it changes, logs) how the last picture ran.
    fn ran(&mut self, content: &RgbImage, tiling: Tiling) {
        if self.last_tiling.as_ref() != Some(&tiling) {
            log::debug!("{}x{}: {tiling}", content.width(), content.height());
        }
        self.last_tiling = Some(tiling);
    }

    /// How a `width x height` picture will run with a style: whole, or in tiles that fit the
    /// memory budget (loading the tiled segments on the first picture that needs them).
    pub fn tiling_for(&mut self, width: u32, height: u32) -> Result<Tiling, StylizeError> {
        self.tiling_of(Network::Transform, width, height)
    }

    fn tiling_of(
        &mut self,
        network: Network,
        width: u32,
        height: u32,
    ) -> Result<Tiling, StylizeError> {
        let budget = self.memory_budget.unwrap_or(match self.device() {
            Device::Cuda(_) | Device::TensorRt(_) => DEFAULT_GPU_MEMORY_BUDGET,
            _ => DEFAULT_MEMORY_BUDGET,
        });
        let whole = tiled::whole_estimate(network, width, height);
        if whole <= budget {
            return Ok(Tiling::Whole { estimate: whole });
        }
        let precision = match network {
            Network::Transform => self.transform.precision(),
            Network::Presets => Precision::Fp32,
        };
        let cannot = |reason| StylizeError::CannotTile {
            width,
            height,
            needed: whole,
            budget,
            reason,
        };
        if self.tiler_of(network).is_none() {
            let (model, file) = match network {
                Network::Transform => (
                    self.models.tiled_for(precision),
                    match precision {
                        Precision::Fp16 => crate::models::TILED_FP16_FILE,
                        _ => crate::models::TILED_FP32_FILE,
                    },
                ),
                Network::Presets => (
                    self.models.tiled_multistyle.as_ref(),
                    crate::models::TILED_MULTISTYLE_FILE,
                ),
            };
            let Some(model) = model else {
                let reason = if precision == Precision::Int8 {
                    "the int8 network cannot run in tiles (it rounds its statistics to int8 \
                     inside the graph): use --precision fp32, or raise --memory-budget"
                        .to_string()
                } else {
                    format!(
                        "the models directory has no {file} to run it in tiles: add it \
                         (python3 python-export/tiling.py writes it), or raise --memory-budget"
                    )
                };
                if self.memory_budget.is_some() {
                    return Err(cannot(reason));
                }
                if !self.warned_untiled {
                    self.warned_untiled = true;
                    log::warn!("{}; running it whole", cannot(reason));
                }
                return Ok(Tiling::Whole { estimate: whole });
            };
            let bundle = Bundle::parse(model)?;
            // The segments run where the whole network runs, in the same precision (the
            // presets' network on ONNX Runtime, beside the transformer, in float32).
            let runner = match (&self.transform, network) {
                (Engine::OpenVino(_), Network::Transform) => {
                    Runner::OpenVino(openvino::OpenVinoSegments::new(precision, self.threads)?)
                }
                (engine, _) => Runner::ort(engine.ort_device(), precision, self.threads),
            };
            *self.tiler_of(network) = Some(Tiler::new(bundle, runner));
        }
        let (budget_given, tile_side) = (self.memory_budget.is_some(), self.tile_side);
        let tiler = self.tiler_of(network).as_ref().expect("loaded above");
        tiler.choose(width, height, budget, budget_given, tile_side)
    }

    /// The tiled segments of `network`, once loaded.
    fn tiler_of(&mut self, network: Network) -> &mut Option<Tiler> {
        match network {
            Network::Transform => &mut self.tiler,
            Network::Presets => &mut self.preset_tiler,
        }
    }

    /// Runs `content` in tiles of `network` by `plan` (one [`Self::tiling_of`] chose, which
    /// loaded the segments).
    fn run_tiled(
        &mut self,
        network: Network,
        content: &RgbImage,
        style: &[f32],
        out: &mut RgbImage,
        (plan, tile_side): (&str, u32),
    ) -> Result<(), StylizeError> {
        if out.dimensions() != content.dimensions() {
            *out = RgbImage::new(content.width(), content.height());
        }
        self.tiler_of(network)
            .as_mut()
            .expect("loaded by tiling_of")
            .run(content, style, out, plan, tile_side)
    }

    /// How the last picture ran (`None` before the first).
    pub fn last_tiling(&self) -> Option<&Tiling> {
        self.last_tiling.as_ref()
    }
}

/// The engine that runs the transformation network. One per stylizer: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Engine {
    Ort(Transformer),
    OpenVino(OpenVinoTransformer),
}

impl Engine {
    fn new(options: &StylizerOptions, device: Device) -> Result<Self, StylizeError> {
        match device {
            Device::OpenVino => Ok(Engine::OpenVino(OpenVinoTransformer::new(
                &options.models,
                options.precision,
                options.threads,
            )?)),
            _ if options.precision == Some(Precision::Bf16) => Err(StylizeError::Bf16NeedsOpenVino),
            device => Ok(Engine::Ort(Transformer::new(options, device)?)),
        }
    }

    fn device(&self) -> Device {
        match self {
            Engine::Ort(t) => t.device,
            Engine::OpenVino(_) => Device::OpenVino,
        }
    }

    fn precision(&self) -> Precision {
        match self {
            Engine::Ort(t) => t.precision,
            Engine::OpenVino(t) => t.precision,
        }
    }

    /// The device ONNX Runtime sessions beside it (presets) run on.
    fn ort_device(&self) -> Device {
        match self {
            Engine::Ort(t) => t.device,
            Engine::OpenVino(_) => Device::Cpu,
        }
    }

    fn run(
        &mut self,
        content: &RgbImage,
        style: &StyleEmbedding,
        out: &mut RgbImage,
    ) -> Result<(), StylizeError> {
        match self {
            Engine::Ort(t) => t.run(content, style, out),
            Engine::OpenVino(t) => t.run(content, style, out),
        }
    }
}

/// The padded tensor size (height, width) of a picture: both sides a multiple of the stride.
fn padded_dims(content: &RgbImage) -> (usize, usize) {
    (
        crate::tensor::padded(content.height()) as usize,
        crate::tensor::padded(content.width()) as usize,
    )
}

/// Checks the transformer's output shape against its input's, whichever engine ran it.
fn check_output_shape(origin: &str, dims: &[i64], h: usize, w: usize) -> Result<(), StylizeError> {
    if dims.len() != 4 || dims[1] as usize != h || dims[2] as usize != w || dims[3] != 3 {
        return Err(StylizeError::Model(ModelError::Invalid {
            path: origin.to_string(),
            role: "transformation",
            reason: format!("output shape {dims:?} for input [1, {h}, {w}, 3]"),
        }));
    }
    Ok(())
}

pub(crate) fn check_size(img: &RgbImage) -> Result<(), StylizeError> {
    let (width, height) = img.dimensions();
    if width < MIN_CONTENT_SIDE || height < MIN_CONTENT_SIDE {
        return Err(StylizeError::TooSmall { width, height });
    }
    Ok(())
}
