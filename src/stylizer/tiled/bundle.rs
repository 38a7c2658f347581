//! The tiling bundle: its format (a header of segments, tensors, norms and plans, then the
//! segments' ONNX bytes), the checks that make a header safe to execute, and a plan's peak
//! memory.

use std::collections::HashMap;

use serde::Deserialize;

use crate::models::{ModelBytes, ModelError};
use crate::style::EMBEDDING_DIM;

use super::budget::WINDOW_BYTES_PER_PIXEL;

pub(super) const MAGIC: &[u8; 8] = b"BWTILES1";
pub(super) const CONTENT: &str = "content_image";
pub(super) const PICTURE: &str = "stylized_image";
/// The network's stride: tiles and halos are counted in pixels of the 1/4-resolution grid.
pub(super) const STRIDE: usize = 4;

/// Limits on what a bundle's header may say, far above the built-in networks' (32 channels,
/// halos of 2, 100 style numbers), so that no header can overflow the executor's arithmetic.
const MAX_CHANNELS: usize = 1024;
const MAX_HALO: usize = 256;
const MAX_STYLE_LEN: usize = 4096;
/// The trunk has 26 norm parameters.
const MAX_NORM_PARAMS: usize = 1024;

#[derive(Debug, Deserialize)]
pub(super) struct Header {
    pub(super) variant: String,
    pub(super) pixels: String,
    /// The network's style input (`style_embedding`, or `style_weights` for the presets) and
    /// its shape.
    pub(super) style_input: String,
    pub(super) style_shape: Vec<usize>,
    pub(super) tensors: HashMap<String, TensorInfo>,
    pub(super) norms: Vec<Norm>,
    pub(super) segments: HashMap<String, SegmentInfo>,
    /// Ways to run the network, fastest first.
    pub(super) plans: Vec<Plan>,
    /// The trunk's inputs that `norm_params.bin` computes from the embedding (the norms' scales
    /// and shifts); empty for a network that takes the embedding itself.
    #[serde(default)]
    pub(super) norm_params: Vec<NormParamInfo>,
}

#[derive(Debug, Deserialize)]
pub(super) struct NormParamInfo {
    pub(super) name: String,
    pub(super) channels: usize,
}

#[derive(Debug, Deserialize)]
pub(super) struct Plan {
    pub(super) name: String,
    pub(super) stages: Vec<Stage>,
}

#[derive(Debug, Deserialize)]
pub(super) struct TensorInfo {
    pub(super) channels: usize,
    /// The tensor's resolution: the padded picture divided by this (1, 2 or 4).
    pub(super) scale: usize,
}

#[derive(Debug, Deserialize)]
pub(super) struct Norm {
    pub(super) mean: String,
    pub(super) variance: String,
    pub(super) channels: usize,
}

#[derive(Debug, Deserialize)]
pub(super) struct SegmentInfo {
    pub(super) inputs: Vec<String>,
    pub(super) outputs: Vec<String>,
    /// 1/4-resolution pixels each side of a tile that its outputs depend on.
    pub(super) halo: usize,
    pub(super) stat_inputs: Vec<String>,
    pub(super) embedding: bool,
    /// Which of the header's `norm_params` it takes.
    #[serde(default)]
    pub(super) params: Vec<String>,
    pub(super) offset: usize,
    pub(super) bytes: usize,
}

#[derive(Debug, Deserialize)]
pub(super) struct Stage {
    pub(super) segment: String,
    /// What becomes of each of the segment's outputs, in its order.
    pub(super) outputs: Vec<StageOutput>,
}

#[derive(Debug, Deserialize)]
pub(super) struct StageOutput {
    pub(super) tensor: String,
    /// The norm whose statistics this output gives.
    pub(super) stats: Option<usize>,
    /// Whether it is kept for later stages.
    pub(super) keep: bool,
}

/// A parsed tiling bundle: its header and the segments' ONNX bytes.
pub(crate) struct Bundle {
    pub(super) header: Header,
    pub(super) model: ModelBytes,
    pub(super) base: usize,
}

impl Bundle {
    pub(crate) fn parse(model: &ModelBytes) -> Result<Bundle, ModelError> {
        let invalid = |reason: String| ModelError::Invalid {
            path: model.origin.clone(),
            role: "tiled transformation",
            reason,
        };
        let bytes = &model.bytes[..];
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(invalid("it does not start with BWTILES1".into()));
        }
        let len = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
        let Some(json) = bytes.get(12..12 + len) else {
            return Err(invalid("its header is cut short".into()));
        };
        let header: Header = serde_json::from_slice(json)
            .map_err(|e| invalid(format!("its header is not valid: {e}")))?;
        let base = 12 + len;
        header.check(bytes.len() - base).map_err(invalid)?;
        Ok(Bundle {
            header,
            model: model.clone(),
            base,
        })
    }

    pub(super) fn segment_bytes(&self, name: &str) -> &[u8] {
        let s = &self.header.segments[name];
        &self.model.bytes[self.base + s.offset..self.base + s.offset + s.bytes]
    }
}

impl Header {
    /// Everything the executor indexes exists, so that running the stages cannot panic.
    fn check(&self, blob_len: usize) -> Result<(), String> {
        if self.pixels != "u8" {
            return Err(format!("its pixels are '{}', not u8", self.pixels));
        }
        let style_len = match self.style_shape[..] {
            [n] => n,
            [a, b, c, d] => a * b * c * d,
            _ => 0,
        };
        if !(1..=MAX_STYLE_LEN).contains(&style_len) || self.style_shape.contains(&0) {
            return Err(format!("its style input has shape {:?}", self.style_shape));
        }
        if !self.norm_params.is_empty() && style_len != EMBEDDING_DIM {
            return Err(format!(
                "its norm parameters come from a {style_len}-number style, not an embedding"
            ));
        }
        if self.norm_params.len() > MAX_NORM_PARAMS {
            return Err(format!(
                "it lists {} norm parameters",
                self.norm_params.len()
            ));
        }
        if let Some(p) = self
            .norm_params
            .iter()
            .find(|p| !(1..=MAX_CHANNELS).contains(&p.channels))
        {
            return Err(format!(
                "norm parameter {} has {} channels",
                p.name, p.channels
            ));
        }
        let names: Vec<&String> = self.norm_params.iter().map(|p| &p.name).collect();
        if let Some(n) = first_repeated(&names) {
            return Err(format!("it lists norm parameter {n} twice"));
        }
        for (name, t) in &self.tensors {
            if ![1, 2, 4].contains(&t.scale) || !(1..=MAX_CHANNELS).contains(&t.channels) {
                return Err(format!(
                    "tensor {name} has scale {} and {} channels",
                    t.scale, t.channels
                ));
            }
        }
        for pixels in [CONTENT, PICTURE] {
            if self
                .tensors
                .get(pixels)
                .is_none_or(|t| (t.scale, t.channels) != (1, 3))
            {
                return Err(format!("{pixels} is not 3 channels at full resolution"));
            }
        }
        for (name, s) in &self.segments {
            if s.offset
                .checked_add(s.bytes)
                .is_none_or(|end| end > blob_len)
            {
                return Err(format!("segment {name} lies outside the file"));
            }
            if s.halo > MAX_HALO {
                return Err(format!("segment {name} has a halo of {}", s.halo));
            }
            for t in s.inputs.iter().chain(&s.outputs) {
                if !self.tensors.contains_key(t) {
                    return Err(format!("segment {name} uses {t}, which has no entry"));
                }
            }
            if let Some(i) = s.stat_inputs.iter().find(|i| self.norm_of(i).is_none()) {
                return Err(format!(
                    "segment {name} takes {i}, which is no norm's statistic"
                ));
            }
            if s.params.len() > self.norm_params.len() {
                return Err(format!(
                    "segment {name} takes {} norm parameters of {}",
                    s.params.len(),
                    self.norm_params.len()
                ));
            }
            if let Some(i) = s
                .params
                .iter()
                .find(|i| !self.norm_params.iter().any(|p| &p.name == *i))
            {
                return Err(format!(
                    "segment {name} takes {i}, which is no norm parameter"
                ));
            }
            if let Some(i) = first_repeated(&s.params) {
                return Err(format!("segment {name} takes {i} twice"));
            }
        }
        if self.plans.is_empty() {
            return Err("it has no plan".into());
        }
        for plan in &self.plans {
            self.check_plan(plan)
                .map_err(|e| format!("plan {}: {e}", plan.name))?;
        }
        Ok(())
    }

    /// A plan's stages read only what earlier stages kept, take only statistics earlier
    /// stages computed, and end with the picture.
    fn check_plan(&self, plan: &Plan) -> Result<(), String> {
        let mut made = vec![CONTENT];
        let mut known: Vec<&str> = Vec::new();
        for st in &plan.stages {
            let Some(seg) = self.segments.get(&st.segment) else {
                return Err(format!("a stage runs {}, which is missing", st.segment));
            };
            if let Some(i) = seg
                .inputs
                .iter()
                .find(|i| !made.contains(&i.as_str()) || *i == PICTURE)
            {
                return Err(format!("{} reads {i} before it is kept", st.segment));
            }
            if let Some(i) = seg
                .stat_inputs
                .iter()
                .find(|i| !known.contains(&i.as_str()))
            {
                return Err(format!("{} takes {i} before it is computed", st.segment));
            }
            let names: Vec<&String> = st.outputs.iter().map(|o| &o.tensor).collect();
            if names != seg.outputs.iter().collect::<Vec<_>>() {
                return Err(format!("{}: its stage names other outputs", st.segment));
            }
            for o in &st.outputs {
                if o.tensor == CONTENT || (o.tensor == PICTURE && o.stats.is_some()) {
                    return Err(format!("{} gives {} as it cannot", st.segment, o.tensor));
                }
                if let Some(n) = o.stats {
                    let Some(norm) = self
                        .norms
                        .get(n)
                        .filter(|norm| norm.channels == self.tensors[&o.tensor].channels)
                    else {
                        return Err(format!("{} gives no norm {n}", st.segment));
                    };
                    known.extend([norm.mean.as_str(), norm.variance.as_str()]);
                }
                if o.keep {
                    made.push(&o.tensor);
                }
            }
        }
        if !made.contains(&PICTURE) {
            return Err("no stage gives the picture".into());
        }
        Ok(())
    }

    /// The place of norm parameter `name` in the header's list.
    pub(super) fn norm_param_index(&self, name: &str) -> Option<usize> {
        self.norm_params.iter().position(|p| p.name == name)
    }

    fn norm_of(&self, stat: &str) -> Option<&Norm> {
        self.norms
            .iter()
            .find(|n| n.mean == stat || n.variance == stat)
    }

    /// Bytes of a kept tensor (f16) for a picture of `hq x wq` quarter-resolution pixels.
    fn kept_bytes(&self, tensor: &str, hq: usize, wq: usize) -> u64 {
        let t = &self.tensors[tensor];
        let f = STRIDE / t.scale;
        (t.channels * hq * f * wq * f * 2) as u64
    }

    /// The most bytes a tiled run holds at once beyond the process and the picture: at each
    /// stage, the kept tensors alive (its outputs included), the result once its stage has
    /// begun (the caller's output image is written, so touched, from then on), and what one
    /// run of the segment needs for its window at the segment's finest resolution.
    pub(super) fn peak(&self, plan: &Plan, hq: usize, wq: usize, tq: usize) -> u64 {
        let last_use = plan.last_uses(self);
        let (mut alive, mut peak) = (0u64, 0u64);
        for (i, st) in plan.stages.iter().enumerate() {
            let seg = &self.segments[&st.segment];
            for o in st.outputs.iter().filter(|o| o.keep) {
                alive += if o.tensor == PICTURE {
                    (3 * hq * wq * STRIDE * STRIDE) as u64
                } else {
                    self.kept_bytes(&o.tensor, hq, wq)
                };
            }
            let finest = seg
                .inputs
                .iter()
                .chain(&seg.outputs)
                .map(|t| STRIDE / self.tensors[t].scale)
                .max()
                .unwrap_or(1);
            let side = |n: usize| ((tq + 2 * seg.halo).min(n) * finest) as u64;
            peak = peak.max(alive + WINDOW_BYTES_PER_PIXEL * side(hq) * side(wq));
            for input in &seg.inputs {
                if input != CONTENT && last_use.get(input.as_str()) == Some(&i) {
                    alive -= self.kept_bytes(input, hq, wq);
                }
            }
        }
        peak
    }
}

/// The first item of `items` that appears twice.
fn first_repeated<T: PartialEq>(items: &[T]) -> Option<&T> {
    items
        .iter()
        .enumerate()
        .find(|(i, x)| items[..*i].contains(x))
        .map(|(_, x)| x)
}

impl Plan {
    /// The index of the last stage that reads each kept tensor.
    pub(super) fn last_uses<'a>(&self, header: &'a Header) -> HashMap<&'a str, usize> {
        let mut last = HashMap::new();
        for (i, st) in self.stages.iter().enumerate() {
            for input in &header.segments[&st.segment].inputs {
                last.insert(input.as_str(), i);
            }
        }
        last
    }
}

/// A bundle's header as JSON, for tests that edit it.
#[cfg(test)]
pub(super) fn header_of(bundle: &ModelBytes) -> serde_json::Value {
    let len = u32::from_le_bytes(bundle.bytes[8..12].try_into().unwrap()) as usize;
    serde_json::from_slice(&bundle.bytes[12..12 + len]).unwrap()
}

/// `bundle` with its header changed by `edit`, its segments as they were.
#[cfg(test)]
pub(super) fn with_edited_header(
    bundle: &ModelBytes,
    edit: &dyn Fn(&mut serde_json::Value),
) -> ModelBytes {
    let len = u32::from_le_bytes(bundle.bytes[8..12].try_into().unwrap()) as usize;
    let mut header = header_of(bundle);
    edit(&mut header);
    let json = serde_json::to_vec(&header).unwrap();
    let mut bytes = MAGIC.to_vec();
    bytes.extend((json.len() as u32).to_le_bytes());
    bytes.extend(json);
    bytes.extend(&bundle.bytes[12 + len..]);
    ModelBytes {
        origin: "edited.bundle".into(),
        bytes: std::borrow::Cow::Owned(bytes),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::models::Precision;

    #[test]
    fn the_embedded_bundles_parse_and_their_peak_is_what_the_readme_says() {
        let set = crate::ModelSet::embedded();
        let trunk = set.tiled_trunk().expect("embedded").0;
        let fp32 = set.tiled_for(Precision::Fp32).expect("embedded");
        let fp16 = set.tiled_for(Precision::Fp16).expect("embedded");
        for (variant, bundle) in [("fp32", fp32), ("fp16", fp16), ("trunk", trunk)] {
            let b = Bundle::parse(bundle).expect("valid");
            // 6000x4000 in 256 px tiles. While a residual block's sum is formed: four
            // 32-channel quarter-resolution tensors in fp16 (the previous sum, its second
            // convolution, the new sum, the next first convolution) and a 66x66 window. While
            // the last convolution runs: its input at half resolution (16 channels), its
            // 3-channel output at full resolution, and a full-resolution window of 272x272.
            let residual = 4 * 32 * 1000 * 1500 * 2 + 1200 * 66 * 66;
            let expand = 16 * 2000 * 3000 * 2 + 3 * 4000 * 6000 * 2 + 1200 * 272 * 272;
            let lean = b.header.plans.iter().find(|p| p.name == "lean").unwrap();
            assert_eq!(
                b.header.peak(lean, 1000, 1500, 64),
                residual.max(expand),
                "{variant}"
            );
            // The fast plan keeps the 8-channel full-resolution tensor beside the half-resolution
            // one while it is made.
            let fast = &b.header.plans[0];
            assert_eq!(fast.name, "fast");
            let expand2 = 16 * 2000 * 3000 * 2 + 8 * 4000 * 6000 * 2 + 1200 * 264 * 264;
            assert_eq!(b.header.peak(fast, 1000, 1500, 64), expand2, "{variant}");
        }
    }

    #[test]
    fn damaged_bundles_are_refused_with_a_reason() {
        let good = crate::ModelSet::embedded().tiled_fp32.expect("embedded");
        let with = |bytes: Vec<u8>| ModelBytes {
            origin: "x.bundle".into(),
            bytes: Cow::Owned(bytes),
        };
        let err = |bytes: Vec<u8>| {
            Bundle::parse(&with(bytes))
                .err()
                .expect("refused")
                .to_string()
        };
        assert!(err(b"ONNX".to_vec()).contains("does not start with BWTILES1"));
        assert!(err(good.bytes[..20].to_vec()).contains("cut short"));
        let cut = good.bytes.len() - 1000;
        assert!(err(good.bytes[..cut].to_vec()).contains("outside the file"));

        // A header that parses but says what the executor could not do safely.
        let header = header_of(&good);
        let with_header = |edit: &dyn Fn(&mut serde_json::Value)| {
            err(with_edited_header(&good, edit).bytes.into_owned())
        };
        let first_norm_input = header["norms"][0]["input"].as_str().unwrap().to_string();
        type Edit<'a> = &'a dyn Fn(&mut serde_json::Value);
        let cases: [(Edit, &str); 6] = [
            (
                &|h| h["plans"][0]["stages"][1]["outputs"][0]["stats"] = serde_json::Value::Null,
                "before it is computed",
            ),
            (
                &|h| {
                    let seg = h["plans"][0]["stages"][2]["segment"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    h["segments"][seg]["inputs"][0] = "stylized_image".into();
                },
                "reads stylized_image",
            ),
            (
                &|h| h["tensors"][first_norm_input.as_str()]["channels"] = 1_000_000_000.into(),
                "channels",
            ),
            (
                &|h| h["segments"]["contract"]["halo"] = u64::MAX.into(),
                "halo",
            ),
            (
                &|h| h["style_shape"] = serde_json::json!([0]),
                "style input",
            ),
            (
                &|h| h["tensors"]["stylized_image"]["scale"] = 2.into(),
                "full resolution",
            ),
        ];
        for (edit, needle) in cases {
            let e = with_header(edit);
            assert!(e.contains(needle), "{needle}: {e}");
        }
        // A segment that takes a norm parameter the header does not list, and parameters
        // made from a style that is not an embedding.
        let e = with_header(&|h| {
            h["norm_params"] = serde_json::json!([{"name": "style_params/y", "channels": 32}]);
            h["segments"]["contract"]["params"] = serde_json::json!(["style_params/x"]);
        });
        assert!(e.contains("which is no norm parameter"), "{e}");
        let e = with_header(&|h| {
            h["norm_params"] = serde_json::json!([{"name": "style_params/x", "channels": 32}]);
            h["style_shape"] = serde_json::json!([26]);
        });
        assert!(e.contains("not an embedding"), "{e}");
        let twice = serde_json::json!({"name": "style_params/x", "channels": 32});
        let e = with_header(&|h| h["norm_params"] = serde_json::json!([twice, twice]));
        assert!(e.contains("style_params/x twice"), "{e}");
        let e = with_header(&|h| {
            h["norm_params"] = serde_json::json!([{"name": "style_params/x", "channels": 0}])
        });
        assert!(e.contains("0 channels"), "{e}");
        let e =
            with_header(&|h| h["segments"]["contract"]["params"] = serde_json::json!(["x", "y"]));
        assert!(e.contains("takes 2 norm parameters of 0"), "{e}");
    }
}
