//! The transformation network on OpenVINO (`--device openvino`): bf16 where the CPU computes it.
//!
//! OpenVINO compiles a network for one input shape. The ONNX model is read once; each frame
//! size gets its own compiled model, infer request and input tensors, kept for the last
//! [`KEEP_SIZES`] sizes used (a live run at `--target-fps` moves between three), so a frame of a
//! size seen before costs one copy in and one copy out, and no allocation.
//!
//! Compiling costs about 0.3 s a size on 2 cores, as much as a 1080p frame. Three things cut it
//! for one-shot commands: the network compiled is the trunk, without the 26 convolutions that
//! make the norms' scales and shifts from the embedding ([`crate::norm_params`] computes those
//! once per style, in f32); compiled models are cached on disk (OpenVINO's `CACHE_DIR`, under
//! brushwork's cache, the newest `CACHE_KEEP` kept), which halves it for a size seen before;
//! and [`prepare`](Transformer::prepare) compiles on a thread of its own while the caller
//! decodes the picture and predicts the style.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use ::openvino::{
    CompiledModel, Core, DeviceType, ElementType, InferRequest, InferenceError, Model, Node,
    PartialShape, Shape, Tensor,
};
use image::RgbImage;

use crate::engine::device::Device;
use crate::engine::interface::{
    check_output_shape, padded_dims, EngineError, PixelType, Transformer, CONTENT_IMAGE,
    STYLE_EMBEDDING, STYLIZED_IMAGE,
};
use crate::models::{ModelBytes, Precision};
use crate::norm_params::NormParams;
use crate::style::{StyleEmbedding, EMBEDDING_DIM};
use crate::tensor::{fill_nhwc_padded, nhwc_to_image, nhwc_u8_to_image};

use super::setup::{configured_core, failed, inference_failed, pixel_type, read};
use super::CpuFeatures;

/// How many frame sizes keep their compiled model.
pub const KEEP_SIZES: usize = 4;

/// A compile started by [`OpenVinoTransformer::prepare`], on its own thread and core.
type PendingCompile = std::thread::JoinHandle<Result<(Core, Compiled), EngineError>>;

pub struct OpenVinoTransformer {
    core: Core,
    model: Model,
    /// What the model takes for a style.
    style_inputs: StyleInputs,
    precision: Precision,
    origin: String,
    pixel_type: PixelType,
    /// Compiled models by frame size, most recently used last.
    compiled: Vec<Compiled>,
    /// A compile under way for the size [`OpenVinoTransformer::prepare`] was given.
    pending: Option<PendingCompile>,
    /// What a compile on another thread needs: the model's bytes and the core's settings.
    source: (Cow<'static, [u8]>, Option<usize>),
    /// Cores of compiles done on other threads, kept as long as their compiled models.
    other_cores: Vec<Core>,
}

/// One frame size's compiled network, its request and its input tensors.
struct Compiled {
    height: usize,
    width: usize,
    _model: CompiledModel,
    request: InferRequest,
    pixels: Tensor,
    /// The style's tensors, one per [`StyleInputs::shapes`] entry.
    style: Vec<Tensor>,
    bound_style: Option<StyleEmbedding>,
}

/// What the network takes for a style: the embedding (`style_embedding`, [1, 1, 1, 100]), or,
/// for the trunk, each norm's scales or shifts ([1, C, 1, 1]), computed from it here.
#[derive(Clone)]
enum StyleInputs {
    Embedding,
    Norms(Arc<NormParams>),
}

impl StyleInputs {
    /// Each style input's name and shape.
    fn shapes(&self) -> Vec<(&str, [i64; 4])> {
        match self {
            StyleInputs::Embedding => vec![(STYLE_EMBEDDING, [1, 1, 1, EMBEDDING_DIM as i64])],
            StyleInputs::Norms(params) => params
                .inputs()
                .iter()
                .map(|p| (p.name.as_str(), [1, p.channels as i64, 1, 1]))
                .collect(),
        }
    }

    /// Writes `style` into `tensors` (made from [`shapes`](Self::shapes)).
    fn fill(&self, style: &StyleEmbedding, tensors: &mut [Tensor]) -> Result<(), EngineError> {
        for (k, tensor) in tensors.iter_mut().enumerate() {
            let values = tensor.get_data_mut::<f32>().map_err(inference_failed)?;
            match self {
                StyleInputs::Embedding => values.copy_from_slice(style.as_slice()),
                StyleInputs::Norms(params) => params.compute(k, style, values),
            }
        }
        Ok(())
    }
}

impl OpenVinoTransformer {
    /// Loads OpenVINO (fetching it once if needed), reads the variant for `precision` and sets
    /// the CPU plugin's options. `None` is bf16 where the CPU has it, else fp32.
    pub fn new(
        models: &crate::ModelSet,
        precision: Option<Precision>,
        threads: Option<usize>,
    ) -> Result<Self, EngineError> {
        let cpu = CpuFeatures::detect();
        let precision = precision.unwrap_or(if cpu.has_bf16() {
            Precision::Bf16
        } else {
            Precision::Fp32
        });
        if precision == Precision::Bf16 && !cpu.has_bf16() {
            return Err(failed(format!(
                "bf16 needs a CPU with AVX-512 BF16 or AMX, and this one has {cpu}; use --precision fp32"
            )));
        }
        // The fp32 graph runs as its trunk where the models have it (a models directory may not).
        let (model_bytes, style_inputs) = match (precision, models.trunk()) {
            (Precision::Fp32 | Precision::Bf16, Some((trunk, params))) => (
                trunk,
                StyleInputs::Norms(Arc::new(NormParams::parse(params)?)),
            ),
            _ => (
                models
                    .transform_for(precision)
                    .ok_or(EngineError::NoVariant { precision })?,
                StyleInputs::Embedding,
            ),
        };
        let mut core = configured_core(precision, threads)?;
        let model = read(&mut core, model_bytes, &style_inputs.shapes())?;
        let pixel_type = pixel_type(&model, model_bytes)?;
        match &style_inputs {
            StyleInputs::Norms(params) => log::debug!(
                "OpenVINO runs {}, the norms' {} scales and shifts made once per style",
                model_bytes.origin,
                params.inputs().len()
            ),
            StyleInputs::Embedding => log::debug!("OpenVINO runs {}", model_bytes.origin),
        }
        Ok(OpenVinoTransformer {
            core,
            model,
            style_inputs,
            precision,
            origin: model_bytes.origin.clone(),
            pixel_type,
            compiled: Vec::new(),
            pending: None,
            source: (model_bytes.bytes.clone(), threads),
            other_cores: Vec::new(),
        })
    }

    /// Starts compiling the network for a `h`×`w` padded frame on a thread of its own (with a
    /// core of its own), unless that size is compiled or a compile is already under way. The
    /// next [`run`](Self::run) waits for it; an error there is reported by that run.
    fn start_compile(&mut self, h: usize, w: usize) {
        if self.pending.is_some() || self.compiled.iter().any(|c| (c.height, c.width) == (h, w)) {
            return;
        }
        let (bytes, threads) = self.source.clone();
        let (precision, pixel_type, origin) =
            (self.precision, self.pixel_type, self.origin.clone());
        let style_inputs = self.style_inputs.clone();
        let spawned = std::thread::Builder::new()
            .name("openvino-compile".into())
            .spawn(move || {
                let mut core = configured_core(precision, threads)?;
                let bytes = ModelBytes { origin, bytes };
                let mut model = read(&mut core, &bytes, &style_inputs.shapes())?;
                let compiled = compile(
                    &mut core,
                    &mut model,
                    &style_inputs,
                    pixel_type,
                    precision,
                    h,
                    w,
                )?;
                Ok((core, compiled))
            });
        // No thread to be had: the run compiles in line, as without prepare.
        self.pending = spawned.ok();
    }

    /// Waits for a compile that [`prepare`](Self::prepare) started, and keeps what it made.
    fn finish_pending(&mut self) -> Result<(), EngineError> {
        let Some(pending) = self.pending.take() else {
            return Ok(());
        };
        let (core, compiled) = pending
            .join()
            .map_err(|_| failed("the compiling thread panicked"))??;
        self.keep(compiled);
        self.other_cores.push(core);
        Ok(())
    }

    /// Keeps a newly compiled size as the most recently used, making room for it.
    fn keep(&mut self, compiled: Compiled) {
        if self.compiled.len() == KEEP_SIZES {
            self.compiled.remove(0);
        }
        self.compiled.push(compiled);
    }

    /// The network's inputs and outputs, for `brushwork info`.
    fn io_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let node_line = |dir: &str, node: Result<Node, InferenceError>| {
            node.ok().map(|n| {
                format!(
                    "transform {dir} {}: {:?}",
                    n.get_name().unwrap_or_default(),
                    n.get_element_type().unwrap_or(ElementType::Dynamic)
                )
            })
        };
        // The trunk's 26 norm inputs make one line.
        let norms = match &self.style_inputs {
            StyleInputs::Norms(params) => params.inputs(),
            StyleInputs::Embedding => &[],
        };
        for i in 0..self.model.get_inputs_len().unwrap_or(0) {
            let input = self.model.get_input_by_index(i);
            let name = input
                .as_ref()
                .map_or(String::new(), |n| n.get_name().unwrap_or_default());
            if !norms.iter().any(|p| p.name == name) {
                lines.extend(node_line("in ", input));
            }
        }
        if !norms.is_empty() {
            lines.push(format!(
                "transform in  {} norm scales and shifts (style_params/...): F32, made from the style embedding once per style",
                norms.len()
            ));
        }
        for i in 0..self.model.get_outputs_len().unwrap_or(0) {
            lines.extend(node_line("out", self.model.get_output_by_index(i)));
        }
        lines
    }
}

impl Transformer for OpenVinoTransformer {
    fn device(&self) -> Device {
        Device::OpenVino
    }

    fn precision(&self) -> Precision {
        self.precision
    }

    fn engine(&self) -> String {
        super::loaded().map_or_else(
            || "OpenVINO".into(),
            |i| format!("OpenVINO {}", i.version.split('-').next().unwrap_or("")),
        )
    }

    /// ONNX Runtime's CPU provider runs the graphs beside it (presets in float32).
    fn graphs_device(&self) -> Device {
        Device::Cpu
    }

    fn describe_io(&self) -> Vec<String> {
        self.io_lines()
    }

    fn prepare(&mut self, h: usize, w: usize) {
        self.start_compile(h, w);
    }

    fn run(
        &mut self,
        content: &RgbImage,
        style: &StyleEmbedding,
        out: &mut RgbImage,
    ) -> Result<(), EngineError> {
        self.finish_pending()?;
        let (h, w) = padded_dims(content);
        let at = match self
            .compiled
            .iter()
            .position(|c| (c.height, c.width) == (h, w))
        {
            Some(at) => at,
            None => {
                let c = compile(
                    &mut self.core,
                    &mut self.model,
                    &self.style_inputs,
                    self.pixel_type,
                    self.precision,
                    h,
                    w,
                )?;
                self.keep(c);
                self.compiled.len() - 1
            }
        };
        // Most recently used last, the others in their order (a swap would send the previous
        // most recent to the front, to be evicted next).
        let c = self.compiled.remove(at);
        self.compiled.push(c);
        let c = self.compiled.last_mut().expect("pushed above");
        match self.pixel_type {
            PixelType::U8 => {
                let pixels = c.pixels.get_data_mut::<u8>().map_err(inference_failed)?;
                fill_nhwc_padded(content, pixels, |v| v);
            }
            PixelType::F32 => {
                let pixels = c.pixels.get_data_mut::<f32>().map_err(inference_failed)?;
                fill_nhwc_padded(content, pixels, |v| f32::from(v) / 255.0);
            }
        }
        if c.bound_style.as_ref() != Some(style) {
            self.style_inputs.fill(style, &mut c.style)?;
            c.bound_style = Some(*style);
        }
        c.request.infer().map_err(inference_failed)?;
        let result = c
            .request
            .get_tensor(STYLIZED_IMAGE)
            .map_err(inference_failed)?;
        let shape = result.get_shape().map_err(inference_failed)?;
        let dims = shape.get_dimensions();
        check_output_shape(&self.origin, dims, h, w)?;
        match self.pixel_type {
            PixelType::U8 => {
                nhwc_u8_to_image(result.get_data::<u8>().map_err(inference_failed)?, w, out)
            }
            PixelType::F32 => {
                nhwc_to_image(result.get_data::<f32>().map_err(inference_failed)?, w, out)
            }
        }
        Ok(())
    }
}

impl Drop for OpenVinoTransformer {
    /// A compile still under way is waited for: a process must not exit while a thread is
    /// inside OpenVINO (its libraries' teardown would run under it).
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            let _ = pending.join();
        }
    }
}

/// Compiles `model` for one padded frame size, and makes its request and tensors.
fn compile(
    core: &mut Core,
    model: &mut Model,
    style_inputs: &StyleInputs,
    pixel_type: PixelType,
    precision: Precision,
    h: usize,
    w: usize,
) -> Result<Compiled, EngineError> {
    let started = Instant::now();
    let dims = [1, h as i64, w as i64, 3];
    let shape = PartialShape::new_static(4, &dims).map_err(failed)?;
    model
        .reshape_input_by_name(CONTENT_IMAGE, &shape)
        .map_err(failed)?;
    let mut compiled = core
        .compile_model(model, DeviceType::CPU)
        .map_err(inference_failed)?;
    let mut request = compiled.create_infer_request().map_err(inference_failed)?;
    let element = match pixel_type {
        PixelType::U8 => ElementType::U8,
        PixelType::F32 => ElementType::F32,
    };
    let pixels =
        Tensor::new(element, &Shape::new(&dims).map_err(failed)?).map_err(inference_failed)?;
    request
        .set_tensor(CONTENT_IMAGE, &pixels)
        .map_err(inference_failed)?;
    let mut style = Vec::new();
    for (name, dims) in style_inputs.shapes() {
        let tensor = Tensor::new(ElementType::F32, &Shape::new(&dims).map_err(failed)?)
            .map_err(inference_failed)?;
        request
            .set_tensor(name, &tensor)
            .map_err(inference_failed)?;
        style.push(tensor);
    }
    log::debug!(
        "OpenVINO compiled the transformation network ({}) for {w}x{h} in {} ms",
        precision,
        started.elapsed().as_millis()
    );
    Ok(Compiled {
        height: h,
        width: w,
        _model: compiled,
        request,
        pixels,
        style,
        bound_style: None,
    })
}
