//! ONNX Runtime's execution providers: how CPU, CUDA and TensorRT are brought up on a session.
//!
//! An explicitly requested provider that cannot start is an error that says what is missing,
//! never a silent fall-back to the CPU; and ONNX Runtime's own CPU fall-back for nodes the GPU
//! provider cannot run is switched off, so "cuda" means every node runs on the GPU.

use ort::session::builder::SessionBuilder;

use crate::engine::device::{Device, DeviceError};
use crate::models::Precision;

/// The providers this binary was built with.
pub fn compiled() -> Vec<&'static str> {
    let mut v = vec!["cpu"];
    if cfg!(feature = "cuda") {
        v.push("cuda");
    }
    if cfg!(feature = "tensorrt") {
        v.push("tensorrt");
    }
    v
}

/// Whether the loaded ONNX Runtime offers the provider (it may still fail to start, e.g.
/// without a GPU). Always true for the CPU; false for providers not compiled in.
pub fn in_runtime(device: Device) -> bool {
    if !matches!(device, Device::Auto | Device::Cpu) && super::runtime::environment().is_err() {
        return false; // asking ort before our loader has run would make ort load on its own
    }
    match device {
        Device::Auto | Device::Cpu => true,
        Device::OpenVino => false,
        #[cfg(feature = "cuda")]
        Device::Cuda(_) => {
            <ort::ep::CUDA as ort::ep::ExecutionProvider>::is_available().unwrap_or(false)
        }
        #[cfg(feature = "tensorrt")]
        Device::TensorRt(_) => {
            <ort::ep::TensorRT as ort::ep::ExecutionProvider>::is_available().unwrap_or(false)
        }
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// Registers `device` (never `Auto`) on a session builder for a model of `precision`;
/// `model_key` names TensorRT's engine cache entries (called only for TensorRT).
pub fn register(
    builder: SessionBuilder,
    device: Device,
    precision: Precision,
    model_key: impl FnOnce() -> String,
) -> Result<SessionBuilder, DeviceError> {
    let (feature, compiled) = match device {
        // With OpenVINO running the transformation network, ONNX Runtime runs the others
        // (style prediction, presets) on its CPU provider.
        Device::Auto | Device::Cpu | Device::OpenVino => return Ok(builder),
        Device::Cuda(_) => ("cuda", cfg!(feature = "cuda")),
        Device::TensorRt(_) => ("tensorrt", cfg!(feature = "tensorrt")),
    };
    let name = device.provider_name();
    if !compiled {
        return Err(DeviceError::NotCompiled { name, feature });
    }
    if !in_runtime(device) {
        let path = super::runtime::info()
            .map(|i| i.path.display().to_string())
            .unwrap_or_default();
        return Err(DeviceError::NotInRuntime { name, path });
    }
    match device {
        Device::Cuda(id) => register_cuda(builder, id),
        Device::TensorRt(id) => register_tensorrt(builder, id, precision, &model_key()),
        Device::Auto | Device::Cpu | Device::OpenVino => unreachable!("returned above"),
    }
}

/// Whether this process stylizes a known, small set of pictures (a one-shot `stylize`) rather
/// than a stream: then cuDNN picks convolution algorithms by heuristic instead of trying each.
static ONE_SHOT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Says that this process runs a one-shot job (see [`ONE_SHOT`]); before the first session.
pub fn set_one_shot(one_shot: bool) {
    ONE_SHOT.store(one_shot, std::sync::atomic::Ordering::Relaxed);
}

#[cfg(feature = "cuda")]
fn register_cuda(builder: SessionBuilder, id: u32) -> Result<SessionBuilder, DeviceError> {
    use ort::ep::cuda::ConvAlgorithmSearch;
    // Measured on an H200 at 1920x1080 fp16 (issue 23): the exhaustive search makes the first
    // frame take 0.9-2.5 s and then runs ~10 % faster than the heuristic one, whose first
    // frame takes 90-240 ms. A one-shot job has one frame per size: heuristic. A stream
    // (live, video, serve, bench) repays the search: exhaustive.
    let (search, why) = if ONE_SHOT.load(std::sync::atomic::Ordering::Relaxed) {
        (
            ConvAlgorithmSearch::Heuristic,
            "heuristic, for a one-shot job",
        )
    } else {
        (
            ConvAlgorithmSearch::Exhaustive,
            "exhaustive, for a stream of frames",
        )
    };
    log::info!("CUDA {id}: cuDNN convolution algorithms by {why}");
    register_strictly(
        builder,
        "CUDA",
        ort::ep::CUDA::default()
            .with_device_id(id as i32)
            .with_conv_algorithm_search(search)
            .build(),
    )
}

/// Registers `provider` so that it either starts or fails (`error_on_failure`), and with ONNX
/// Runtime's CPU fall-back off, so no node silently runs on the CPU.
#[cfg(any(feature = "cuda", feature = "tensorrt"))]
fn register_strictly(
    builder: SessionBuilder,
    name: &'static str,
    provider: ort::ep::ExecutionProviderDispatch,
) -> Result<SessionBuilder, DeviceError> {
    let failed = |e: ort::Error| DeviceError::Failed {
        name,
        reason: crate::engine::device::provider_failure(&e.to_string()),
    };
    builder
        .with_execution_providers([provider.error_on_failure()])
        .map_err(|e| failed(e.into()))?
        .with_disable_cpu_fallback()
        .map_err(|e| failed(e.into()))
}

#[cfg(not(feature = "cuda"))]
fn register_cuda(_builder: SessionBuilder, _id: u32) -> Result<SessionBuilder, DeviceError> {
    unreachable!("checked by register")
}

#[cfg(feature = "tensorrt")]
fn register_tensorrt(
    builder: SessionBuilder,
    id: u32,
    precision: Precision,
    model_key: &str,
) -> Result<SessionBuilder, DeviceError> {
    // Engines are specific to the model, the GPU and the precision: keyed by all three (the
    // key names the precision and the model's hash; the directory, the GPU).
    let cache = crate::engine::wheel::cache_dir()
        .join("tensorrt")
        .join(format!("gpu{id}"));
    let _ = std::fs::create_dir_all(&cache);
    let cache = cache.display().to_string();
    log::info!(
        "TensorRT builds an engine for each model the first time (this can take minutes); it is cached in {cache}"
    );
    register_strictly(
        builder,
        "TensorRT",
        ort::ep::TensorRT::default()
            .with_device_id(id as i32)
            .with_engine_cache(true)
            .with_engine_cache_path(&cache)
            .with_engine_cache_prefix(model_key)
            .with_timing_cache(true)
            .with_timing_cache_path(&cache)
            // The int8 model's Q/DQ nodes are explicit quantization for TensorRT, which needs
            // its INT8 flag for them; fp16 lets it pick half-precision kernels. Both allow
            // fp16 for the layers between.
            .with_int8(precision == Precision::Int8)
            .with_fp16(precision != Precision::Fp32)
            // Sizes people use: 64x64 to 3840x2160, tuned for 1280x720 (NHWC content input).
            .with_profile_min_shapes("content_image:1x64x64x3")
            .with_profile_opt_shapes("content_image:1x720x1280x3")
            .with_profile_max_shapes("content_image:1x2160x3840x3")
            .build(),
    )
}

#[cfg(not(feature = "tensorrt"))]
fn register_tensorrt(
    _builder: SessionBuilder,
    _id: u32,
    _precision: Precision,
    _model_key: &str,
) -> Result<SessionBuilder, DeviceError> {
    unreachable!("checked by register")
}
