//! [`Stylizer`]: the three networks (style prediction, transformation, the 26 presets) on the
//! engines of [`crate::engine`], with the buffers they reuse, and pictures over the memory
//! budget in tiles.
//!
//! - `options`: [`StylizerOptions`] and the [`Workload`] `auto` weighs;
//! - `error`: [`StylizeError`];
//! - `tiling`: whole or tiled, by the memory budget; `tiled`: the tiled executor;
//! - `multistyle`: the presets' network.
//!
//! Applying a whole [`Look`](crate::look::Look) is [`Stylizer::paint_into`], in
//! [`crate::look`].

mod error;
mod multistyle;
mod options;
mod tiled;
mod tiling;

pub use error::StylizeError;
pub use options::{StylizerOptions, Workload, OPENVINO_MIN_PIXELS_PER_SIZE};
pub use tiled::{
    Tiling, DEFAULT_GPU_MEMORY_BUDGET, DEFAULT_MEMORY_BUDGET, DEFAULT_TILE_SIDE, MIN_MEMORY_BUDGET,
    MIN_TILE_SIDE,
};

use image::RgbImage;

use crate::engine::{
    self, Device, EngineError, Graph, Graphs, Input, Output, Transformer, STYLE_EMBEDDING,
    STYLE_IMAGE,
};
use crate::models::{ModelBytes, ModelError, ModelSet, Precision};
use crate::style::{style_input, StyleEmbedding, EMBEDDING_DIM, STYLE_SIDE};

use tiled::{Network, Tiler};

/// The style prediction network's key among its graphs.
const PREDICT: &str = "predict";

/// The style prediction network as a graph to load from `model`.
fn predictor<'a>(model: &'a dyn Fn() -> ModelBytes) -> Graph<'a> {
    Graph {
        key: PREDICT,
        role: "style prediction",
        model,
    }
}

/// The smallest content side the transformer handles (its first reflect pad is 4 px).
pub const MIN_CONTENT_SIDE: u32 = 16;

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
    /// The style prediction network, on ONNX Runtime's CPU provider.
    predict: Box<dyn Graphs>,
    transform: Box<dyn Transformer>,
    /// The 26-style network, loaded on first use of a preset.
    multistyle: Option<Box<dyn Graphs>>,
    threads: Option<usize>,
    models: ModelSet,
    /// sha256 of the style-prediction model, computed on first use.
    predictor_sha256: std::sync::OnceLock<String>,
    /// The padded content tensor of the multi-style network, reused between calls.
    content: Vec<f32>,
    /// The style image tensor, reused between calls.
    style: Vec<f32>,
    memory_budget: Option<u64>,
    /// The default budget on a GPU, from its free memory when first needed.
    gpu_budget: Option<u64>,
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
    /// Starts the transformation network on its device; the style-prediction network loads
    /// on the first painting to embed (or [`load_predictor`](Self::load_predictor)).
    ///
    /// The device and precision are settled on the transformation network, the one that runs
    /// per frame; `Device::Auto` takes the first candidate that starts (a broken model in the
    /// user's models directory is an error, not a reason to try the next). The
    /// style-prediction network runs on ONNX Runtime's CPU provider whatever the device: it
    /// runs once per style (7 ms), a GPU session for it would cost more to start than it saves,
    /// and its embeddings, which style files store, are then the same on every machine.
    pub fn new(options: StylizerOptions) -> Result<Self, StylizeError> {
        // A known job too small to repay cuDNN's exhaustive algorithm search takes its
        // heuristic one (on CUDA; nothing changes elsewhere).
        engine::onnxruntime::set_one_shot(
            options
                .workload
                .is_some_and(|w| !w.repays_exhaustive_search()),
        );
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
                for candidate in engine::auto_candidates()
                    .into_iter()
                    .filter(|d| *d != Device::OpenVino || openvino_wanted)
                {
                    match start(&options, candidate) {
                        Ok(t) => {
                            found = Some(t);
                            break;
                        }
                        // A damaged model in the user's models directory is theirs to fix,
                        // not a reason to run elsewhere.
                        Err(EngineError::Model(m)) if m.is_users() => {
                            return Err(EngineError::Model(m).into())
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
                    (None, Some(e)) => return Err(e.into()),
                    (None, None) => unreachable!("the CPU is always a candidate"),
                }
            }
            device => start(&options, device)?,
        };
        // The style-prediction network loads on the first painting to embed: style files and
        // built-in styles never need it, and a compile that `prepare` starts runs meanwhile.
        let predict = engine::start_graphs(Device::Cpu, Precision::Int8, options.threads)?;
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
            gpu_budget: None,
            tile_side: (options.tile_side / 4 * 4).max(16),
            tiler: None,
            preset_tiler: None,
            last_tiling: None,
            warned_untiled: false,
        })
    }

    /// Replaces the transformation network with a stand-in that copies each frame
    /// ([`engine::stand_in`]), to measure the work around the network; the style prediction
    /// network stays. A copy needs no tiles, so every picture runs whole.
    pub fn use_stand_in_network(&mut self) {
        self.transform = Box::new(engine::stand_in::StandIn);
        self.memory_budget = Some(u64::MAX);
    }

    /// The device the transformation network runs on (what `Auto` resolved to).
    pub fn device(&self) -> Device {
        self.transform.device()
    }

    /// The engine running the transformation network, with its version: `ONNX Runtime 1.31.1`
    /// or `OpenVINO 2026.4.1`.
    pub fn engine(&self) -> String {
        self.transform.engine()
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

    /// Loads the style-prediction network now (it otherwise loads on the first painting
    /// embedded), and checks its inputs and output.
    pub fn load_predictor(&mut self) -> Result<(), StylizeError> {
        let model = || self.models.predict.clone();
        self.predict
            .load(&predictor(&model), &[STYLE_IMAGE], STYLE_EMBEDDING)?;
        Ok(())
    }

    /// One line per network input and output: name, element type and shape (the
    /// style-prediction network's once it is loaded: see [`load_predictor`](Self::load_predictor)).
    pub fn describe_io(&self) -> Vec<String> {
        let mut lines = self.predict.describe_io(PREDICT, "predict");
        lines.extend(self.transform.describe_io());
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
        // Loaded (and its inputs and output checked) on the first painting.
        self.load_predictor()?;
        let mut embedding = None;
        let predict = &self.models.predict;
        self.predict.run(
            &predictor(&|| predict.clone()),
            &[(STYLE_IMAGE, Input::F32(&self.style, [1, side, side, 3]))],
            &[STYLE_EMBEDDING],
            &mut |_, output| {
                if let Output::F32(values, _) = output {
                    embedding = Some(StyleEmbedding::from_slice(values).ok_or(values.len()));
                }
                Ok(())
            },
        )?;
        match embedding {
            Some(Ok(e)) => Ok(e),
            found => Err(StylizeError::from(ModelError::Invalid {
                path: predict.origin.clone(),
                role: "style prediction",
                reason: match found {
                    Some(Err(n)) => format!("it gave {n} numbers, not {EMBEDDING_DIM}"),
                    _ => format!("its {STYLE_EMBEDDING} is not float32"),
                },
            })),
        }
    }

    /// Gets ready for a `width`×`height` picture that is coming, where that takes time: on
    /// OpenVINO the network is compiled for that size on a thread of its own, while the caller
    /// decodes the picture and prepares its style. Nothing happens on other engines, for a
    /// picture that will run in tiles, or one too small to run; a failed compile is reported by
    /// the run of that picture.
    pub fn prepare(&mut self, width: u32, height: u32) {
        if self.transform.device() != Device::OpenVino
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
        self.transform.prepare(
            crate::tensor::padded(height) as usize,
            crate::tensor::padded(width) as usize,
        );
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

    /// How the last picture ran (`None` before the first).
    pub fn last_tiling(&self) -> Option<&Tiling> {
        self.last_tiling.as_ref()
    }
}

/// Starts the transformation network on `device` with the options' models and threads.
fn start(options: &StylizerOptions, device: Device) -> Result<Box<dyn Transformer>, EngineError> {
    engine::start_transformer(&options.models, device, options.precision, options.threads)
}

/// Refuses a picture too small for the transformer.
pub(crate) fn check_size(img: &RgbImage) -> Result<(), StylizeError> {
    let (width, height) = img.dimensions();
    if width < MIN_CONTENT_SIDE || height < MIN_CONTENT_SIDE {
        return Err(StylizeError::TooSmall { width, height });
    }
    Ok(())
}
