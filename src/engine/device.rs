//! The devices a network can run on, and why one cannot be used (what `auto` tries is
//! [`super::auto_candidates`]).
//!
//! `cpu` is always there. `cuda` and `tensorrt` need brushwork built with the cargo features of
//! those names *and* an ONNX Runtime build that has them (the `onnxruntime-gpu` package's
//! library, with CUDA and cuDNN libraries on the loader path). An explicitly requested provider
//! that cannot start is an error that says what is missing, never a silent fall-back to the
//! CPU; and ONNX Runtime's own CPU fall-back for nodes the GPU provider cannot run is switched
//! off, so "cuda" means every node runs on the GPU.
//!
//! `openvino` runs the transformation network on OpenVINO instead of ONNX Runtime, in bf16
//! where the CPU has AVX-512 BF16 or AMX (fetched once from PyPI; see [`super::openvino`]).
//!
//! `auto` tries TensorRT, then CUDA, then (on a CPU with AVX-512 BF16 or AMX) OpenVINO in
//! bf16, then ONNX Runtime's CPU provider, and reports what it picked. The rule comes from
//! measurements on the 2-core CI machine (AMX): OpenVINO bf16 against ONNX Runtime fp32 is
//! 3.2x faster at 384x384 and 3.6x at 640x480 (README, "Speed"); without native bf16 OpenVINO
//! computes in fp32, no faster than ONNX Runtime, so the CPU provider stays the choice there.

use std::str::FromStr;

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
    /// OpenVINO on the CPU (not an ONNX Runtime provider: see [`super::openvino`]).
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
}
