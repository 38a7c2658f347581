//! The conditional instance norms' scales and shifts: an affine function of the style
//! embedding, computed once per style.
//!
//! In the transformation network, 26 1×1 convolutions of the 100-number embedding give each of
//! the 13 norms its scales and shifts. On OpenVINO brushwork runs the network without them
//! (`models/style_transform_trunk.onnx`, whose inputs are those 26 tensors) and applies their
//! weights here, in f32 with f64 sums: OpenVINO would compile them for every picture size
//! (about 110 ms of a 430 ms compile at 1080p on 2 cores) and, in bf16, round their weights to 8 bits of mantissa.
//!
//! `models/norm_params.bin`, written by `python-export/norm_params.py`: `BWNORMS1`, the
//! header's length (u32, little-endian), the header (JSON: the embedding's length and, per
//! input, its name, channels and offset in floats), then float32 little-endian values: for
//! each input, its channels × embedding weights, row by row, then its channels biases.

use serde::Deserialize;

use crate::models::{ModelBytes, ModelError};
use crate::style::{StyleEmbedding, EMBEDDING_DIM};

const MAGIC: &[u8; 8] = b"BWNORMS1";
/// More channels than any norm of a network this size has: a header that claims more is
/// damaged, and is refused before anything is allocated for it.
const MAX_CHANNELS: usize = 4096;

/// One input of the trunk: a norm's scales or shifts.
#[derive(Debug, Clone, Deserialize)]
pub struct NormInput {
    /// The trunk's input name, as the tensor is named in the whole network.
    pub name: String,
    pub channels: usize,
    offset: usize,
}

#[derive(Deserialize)]
struct Header {
    embedding: usize,
    params: Vec<NormInput>,
}

/// The weights of the norms' parameters, read from `norm_params.bin`.
#[derive(Debug, Clone)]
pub struct NormParams {
    inputs: Vec<NormInput>,
    values: Vec<f32>,
}

impl NormParams {
    /// Reads and checks `model` (the bytes of `norm_params.bin`).
    pub fn parse(model: &ModelBytes) -> Result<NormParams, ModelError> {
        let invalid = |reason: String| ModelError::Invalid {
            path: model.origin.clone(),
            role: "norm parameters",
            reason,
        };
        let bytes = &model.bytes[..];
        if !bytes.starts_with(MAGIC) {
            return Err(invalid("it does not start with BWNORMS1".into()));
        }
        let Some(len) = bytes.get(8..12) else {
            return Err(invalid("its header is cut short".into()));
        };
        let len = u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize;
        let Some(json) = bytes.get(12..12 + len) else {
            return Err(invalid("its header is cut short".into()));
        };
        let header: Header = serde_json::from_slice(json)
            .map_err(|e| invalid(format!("its header is not valid: {e}")))?;
        if header.embedding != EMBEDDING_DIM {
            return Err(invalid(format!(
                "it is for {}-number embeddings, not {EMBEDDING_DIM}",
                header.embedding
            )));
        }
        let data = &bytes[12 + len..];
        if !data.len().is_multiple_of(4) {
            return Err(invalid("its values are not whole float32s".into()));
        }
        let values: Vec<f32> = data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
            .collect();
        if header.params.is_empty() {
            return Err(invalid("it has no parameters".into()));
        }
        for p in &header.params {
            let end = (1..=MAX_CHANNELS)
                .contains(&p.channels)
                .then(|| p.offset.checked_add(p.channels * (EMBEDDING_DIM + 1)))
                .flatten();
            if end.is_none_or(|end| end > values.len()) {
                return Err(invalid(format!(
                    "'{}' ({} channels at {}) lies outside its {} values",
                    p.name,
                    p.channels,
                    p.offset,
                    values.len()
                )));
            }
        }
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(invalid(format!(
                "it holds a value that is not finite ({bad})"
            )));
        }
        Ok(NormParams {
            inputs: header.params,
            values,
        })
    }

    /// The trunk's inputs these parameters feed, in the file's order.
    pub fn inputs(&self) -> &[NormInput] {
        &self.inputs
    }

    /// Writes input `index`'s values for `style` into `out` (its channels long): each channel's
    /// weights times the embedding, plus its bias.
    pub fn compute(&self, index: usize, style: &StyleEmbedding, out: &mut [f32]) {
        let p = &self.inputs[index];
        let weights = &self.values[p.offset..p.offset + p.channels * EMBEDDING_DIM];
        let biases = &self.values[p.offset + p.channels * EMBEDDING_DIM..][..p.channels];
        let e = style.as_slice();
        for ((o, row), b) in out
            .iter_mut()
            .zip(weights.chunks_exact(EMBEDDING_DIM))
            .zip(biases)
        {
            let sum: f64 = row
                .iter()
                .zip(e)
                .map(|(w, x)| f64::from(*w) * f64::from(*x))
                .sum();
            *o = (sum + f64::from(*b)) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn file(header: &str, values: &[f32]) -> ModelBytes {
        let mut bytes = MAGIC.to_vec();
        bytes.extend((header.len() as u32).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        ModelBytes {
            origin: "test.bin".into(),
            bytes: Cow::Owned(bytes),
        }
    }

    #[test]
    fn each_channel_is_its_weights_times_the_embedding_plus_its_bias() {
        // Two channels: weights 1..=100 and all 0.5; biases 3 and -1.
        let mut values: Vec<f32> = (1..=100).map(|v| v as f32).collect();
        values.extend([0.5; 100]);
        values.extend([3.0, -1.0]);
        let header = r#"{"embedding": 100, "params": [{"name": "a", "channels": 2, "offset": 0}]}"#;
        let params = NormParams::parse(&file(header, &values)).unwrap();
        let style = StyleEmbedding::from_slice(&[2.0; 100]).unwrap();
        let mut out = [0f32; 2];
        params.compute(0, &style, &mut out);
        assert_eq!(out, [2.0 * 5050.0 + 3.0, 100.0 - 1.0]);
        assert_eq!(params.inputs()[0].name, "a");
    }

    #[test]
    fn a_damaged_file_is_one_clear_error() {
        let ok = r#"{"embedding": 100, "params": [{"name": "a", "channels": 1, "offset": 0}]}"#;
        let values = vec![0.0; 101];
        for (bytes, says) in [
            (file(ok, &values[..100]), "outside its 100 values"),
            (
                file(&ok.replace("\"channels\": 1", "\"channels\": 0"), &values),
                "0 channels",
            ),
            (
                file(
                    &ok.replace("\"offset\": 0", "\"offset\": 18446744073709551615"),
                    &values,
                ),
                "outside",
            ),
            (file(&ok.replace("100,", "99,"), &values), "99-number"),
            (
                file(r#"{"embedding": 100, "params": []}"#, &values),
                "no parameters",
            ),
            (file("{", &values), "header is not valid"),
            (file(ok, &[f32::NAN; 101]), "not finite"),
            (
                ModelBytes {
                    origin: "test.bin".into(),
                    bytes: Cow::Borrowed(b"BWTILES1...."),
                },
                "BWNORMS1",
            ),
            (
                ModelBytes {
                    origin: "test.bin".into(),
                    bytes: Cow::Borrowed(b"BWNORMS1\xff"),
                },
                "cut short",
            ),
        ] {
            let err = NormParams::parse(&bytes).unwrap_err().to_string();
            assert!(err.contains(says), "{err} (expected '{says}')");
            assert!(
                err.starts_with("test.bin is not a usable norm parameters model"),
                "{err}"
            );
        }
    }
}
