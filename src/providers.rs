//! Execution providers: which device runs the networks, and how each is brought up.
//!
//! `cpu` is always there. `cuda` and `tensorrt` need brushwork built with the cargo features of
//! those names *and* an ONNX Runtime build that has them (the `onnxruntime-gpu` package's
//! library, with CUDA and cuDNN libraries on the loader path). An explicitly requested provider
//! that cannot start is an error that says what is missing, never a silent fall-back to the
//! CPU; and ONNX Runtime's own CPU fall-back for nodes the GPU provider cannot run is switched
//! off, so "cuda" means every node runs on the GPU.
//!
//! `openvino` runs the transformation network on OpenVINO instead of ONNX Runtime, in bf16
//! where the CPU has AVX-512 BF16 or AMX (fetched once from PyPI; see [`crate::openvino`]).
//!
//! `auto` tries TensorRT, then CUDA, then (on a CPU with AVX-512 BF16 or AMX) OpenVINO in
//! bf16, then ONNX Runtime's CPU provider, and reports what it picked. The rule comes from
//! measurements on the 2-core CI machine (AMX): OpenVINO bf16 against ONNX Runtime fp32 is
//! 3.2x faster at 384x384 and 3.6x at 640x480 (README, "Speed"); without native bf16 OpenVINO
//! computes in fp32, no faster than ONNX Runtime, so the CPU provider stays the choice there.

use std::str::FromStr;

use ort::session::builder::SessionBuilder;

use crate::models::Precision;

/// Where the networks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// The fastest provider that starts here.
    #[default]
    Auto,
    /// ONNX Runtime's CPU execution provider.
    Cpu,
    /// NVIDIA CUDA, on the GPU with this index.
    Cuda(u32),
    /// NVIDIA TensorRT, on the GPU with this index.
    TensorRt(u32),
    /// OpenVINO on the CPU (not an ONNX Runtime provider: see [`crate::openvino`]).
    OpenVino,
}

impl FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (name, id) = match s.split_once(':') {
            Some((n, id)) => {
                let id = id.parse().map_err(|_| {
                    format!("device '{s}': the GPU index must be a number, e.g. cuda:1")
                })?;
                (n, Some(id))
            }
            None => (s, None),
        };
        match (name, id) {
            ("auto", None) => Ok(Device::Auto),
            ("cpu", None) => Ok(Device::Cpu),
            ("cuda", id) => Ok(Device::Cuda(id.unwrap_or(0))),
            ("tensorrt", id) => Ok(Device::TensorRt(id.unwrap_or(0))),
            ("openvino", None) => Ok(Device::OpenVino),
            _ => Err(format!(
                "unknown device '{s}'; use auto, cpu, openvino, cuda, cuda:N, tensorrt or tensorrt:N"
            )),
        }
    }
}

impl Device {
    /// The execution provider's name as ONNX Runtime's documentation spells it.
    pub fn provider_name(self) -> &'static str {
        match self {
            Device::Auto | Device::Cpu => "CPU",
            Device::Cuda(_) => "CUDA",
            Device::TensorRt(_) => "TensorRT",
            Device::OpenVino => "OpenVINO",
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Auto => write!(f, "auto"),
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda(id) => write!(f, "cuda:{id}"),
            Device::TensorRt(id) => write!(f, "tensorrt:{id}"),
            Device::OpenVino => write!(f, "openvino"),
        }
    }
}

/// Why a provider could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("this brushwork was built without {name} support; rebuild it with `cargo build --release --features {feature}`")]
    NotCompiled {
        name: &'static str,
        feature: &'static str,
    },
    #[error("the ONNX Runtime in use ({path}) has no {name} execution provider; point ORT_DYLIB_PATH at the libonnxruntime.so of the onnxruntime-gpu package (with libonnxruntime_providers_*.so beside it), with the CUDA and cuDNN libraries on LD_LIBRARY_PATH")]
    NotInRuntime { name: &'static str, path: String },
    #[error("{name} could not start: {reason}")]
    Failed { name: &'static str, reason: String },
}

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
    if !matches!(device, Device::Auto | Device::Cpu) && crate::runtime::environment().is_err() {
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

/// The candidates `auto` tries, fastest first.
pub fn auto_candidates() -> Vec<Device> {
    let mut v = Vec::new();
    if cfg!(feature = "tensorrt") && in_runtime(Device::TensorRt(0)) {
        v.push(Device::TensorRt(0));
    }
    if cfg!(feature = "cuda") && in_runtime(Device::Cuda(0)) {
        v.push(Device::Cuda(0));
    }
    if crate::openvino::CpuFeatures::detect().has_bf16() {
        v.push(Device::OpenVino);
    }
    v.push(Device::Cpu);
    v
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
        let path = crate::runtime::info()
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

#[cfg(feature = "cuda")]
fn register_cuda(builder: SessionBuilder, id: u32) -> Result<SessionBuilder, DeviceError> {
    register_strictly(
        builder,
        "CUDA",
        ort::ep::CUDA::default().with_device_id(id as i32).build(),
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
        reason: e.to_string(),
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
    let cache = crate::wheel::cache_dir()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse() {
        assert_eq!("auto".parse(), Ok(Device::Auto));
        assert_eq!("cpu".parse(), Ok(Device::Cpu));
        assert_eq!("cuda".parse(), Ok(Device::Cuda(0)));
        assert_eq!("cuda:1".parse(), Ok(Device::Cuda(1)));
        assert_eq!("tensorrt:2".parse(), Ok(Device::TensorRt(2)));
        assert!("cuda:x"
            .parse::<Device>()
            .unwrap_err()
            .contains("GPU index"));
        assert!("gpu"
            .parse::<Device>()
            .unwrap_err()
            .contains("unknown device 'gpu'"));
        assert_eq!(Device::Cuda(3).to_string(), "cuda:3");
    }

    #[test]
    fn the_cpu_is_always_a_candidate_and_last() {
        assert_eq!(auto_candidates().last(), Some(&Device::Cpu));
        assert!(compiled().contains(&"cpu"));
    }
}
