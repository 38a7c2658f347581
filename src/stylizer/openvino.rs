//! The transformation network on OpenVINO (`--device openvino`): bf16 where the CPU computes it.
//!
//! OpenVINO compiles a network for one input shape. The ONNX model is read once; each frame
//! size gets its own compiled model, infer request and input tensors, kept for the last
//! [`KEEP_SIZES`] sizes used (a live run at `--target-fps` moves between three), so a frame of a
//! size seen before costs one copy in and one copy out, and no allocation.
//!
//! Compiling costs about 0.3 s a size on 2 cores, as much as a 1080p frame. Two things cut it
//! for one-shot commands: compiled models are cached on disk (OpenVINO's `CACHE_DIR`, under
//! brushwork's cache, the newest [`CACHE_KEEP`] kept), which halves it for a size seen before;
//! and [`OpenVinoTransformer::prepare`] compiles on a thread of its own while the caller
//! decodes the picture and predicts the style.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ::openvino::{
    CompiledModel, Core, DeviceType, ElementType, InferRequest, InferenceError, Model, Node,
    PartialShape, RwPropertyKey, Shape, Tensor,
};
use image::RgbImage;

use crate::models::{ModelBytes, ModelError, Precision};
use crate::openvino::{self as ov_runtime, CpuFeatures};
use crate::providers::DeviceError;
use crate::style::{StyleEmbedding, EMBEDDING_DIM};
use crate::tensor::{fill_nhwc_padded, nhwc_to_image, nhwc_u8_to_image};

use super::transformer::PixelType;
use super::{
    check_output_shape, padded_dims, StylizeError, CONTENT_IMAGE, STYLE_EMBEDDING, STYLIZED_IMAGE,
};

/// How many frame sizes keep their compiled model.
pub(super) const KEEP_SIZES: usize = 4;

/// How many compiled models the disk cache keeps (about 1.2 MB each; the oldest go first).
pub(super) const CACHE_KEEP: usize = 64;

/// A compile started by [`OpenVinoTransformer::prepare`], on its own thread and core.
type PendingCompile = std::thread::JoinHandle<Result<(Core, Compiled), StylizeError>>;

pub(super) struct OpenVinoTransformer {
    core: Core,
    model: Model,
    pub(super) precision: Precision,
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
    embedding: Tensor,
    bound_style: Option<StyleEmbedding>,
}

fn failed(reason: impl std::fmt::Display) -> StylizeError {
    StylizeError::Device(DeviceError::Failed {
        name: "OpenVINO",
        reason: plain(&reason.to_string()),
    })
}

/// An OpenVINO error while running: an allocation failure (or threads that cannot start, which
/// is what an address-space limit does to it) is the user's to avoid.
fn inference_failed(e: InferenceError) -> StylizeError {
    let text = plain(&e.to_string());
    let lower = text.to_ascii_lowercase();
    if lower.contains("bad_alloc")
        || lower.contains("failed to allocate")
        || lower.contains("cannot allocate")
        || lower.contains("out of memory")
        || lower.contains("resource temporarily unavailable")
    {
        StylizeError::OutOfMemory(format!(
            "OpenVINO could not allocate memory or start its threads ({text}); --device cpu needs less"
        ))
    } else {
        StylizeError::OpenVino(text)
    }
}

/// OpenVINO's message without the C++ source locations it chains ("Exception from
/// src/inference/src/cpp/core.cpp:117:", "Check 'ptr' failed at src/.../cpu_memory.cpp:257:")
/// and the binding's "general error:" prefix.
fn plain(text: &str) -> String {
    let is_location = |w: &str| {
        w.strip_suffix(':')
            .and_then(|w| w.rsplit_once(':'))
            .is_some_and(|(file, line)| {
                file.contains('.') && !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit())
            })
    };
    let mut kept: Vec<&str> = Vec::new();
    for word in text.split_whitespace() {
        if !is_location(word) {
            kept.push(word);
            continue;
        }
        // The words that introduce the location go with it.
        if kept.ends_with(&["Exception", "from"]) {
            kept.truncate(kept.len() - 2);
        } else if kept.ends_with(&["failed", "at"]) {
            if let Some(check) = kept.iter().rposition(|w| *w == "Check") {
                kept.truncate(check);
            }
        }
    }
    let text = kept.join(" ");
    text.strip_prefix("general error:")
        .map_or(text.clone(), |t| t.trim().to_string())
}

impl OpenVinoTransformer {
    /// Loads OpenVINO (fetching it once if needed), reads the variant for `precision` and sets
    /// the CPU plugin's options. `None` is bf16 where the CPU has it, else fp32.
    pub(super) fn new(
        models: &crate::ModelSet,
        precision: Option<Precision>,
        threads: Option<usize>,
    ) -> Result<Self, StylizeError> {
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
        let model_bytes = models
            .transform_for(precision)
            .ok_or(StylizeError::NoVariant { precision })?;
        let mut core = configured_core(precision, threads)?;
        let model = read(&mut core, model_bytes)?;
        let pixel_type = pixel_type(&model, model_bytes)?;
        Ok(OpenVinoTransformer {
            core,
            model,
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
    pub(super) fn prepare(&mut self, h: usize, w: usize) {
        if self.pending.is_some() || self.compiled.iter().any(|c| (c.height, c.width) == (h, w)) {
            return;
        }
        let (bytes, threads) = self.source.clone();
        let (precision, pixel_type, origin) =
            (self.precision, self.pixel_type, self.origin.clone());
        let spawned = std::thread::Builder::new()
            .name("openvino-compile".into())
            .spawn(move || {
                let mut core = configured_core(precision, threads)?;
                let bytes = ModelBytes { origin, bytes };
                let mut model = read(&mut core, &bytes)?;
                let compiled = compile(&mut core, &mut model, pixel_type, precision, h, w)?;
                Ok((core, compiled))
            });
        // No thread to be had: the run compiles in line, as without prepare.
        self.pending = spawned.ok();
    }

    /// Waits for a compile that [`prepare`](Self::prepare) started, and keeps what it made.
    fn finish_pending(&mut self) -> Result<(), StylizeError> {
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
    pub(super) fn describe_io(&self) -> Vec<String> {
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
        for i in 0..self.model.get_inputs_len().unwrap_or(0) {
            lines.extend(node_line("in ", self.model.get_input_by_index(i)));
        }
        for i in 0..self.model.get_outputs_len().unwrap_or(0) {
            lines.extend(node_line("out", self.model.get_output_by_index(i)));
        }
        lines
    }

    pub(super) fn run(
        &mut self,
        content: &RgbImage,
        style: &StyleEmbedding,
        out: &mut RgbImage,
    ) -> Result<(), StylizeError> {
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
            let values = c
                .embedding
                .get_data_mut::<f32>()
                .map_err(inference_failed)?;
            values.copy_from_slice(style.as_slice());
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
    pixel_type: PixelType,
    precision: Precision,
    h: usize,
    w: usize,
) -> Result<Compiled, StylizeError> {
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
    let embedding = Tensor::new(
        ElementType::F32,
        &Shape::new(&[1, 1, 1, EMBEDDING_DIM as i64]).map_err(failed)?,
    )
    .map_err(inference_failed)?;
    request
        .set_tensor(CONTENT_IMAGE, &pixels)
        .map_err(inference_failed)?;
    request
        .set_tensor(STYLE_EMBEDDING, &embedding)
        .map_err(inference_failed)?;
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
        embedding,
        bound_style: None,
    })
}

/// An OpenVINO core for the CPU, set up for `precision` (bf16, else f32) and `threads`.
fn configured_core(precision: Precision, threads: Option<usize>) -> Result<Core, StylizeError> {
    let info = ov_runtime::load().map_err(failed)?;
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| log::debug!("OpenVINO {} from {}", info.version, info.dir.display()));
    let mut core = Core::new().map_err(failed)?;
    let hint = match precision {
        Precision::Bf16 => "bf16",
        _ => "f32",
    };
    // ONNX Runtime's default is one thread per physical core; OpenVINO's would leave a
    // hyper-threaded 2-vCPU machine with one. Measured on the 2-core CI machine at 384x384,
    // bf16: 1 thread 21.5 ms, 2 threads 11.8 ms.
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    for (key, value) in [
        (RwPropertyKey::HintInferencePrecision, hint.to_string()),
        (RwPropertyKey::InferenceNumThreads, threads.to_string()),
        (RwPropertyKey::HintPerformanceMode, "LATENCY".to_string()),
    ] {
        core.set_property(&DeviceType::CPU, &key, &value)
            .map_err(failed)?;
    }
    // A cache that cannot be made (a read-only home) only costs the compile time it saves.
    if let Some(dir) = compiled_cache() {
        if let Some(dir) = dir.to_str() {
            if let Err(e) = core.set_property(&DeviceType::CPU, &RwPropertyKey::CacheDir, dir) {
                log::debug!("OpenVINO's compiled-model cache is off: {e}");
            }
        }
    }
    Ok(core)
}

/// The directory of OpenVINO's compiled models (made if needed, pruned to the newest
/// [`CACHE_KEEP`] files once a process), or `None` where it cannot be made.
fn compiled_cache() -> Option<PathBuf> {
    static DIR: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = crate::wheel::cache_dir().join(format!(
            "openvino-{}-compiled",
            ov_runtime::OPENVINO_VERSION
        ));
        match std::fs::create_dir_all(&dir) {
            Ok(()) => {
                prune(&dir, CACHE_KEEP);
                Some(dir)
            }
            Err(e) => {
                log::debug!("no compiled-model cache: {}: {e}", dir.display());
                None
            }
        }
    })
    .clone()
}

/// Removes all but the `keep` most recently modified files of `dir` (best effort: another
/// process may be pruning too).
fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            meta.is_file().then(|| (meta.modified().ok(), e.path()))
        })
        .collect();
    if files.len() <= keep {
        return;
    }
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    for (_, path) in files.into_iter().skip(keep) {
        let _ = std::fs::remove_file(path);
    }
}

/// The segments of a tiled picture (see `tiled`) on OpenVINO: each compiled for its window
/// shape on first use. Windows have one shape per segment whatever the picture's size (once it
/// is larger than a window), so a process compiles each segment once.
pub(super) struct OpenVinoSegments {
    core: Core,
    compiled: std::collections::HashMap<String, CompiledSegment>,
}

struct CompiledSegment {
    shapes: Vec<Vec<i64>>,
    _model: CompiledModel,
    request: InferRequest,
    inputs: Vec<Tensor>,
}

impl OpenVinoSegments {
    pub(super) fn new(precision: Precision, threads: Option<usize>) -> Result<Self, StylizeError> {
        Ok(OpenVinoSegments {
            core: configured_core(precision, threads)?,
            compiled: std::collections::HashMap::new(),
        })
    }

    /// Runs segment `name` (its ONNX `bytes`) on `inputs` and hands each of `outputs` to `take`.
    pub(super) fn run(
        &mut self,
        name: &str,
        bytes: &[u8],
        inputs: &[(&str, super::tiled::TileInput)],
        outputs: &[String],
        take: &mut dyn FnMut(usize, super::tiled::TileOutput) -> Result<(), StylizeError>,
    ) -> Result<(), StylizeError> {
        use super::tiled::{TileInput, TileOutput};
        let shapes: Vec<Vec<i64>> = inputs
            .iter()
            .map(|(_, i)| i.shape().iter().map(|&d| d as i64).collect())
            .collect();
        let reshaped = |i: &TileInput| match i {
            TileInput::U8(..) => true,
            TileInput::F32(_, s) => s[2] > 1,
            TileInput::Vector(_) => false,
        };
        if self.compiled.get(name).is_none_or(|c| c.shapes != shapes) {
            let started = Instant::now();
            let mut model = self
                .core
                .read_model_from_buffer(bytes, None)
                .map_err(failed)?;
            // The windows' height and width; statistics and the style keep their shapes.
            for ((input, value), dims) in inputs.iter().zip(&shapes) {
                if reshaped(value) {
                    let shape = PartialShape::new_static(4, dims).map_err(failed)?;
                    model.reshape_input_by_name(input, &shape).map_err(failed)?;
                }
            }
            let mut compiled = self
                .core
                .compile_model(&model, DeviceType::CPU)
                .map_err(inference_failed)?;
            let mut request = compiled.create_infer_request().map_err(inference_failed)?;
            let mut tensors = Vec::new();
            for ((input, value), dims) in inputs.iter().zip(&shapes) {
                let element = match value {
                    TileInput::U8(..) => ElementType::U8,
                    TileInput::F32(..) | TileInput::Vector(..) => ElementType::F32,
                };
                let t = Tensor::new(element, &Shape::new(dims).map_err(failed)?)
                    .map_err(inference_failed)?;
                request.set_tensor(input, &t).map_err(inference_failed)?;
                tensors.push(t);
            }
            log::debug!(
                "OpenVINO compiled segment {name} for {:?} in {} ms",
                shapes.first(),
                started.elapsed().as_millis()
            );
            self.compiled.insert(
                name.to_string(),
                CompiledSegment {
                    shapes,
                    _model: compiled,
                    request,
                    inputs: tensors,
                },
            );
        }
        let c = self.compiled.get_mut(name).expect("compiled above");
        for ((_, value), tensor) in inputs.iter().zip(c.inputs.iter_mut()) {
            match value {
                TileInput::U8(data, _) => tensor
                    .get_data_mut::<u8>()
                    .map_err(inference_failed)?
                    .copy_from_slice(data),
                TileInput::F32(data, _) | TileInput::Vector(data) => tensor
                    .get_data_mut::<f32>()
                    .map_err(inference_failed)?
                    .copy_from_slice(data),
            }
        }
        c.request.infer().map_err(inference_failed)?;
        for (k, output) in outputs.iter().enumerate() {
            let tensor = c.request.get_tensor(output).map_err(inference_failed)?;
            let shape = tensor.get_shape().map_err(inference_failed)?;
            let dims = shape.get_dimensions();
            match tensor.get_element_type().map_err(inference_failed)? {
                ElementType::U8 => take(
                    k,
                    TileOutput::U8(tensor.get_data::<u8>().map_err(inference_failed)?, dims),
                )?,
                ElementType::F32 => take(
                    k,
                    TileOutput::F32(tensor.get_data::<f32>().map_err(inference_failed)?, dims),
                )?,
                other => {
                    return Err(StylizeError::OpenVino(format!(
                        "segment {name} gave {output} as {other:?}, not u8 or f32"
                    )))
                }
            }
        }
        Ok(())
    }
}

/// Reads the ONNX model, checking it has the inputs and output brushwork feeds.
fn read(core: &mut Core, model: &ModelBytes) -> Result<Model, StylizeError> {
    let invalid = |reason: String| {
        StylizeError::Model(ModelError::Invalid {
            path: model.origin.clone(),
            role: "transformation",
            reason,
        })
    };
    let read = core
        .read_model_from_buffer(&model.bytes, None)
        .map_err(|e| invalid(format!("OpenVINO cannot read it: {e}")))?;
    for name in [CONTENT_IMAGE, STYLE_EMBEDDING] {
        node(&read, Port::Input, name)
            .ok_or_else(|| invalid(format!("it has no input named '{name}'")))?;
    }
    node(&read, Port::Output, STYLIZED_IMAGE)
        .ok_or_else(|| invalid(format!("it has no output named '{STYLIZED_IMAGE}'")))?;
    Ok(read)
}

#[derive(Clone, Copy)]
enum Port {
    Input,
    Output,
}

type NodeAt = fn(&Model, usize) -> Result<Node, InferenceError>;

/// The model's input or output named `name`.
fn node(model: &Model, port: Port, name: &str) -> Option<Node> {
    let (count, get): (_, NodeAt) = match port {
        Port::Input => (model.get_inputs_len(), Model::get_input_by_index),
        Port::Output => (model.get_outputs_len(), Model::get_output_by_index),
    };
    (0..count.ok()?)
        .filter_map(|i| get(model, i).ok())
        .find(|n| n.get_name().is_ok_and(|n| n == name))
}

fn pixel_type(model: &Model, bytes: &ModelBytes) -> Result<PixelType, StylizeError> {
    let element = |port, name| node(model, port, name).and_then(|n| n.get_element_type().ok());
    match (
        element(Port::Input, CONTENT_IMAGE),
        element(Port::Output, STYLIZED_IMAGE),
    ) {
        (Some(ElementType::F32), Some(ElementType::F32)) => Ok(PixelType::F32),
        (Some(ElementType::U8), Some(ElementType::U8)) => Ok(PixelType::U8),
        (i, o) => Err(StylizeError::Model(ModelError::Invalid {
            path: bytes.origin.clone(),
            role: "transformation",
            reason: format!(
                "its pixels are {i:?} in and {o:?} out; brushwork needs float32 or uint8, the same both ways"
            ),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_lose_source_locations_and_keep_the_cause() {
        assert_eq!(
            plain(
                "general error: Exception from src/inference/src/cpp/core.cpp:117:\n\
                 Exception from src/inference/src/dev/plugin.cpp:54: Resource temporarily unavailable"
            ),
            "Resource temporarily unavailable"
        );
        assert_eq!(
            plain("Input shape [1,3] is wrong: 2 < 4"),
            "Input shape [1,3] is wrong: 2 < 4"
        );
    }
}
