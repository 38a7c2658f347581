//! Style embeddings as small, versioned, human-readable files (`NAME.style.json`).
//!
//! ```json
//! {
//!   "format": "brushwork.style",
//!   "version": 1,
//!   "name": "towers",
//!   "source": "towers_1916_sq.jpg",
//!   "model_sha256": "c0c3b3d4…",
//!   "embedding": [0.123, -0.456, …]
//! }
//! ```
//!
//! `model_sha256` is the hash of the style-prediction network that made the embedding: an
//! embedding only means something to the transformer trained with that network, so a file made
//! by another model is refused. Numbers are written in the shortest form that reads back to the
//! same `f32`, so a round trip is exact.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::style::{StyleEmbedding, EMBEDDING_DIM};

/// The `format` value of a style file.
pub const FORMAT: &str = "brushwork.style";
/// The newest format version this build reads and the one it writes.
pub const VERSION: u32 = 1;
/// The file-name suffix of style files.
pub const SUFFIX: &str = ".style.json";

/// The largest style file read: one is about 2 KB.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;

/// The longest style name, in bytes: a name becomes a file name (`NAME.style.json`, within a
/// file system's 255), and a style file must stay far under [`MAX_FILE_BYTES`].
pub const MAX_NAME_BYTES: usize = 200;

/// Checks a style name, which becomes a file name: 1 to [`MAX_NAME_BYTES`] bytes, no `/`, `\`
/// or control characters, not `.` or `..` (so it cannot lead out of its directory). `Err`
/// says what a name must be.
pub fn check_name(name: &str) -> Result<(), String> {
    let bad = name.is_empty()
        || name.len() > MAX_NAME_BYTES
        || name == "."
        || name == ".."
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control);
    if bad {
        return Err(format!(
            "a style name is a plain file name of 1 to {MAX_NAME_BYTES} bytes, without '/', '\\' or control characters, and not '.' or '..'"
        ));
    }
    Ok(())
}
/// The largest magnitude a number of a style file may have. The style network's embeddings of
/// real paintings stay within ±3 and blends of them within that; far outside, the transformer's
/// normalisation paints black or flat grey, so such a file is refused rather than used.
pub const MAX_ABS_VALUE: f32 = 20.0;

/// What can be wrong with a style file.
#[derive(Debug, thiserror::Error)]
pub enum StyleFileError {
    #[error("{}: no such file", .0.display())]
    NotFound(PathBuf),
    #[error("{}: cannot read: {reason}", .path.display())]
    Read { path: PathBuf, reason: String },
    #[error("{}: not a brushwork style file: {reason}", .path.display())]
    Malformed { path: PathBuf, reason: String },
    #[error("{}: format version {found} is newer than this brushwork reads ({VERSION}); upgrade brushwork", .path.display())]
    NewerVersion { path: PathBuf, found: u64 },
    #[error("{}: has {found} numbers; a style embedding has {EMBEDDING_DIM}", .path.display())]
    WrongLength { path: PathBuf, found: usize },
    #[error("{}: entry {index} of the embedding is {found}, not a number", .path.display())]
    NotANumber {
        path: PathBuf,
        index: usize,
        found: String,
    },
    #[error("{}: number {index} is {}, outside the ±{MAX_ABS_VALUE} a style embedding stays within", .path.display(), short_number(*.value))]
    OutOfRange {
        path: PathBuf,
        index: usize,
        value: f64,
    },
    #[error("{}: made by another style model (sha256 {found}); this one is {expected}: embed the painting again", .path.display())]
    OtherModel {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("{}: cannot write: {reason}", .path.display())]
    Write { path: PathBuf, reason: String },
}

/// A style embedding with what is known about where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StyleFile {
    pub format: String,
    pub version: u32,
    pub name: String,
    /// The painting's file name.
    pub source: String,
    pub model_sha256: String,
    pub embedding: Vec<f32>,
}

impl StyleFile {
    pub fn new(name: &str, source: &str, model_sha256: &str, embedding: &StyleEmbedding) -> Self {
        StyleFile {
            format: FORMAT.into(),
            version: VERSION,
            name: name.into(),
            source: source.into(),
            model_sha256: model_sha256.into(),
            embedding: embedding.as_slice().to_vec(),
        }
    }

    /// The embedding (the file was validated when read).
    pub fn embedding(&self) -> StyleEmbedding {
        StyleEmbedding::from_slice(&self.embedding).expect("validated length")
    }

    /// Pretty JSON, one number per line.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("serializable") + "\n"
    }

    /// Parses and validates a file's text; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path, model_sha256: &str) -> Result<Self, StyleFileError> {
        let malformed = |reason: String| StyleFileError::Malformed {
            path: path.to_path_buf(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| malformed(format!("invalid JSON ({e})")))?;
        if value.get("format").and_then(|v| v.as_str()) != Some(FORMAT) {
            return Err(malformed(format!("its \"format\" is not \"{FORMAT}\"")));
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v > u64::from(VERSION) => {
                return Err(StyleFileError::NewerVersion {
                    path: path.to_path_buf(),
                    found: v,
                })
            }
            Some(0) | None => return Err(malformed("missing or invalid \"version\"".into())),
            Some(_) => {}
        }
        let numbers = value
            .get("embedding")
            .and_then(|v| v.as_array())
            .ok_or_else(|| malformed("no \"embedding\" list".into()))?;
        if numbers.len() != EMBEDDING_DIM {
            return Err(StyleFileError::WrongLength {
                path: path.to_path_buf(),
                found: numbers.len(),
            });
        }
        for (index, n) in numbers.iter().enumerate() {
            let Some(v) = n.as_f64() else {
                let mut found = n.to_string();
                if found.len() > 40 {
                    found = format!("{}...", found.chars().take(40).collect::<String>());
                }
                return Err(StyleFileError::NotANumber {
                    path: path.to_path_buf(),
                    index,
                    found,
                });
            };
            // JSON has no infinities (serde_json refuses 1e400 as invalid JSON): a huge number
            // is simply out of range below.
            if v.abs() > f64::from(MAX_ABS_VALUE) {
                return Err(StyleFileError::OutOfRange {
                    path: path.to_path_buf(),
                    index,
                    value: v,
                });
            }
        }
        let file: StyleFile =
            serde_json::from_value(value).map_err(|e| malformed(e.to_string()))?;
        if file.model_sha256 != model_sha256 {
            return Err(StyleFileError::OtherModel {
                path: path.to_path_buf(),
                found: file.model_sha256,
                expected: model_sha256.into(),
            });
        }
        Ok(file)
    }

    /// Reads and validates a style file.
    pub fn read(path: &Path, model_sha256: &str) -> Result<Self, StyleFileError> {
        let bytes = crate::files::read_regular(path, MAX_FILE_BYTES).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StyleFileError::NotFound(path.to_path_buf())
            } else {
                StyleFileError::Read {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                }
            }
        })?;
        let text = String::from_utf8(bytes).map_err(|_| StyleFileError::Malformed {
            path: path.to_path_buf(),
            reason: "not UTF-8 text".into(),
        })?;
        Self::parse(&text, path, model_sha256)
    }

    /// Writes the file atomically.
    pub fn write(&self, path: &Path) -> Result<(), StyleFileError> {
        crate::atomic::write(path, self.to_json().as_bytes()).map_err(|reason| {
            StyleFileError::Write {
                path: path.to_path_buf(),
                reason,
            }
        })
    }
}

/// A number as people write it: `25.5`, or `1e30` when it is huge.
fn short_number(v: f64) -> String {
    if v.abs() >= 1e6 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Whether a path names a style file (by its suffix).
pub fn is_style_file(path: &Path) -> bool {
    path.to_str().is_some_and(|s| s.ends_with(SUFFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "abc123";

    fn sample() -> StyleFile {
        let e = StyleEmbedding(std::array::from_fn(|i| {
            (i as f32 * 0.731).sin() / 3.0 + 1e-7
        }));
        StyleFile::new("waves", "waves.jpg", SHA, &e)
    }

    #[test]
    fn round_trip_is_exact() {
        let f = sample();
        let back = StyleFile::parse(&f.to_json(), Path::new("x"), SHA).unwrap();
        assert_eq!(back, f);
        assert_eq!(back.embedding(), f.embedding());
    }

    fn err(text: &str) -> String {
        StyleFile::parse(text, Path::new("s.style.json"), SHA)
            .unwrap_err()
            .to_string()
    }

    fn with(f: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        f(&mut v);
        v.to_string()
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        assert!(err("{").contains("invalid JSON"));
        assert!(err(&with(|v| v["embedding"][3] = serde_json::json!(1e39)))
            .contains("number 3 is 1e39, outside the ±20"));
        assert!(err(&with(|v| v["embedding"][3] = serde_json::json!([1])))
            .contains("entry 3 of the embedding is [1], not a number"));
        assert!(err(&with(|v| v["embedding"][5] = serde_json::json!(1e30)))
            .contains("number 5 is 1e30, outside the ±20"));
        assert!(
            err(&with(|v| v["embedding"][0] = serde_json::json!(-3.4e38))).contains("number 0 is")
        );
        let text = sample().to_json();
        let at = text.find("\"embedding\": [").unwrap() + "\"embedding\": [".len();
        let nan = format!("{}NaN,{}", &text[..at], &text[at..]);
        assert!(err(&nan).contains("not a brushwork style file"));
        assert!(err(&with(|v| v["embedding"]
            .as_array_mut()
            .unwrap()
            .pop()
            .map(drop)
            .unwrap()))
        .contains("has 99 numbers"));
        assert!(err(&with(|v| v["version"] = 2.into())).contains("version 2 is newer"));
        assert!(err(&with(|v| v["format"] = "other".into())).contains("\"format\""));
        assert!(err(&with(|v| v["model_sha256"] = "fff".into()))
            .contains("made by another style model"));
    }
}
