//! [`Stylizer`]: the two networks in ONNX Runtime sessions, with the buffers they reuse.

use image::RgbImage;
use ort::memory::Allocator;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::{IoBinding, Session};
use ort::value::{Tensor, TensorElementType, TensorRef};

use crate::models::{ModelBytes, ModelError, ModelSet, Precision};
use crate::presets::{PresetMix, NUM_PRESETS};
pub use crate::providers::Device;
use crate::providers::{self, DeviceError};
use crate::runtime::{self, RuntimeError};
use crate::style::{style_input, StyleEmbedding, EMBEDDING_DIM, STYLE_SIDE};
use crate::tensor::{
    fill_nhwc_padded, image_to_nchw_padded, nchw_to_image, nhwc_to_image, nhwc_u8_to_image, padded,
};

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
}

impl Default for StylizerOptions {
    fn default() -> Self {
        StylizerOptions {
            models: ModelSet::embedded(),
            threads: None,
            device: Device::Auto,
            precision: None,
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
    #[error("not enough memory to stylize a picture this large: {0}; use --max-size (or a smaller --size)")]
    OutOfMemory(String),
    #[error("inference failed: {0}")]
    Inference(ort::Error),
}

impl StylizeError {
    /// Whether the user can fix it: a picture too small or too large for memory, a variant or
    /// network their models directory lacks, a broken model of theirs. ONNX Runtime itself, a
    /// device, a failed inference or a broken built-in model are not theirs.
    pub fn is_user_error(&self) -> bool {
        match self {
            StylizeError::TooSmall { .. }
            | StylizeError::OutOfMemory(_)
            | StylizeError::NoPresets
            | StylizeError::NoVariant { .. } => true,
            StylizeError::Model(m) => m.is_users(),
            StylizeError::Runtime(_) | StylizeError::Device(_) | StylizeError::Inference(_) => {
                false
            }
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
    transform: Transformer,
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
                for candidate in providers::auto_candidates() {
                    match Transformer::new(&options, candidate) {
                        Ok(t) => {
                            found = Some(t);
                            break;
                        }
                        Err(e) => last_err = Some(e),
                    }
                }
                match (found, last_err) {
                    (Some(t), _) => t,
                    (None, Some(e)) => return Err(e),
                    (None, None) => unreachable!("the CPU is always a candidate"),
                }
            }
            device => Transformer::new(&options, device)?,
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
        })
    }

    /// The device the transformation network runs on (what `Auto` resolved to).
    pub fn device(&self) -> Device {
        self.transform.device
    }

    /// The transformation network's variant (what `None` resolved to).
    pub fn precision(&self) -> Precision {
        self.transform.precision
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
        for (role, session) in [
            ("predict", &self.predict),
            ("transform", &self.transform.session),
        ] {
            for (dir, outlets) in [("in ", session.inputs()), ("out", session.outputs())] {
                for o in outlets {
                    lines.push(format!("{role} {dir} {}: {}", o.name(), o.dtype()));
                }
            }
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
        if out.dimensions() != content.dimensions() {
            *out = RgbImage::new(content.width(), content.height());
        }
        self.transform.run(content, style, out)
    }
}

/// The transformation network's session and its I/O binding. The style embedding is bound
/// once per style, and the pixel tensors are allocated and the output bound once per frame
/// size, so a frame costs one copy in and one copy out, and no allocation.
struct Transformer {
    session: Session,
    device: Device,
    precision: Precision,
    origin: String,
    /// The variants with 8-bit pixels in and out (fp32, fp16) rather than floats in 0..1.
    bytes: bool,
    binding: IoBinding,
    frame: Option<FrameTensors>,
    bound_style: Option<StyleEmbedding>,
}

/// The padded input tensor of one frame size (its output tensor lives in the binding).
struct FrameTensors {
    height: usize,
    width: usize,
    input: Pixels,
}

enum Pixels {
    F32(Tensor<f32>),
    U8(Tensor<u8>),
}

impl Pixels {
    fn new(bytes: bool, height: usize, width: usize) -> Result<Self, ort::Error> {
        let shape = [1, height, width, 3];
        Ok(if bytes {
            Pixels::U8(Tensor::new(&Allocator::default(), shape)?)
        } else {
            Pixels::F32(Tensor::new(&Allocator::default(), shape)?)
        })
    }
}

impl Transformer {
    fn new(options: &StylizerOptions, device: Device) -> Result<Self, StylizeError> {
        // Auto: the fastest variant the models have. On the CPU that is fp32: the int8 graph
        // spends its time rounding activations (1920x1080: 1259 -> 865 ms, 508 -> 401 MB,
        // side by side); on a GPU, fp16.
        let preferred: &[Precision] = match device {
            Device::Cpu => &[Precision::Fp32],
            _ => &[Precision::Fp16, Precision::Fp32],
        };
        let precision = options.precision.unwrap_or_else(|| {
            preferred
                .iter()
                .copied()
                .find(|p| options.models.transform_for(*p).is_some())
                .unwrap_or(Precision::Int8)
        });
        let model = options
            .models
            .transform_for(precision)
            .ok_or(StylizeError::NoVariant { precision })?;
        let session = session(model, options.threads, device, precision, "transformation")?;
        check_io(
            &session,
            model,
            &[CONTENT_IMAGE, STYLE_EMBEDDING],
            STYLIZED_IMAGE,
        )?;
        let element = |outlets: &[ort::value::Outlet], name: &str| {
            outlets
                .iter()
                .find(|o| o.name() == name)
                .and_then(|o| o.dtype().tensor_type())
        };
        let bytes = match (
            element(session.inputs(), CONTENT_IMAGE),
            element(session.outputs(), STYLIZED_IMAGE),
        ) {
            (Some(TensorElementType::Float32), Some(TensorElementType::Float32)) => false,
            (Some(TensorElementType::Uint8), Some(TensorElementType::Uint8)) => true,
            (i, o) => {
                return Err(StylizeError::Model(ModelError::Invalid {
                    path: model.origin.clone(),
                    role: "transformation",
                    reason: format!(
                        "its pixels are {i:?} in and {o:?} out; brushwork needs float32 or uint8, the same both ways"
                    ),
                }))
            }
        };
        let binding = session.create_binding()?;
        Ok(Transformer {
            session,
            device,
            precision,
            origin: model.origin.clone(),
            bytes,
            binding,
            frame: None,
            bound_style: None,
        })
    }

    fn run(
        &mut self,
        content: &RgbImage,
        style: &StyleEmbedding,
        out: &mut RgbImage,
    ) -> Result<(), StylizeError> {
        let (h, w) = (
            padded(content.height()) as usize,
            padded(content.width()) as usize,
        );
        if !matches!(&self.frame, Some(f) if (f.height, f.width) == (h, w)) {
            match Pixels::new(self.bytes, h, w)? {
                Pixels::F32(t) => self.binding.bind_output(STYLIZED_IMAGE, t)?,
                Pixels::U8(t) => self.binding.bind_output(STYLIZED_IMAGE, t)?,
            }
            self.frame = Some(FrameTensors {
                height: h,
                width: w,
                input: Pixels::new(self.bytes, h, w)?,
            });
        }
        let frame = self.frame.as_mut().expect("allocated above");
        // Bound again each frame: for a GPU that is the copy to the device; on the CPU the
        // binding refers to the tensor itself.
        match &mut frame.input {
            Pixels::F32(t) => {
                fill_nhwc_padded(content, t.extract_tensor_mut().1, |v| f32::from(v) / 255.0);
                self.binding.bind_input(CONTENT_IMAGE, t)?;
            }
            Pixels::U8(t) => {
                fill_nhwc_padded(content, t.extract_tensor_mut().1, |v| v);
                self.binding.bind_input(CONTENT_IMAGE, t)?;
            }
        }
        if self.bound_style.as_ref() != Some(style) {
            let embedding =
                Tensor::from_array(([1, 1, 1, EMBEDDING_DIM], style.as_slice().to_vec()))?;
            self.binding.bind_input(STYLE_EMBEDDING, &embedding)?;
            self.bound_style = Some(*style);
        }
        let outputs = self.session.run_binding(&self.binding)?;
        let result = &outputs[STYLIZED_IMAGE];
        let shape = result.shape();
        if shape.len() != 4 || shape[1] as usize != h || shape[2] as usize != w || shape[3] != 3 {
            return Err(StylizeError::Model(ModelError::Invalid {
                path: self.origin.clone(),
                role: "transformation",
                reason: format!("output shape {shape:?} for input [1, {h}, {w}, 3]"),
            }));
        }
        if self.bytes {
            nhwc_u8_to_image(result.try_extract_tensor::<u8>()?.1, w, out);
        } else {
            nhwc_to_image(result.try_extract_tensor::<f32>()?.1, w, out);
        }
        Ok(())
    }
}

impl Stylizer {
    /// Stylizes `content` at its own resolution with a mix of the 26 presets, into `out`.
    pub fn stylize_preset_into(
        &mut self,
        content: &RgbImage,
        mix: &PresetMix,
        out: &mut RgbImage,
    ) -> Result<(), StylizeError> {
        check_size(content)?;
        if self.multistyle.is_none() {
            let model = self
                .models
                .multistyle
                .as_ref()
                .ok_or(StylizeError::NoPresets)?;
            // Already a float graph: it runs where the transformer runs, in float32.
            let s = session(
                model,
                self.threads,
                self.transform.device,
                Precision::Fp32,
                "multi-style",
            )?;
            check_io(&s, model, &[CONTENT_IMAGE, STYLE_WEIGHTS], STYLIZED_IMAGE)?;
            self.multistyle = Some(s);
        }
        let multistyle = self.multistyle.as_mut().expect("loaded above");
        if out.dimensions() != content.dimensions() {
            *out = RgbImage::new(content.width(), content.height());
        }
        let (h, w) = image_to_nchw_padded(content, &mut self.content);
        let input = TensorRef::from_array_view(([1, 3, h, w], &self.content[..]))?;
        let weights = TensorRef::from_array_view(([NUM_PRESETS], &mix.0[..]))?;
        let outputs = multistyle.run(ort::inputs![
            CONTENT_IMAGE => input,
            STYLE_WEIGHTS => weights,
        ])?;
        let (shape, values) = outputs[STYLIZED_IMAGE].try_extract_tensor::<f32>()?;
        if shape.len() != 4 || shape[1] != 3 || shape[2] as usize != h || shape[3] as usize != w {
            return Err(StylizeError::Model(ModelError::Invalid {
                path: self
                    .models
                    .multistyle
                    .as_ref()
                    .map(|m| m.origin.clone())
                    .unwrap_or_default(),
                role: "multi-style",
                reason: format!("output shape {shape:?} for input [1, 3, {h}, {w}]"),
            }));
        }
        nchw_to_image(values, h, w, out);
        Ok(())
    }
}

fn check_size(img: &RgbImage) -> Result<(), StylizeError> {
    let (width, height) = img.dimensions();
    if width < MIN_CONTENT_SIDE || height < MIN_CONTENT_SIDE {
        return Err(StylizeError::TooSmall { width, height });
    }
    Ok(())
}

fn session(
    model: &ModelBytes,
    threads: Option<usize>,
    device: Device,
    precision: Precision,
    role: &'static str,
) -> Result<Session, StylizeError> {
    let env = runtime::environment()?;
    let mut builder = Session::builder(env)?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(ort::Error::from)?;
    // ONNX Runtime's memory pattern plans buffers per input shape; with shapes that change from
    // photo to photo it only adds memory. Measured at 1920x1080 on the 2-core CI machine:
    // peak RSS 792 -> 489 MB, transformer 990 -> 843 ms (see README, "Speed").
    builder = builder
        .with_memory_pattern(false)
        .map_err(ort::Error::from)?
        // Failures come back as errors, which brushwork reports in one line; ONNX Runtime's own
        // coloured log line on stderr would only repeat them.
        .with_log_level(ort::logging::LogLevel::Fatal)
        .map_err(ort::Error::from)?;
    if let Some(n) = threads {
        builder = builder.with_intra_threads(n).map_err(ort::Error::from)?;
    }
    // The cache key hashes the model: only TensorRT (engine caches) asks for it.
    let key = || {
        format!(
            "{}-{precision}-{}",
            role.replace(' ', "_"),
            &model.sha256()[..16]
        )
    };
    let mut builder = providers::register(builder, device, precision, key)?;
    builder.commit_from_memory(&model.bytes).map_err(|e| {
        if device != Device::Cpu {
            // With the CPU fall-back off, a GPU provider that cannot take every node fails here.
            return StylizeError::Device(DeviceError::Failed {
                name: if matches!(device, Device::TensorRt(_)) {
                    "TensorRT"
                } else {
                    "CUDA"
                },
                reason: e.to_string(),
            });
        }
        StylizeError::Model(ModelError::Invalid {
            path: model.origin.clone(),
            role,
            reason: e.to_string(),
        })
    })
}

fn check_io(
    session: &Session,
    model: &ModelBytes,
    inputs: &[&str],
    output: &str,
) -> Result<(), ModelError> {
    let has_input = |n: &str| session.inputs().iter().any(|o| o.name() == n);
    let has_output = session.outputs().iter().any(|o| o.name() == output);
    if let Some(missing) = inputs.iter().find(|n| !has_input(n)) {
        return Err(ModelError::Invalid {
            path: model.origin.clone(),
            role: "brushwork",
            reason: format!("it has no input named '{missing}'"),
        });
    }
    if !has_output {
        return Err(ModelError::Invalid {
            path: model.origin.clone(),
            role: "brushwork",
            reason: format!("it has no output named '{output}'"),
        });
    }
    Ok(())
}
