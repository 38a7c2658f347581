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

/// ONNX Runtime's message for a provider that failed to start, as one line for people: its
/// source locations (`/onnxruntime_src/...cc:123 fn()`) and status prefixes dropped, its lines
/// joined, and a shared library that could not be loaded named first, with what to do.
#[cfg_attr(not(any(feature = "cuda", feature = "tensorrt")), allow(dead_code))]
pub(crate) fn provider_failure(raw: &str) -> String {
    let missing = raw
        .split(|c: char| c.is_whitespace() || c == '\'' || c == '"')
        .find_map(|w| {
            let w = w.trim_end_matches(':');
            let file = w.rsplit('/').next()?;
            (file.starts_with("lib")
                && file.contains(".so")
                && raw.contains(&format!("{w}: cannot open shared object file")))
            .then_some(file)
        });
    if let Some(lib) = missing {
        let needed_by = raw
            .split_whitespace()
            .map(|w| w.rsplit('/').next().unwrap_or(w))
            .find(|w| w.starts_with("libonnxruntime_providers_") && *w != lib);
        return match needed_by {
            Some(provider) => format!(
                "{lib} is missing (needed by {provider}): install it (CUDA, cuDNN or TensorRT) or put its directory on LD_LIBRARY_PATH"
            ),
            None => format!(
                "{lib} is missing: install it (CUDA, cuDNN or TensorRT) or put its directory on LD_LIBRARY_PATH"
            ),
        };
    }
    let mut parts = Vec::new();
    for line in raw.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut rest = line;
        // `/path/file.cc:123 signature [ONNXRuntimeError] : 1 : FAIL : message`
        if let Some(i) = rest.find("[ONNXRuntimeError]") {
            rest = &rest[i + "[ONNXRuntimeError]".len()..];
            for _ in 0..2 {
                if let Some(j) = rest.find(" : ") {
                    rest = &rest[j + 3..];
                }
            }
        } else if let Some((head, tail)) = rest.split_once(' ') {
            let located = head.rsplit_once(':').is_some_and(|(file, line)| {
                (file.ends_with(".cc") || file.ends_with(".cpp") || file.ends_with(".h"))
                    && line.chars().all(|c| c.is_ascii_digit())
            });
            if located {
                // The function signature runs to the first `)` that ends a word.
                rest = tail.split_once(") ").map_or(tail, |(_, m)| m);
            }
        }
        let rest = rest.trim_start_matches([';', ':', ' ']).trim_end();
        if !rest.is_empty() {
            parts.push(rest.to_owned());
        }
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_failures_read_as_one_line() {
        // As ONNX Runtime 1.31 words a CUDA provider whose cuBLAS is absent.
        let cuda = "/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1862 \
            onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : \
            FAIL : Failed to load library libonnxruntime_providers_cuda.so with error: \
            libcublasLt.so.13: cannot open shared object file: No such file or directory";
        assert_eq!(
            provider_failure(cuda),
            "libcublasLt.so.13 is missing (needed by libonnxruntime_providers_cuda.so): install it (CUDA, cuDNN or TensorRT) or put its directory on LD_LIBRARY_PATH"
        );
        // TensorRT's, over two lines.
        let trt = "/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1862 \
            onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : \
            FAIL : Failed to load library /opt/ort/lib/libonnxruntime_providers_tensorrt.so with \
            error: libnvinfer.so.10: cannot open shared object file: No such file or directory\n\
            Please install TensorRT libraries as mentioned in the GPU requirements page.";
        let line = provider_failure(trt);
        assert!(
            line.starts_with(
                "libnvinfer.so.10 is missing (needed by libonnxruntime_providers_tensorrt.so)"
            ),
            "{line}"
        );
        assert!(!line.contains('\n'), "{line}");
        // Anything else: the message without its source location, on one line.
        let other = "/onnxruntime_src/onnxruntime/core/providers/cuda/cuda_call.cc:129 \
            std::conditional_t<THRW, void, common::Status> onnxruntime::CudaCall(ERRTYPE, const char*, const char*, SUCCTYPE, const char*, const char*, int) \
            CUDA failure 100: no CUDA-capable device is detected\n ; GPU=0";
        let line = provider_failure(other);
        assert_eq!(
            line,
            "CUDA failure 100: no CUDA-capable device is detected; GPU=0"
        );
    }

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
