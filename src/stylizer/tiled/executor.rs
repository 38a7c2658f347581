//! Runs a plan: each segment tile by tile over the whole picture, its outputs summed into the
//! next norm's statistics (in f64) or kept in half precision for the segments that read them.

use std::borrow::Cow;
use std::collections::HashMap;

use half::f16;
use half::slice::HalfFloatSliceExt;
use image::RgbImage;

use crate::engine::{padded_dims, EngineError, Graph, Input, Output};
use crate::models::{ModelBytes, ModelError};
use crate::style::StyleEmbedding;
use crate::tensor::fill_nhwc_window;

use super::bundle::{CONTENT, PICTURE, STRIDE};
use super::geometry::{tiles, window, write_picture, Region};
use super::Tiler;

/// One output of the stage being run: where its tiles go.
struct Sink {
    channels: usize,
    /// Its resolution relative to the quarter grid (1, 2 or 4).
    factor: usize,
    picture: bool,
    keep: Option<Vec<f16>>,
    /// Per channel: the sum and the sum of squares, over the tiles so far.
    sums: Option<Vec<f64>>,
}

impl Tiler {
    /// Stylizes `content` into `out` (its size) in tiles of `tile_side` px, by the plan named
    /// `plan` (one [`Tiler::choose`] gave).
    pub(crate) fn run(
        &mut self,
        content: &RgbImage,
        style: &[f32],
        out: &mut RgbImage,
        plan: &str,
        tile_side: u32,
    ) -> Result<(), EngineError> {
        let plan = self
            .bundle
            .header
            .plans
            .iter()
            .position(|p| p.name == plan)
            .expect("a plan of this bundle");
        let style_shape: [usize; 4] = match self.bundle.header.style_shape[..] {
            [a, b, c, d] => [a, b, c, d],
            // A vector (checked when the bundle was read).
            _ => [style.len(), 1, 1, 1],
        };
        let style_rank = self.bundle.header.style_shape.len();
        if style.len() != self.bundle.header.style_shape.iter().product::<usize>() {
            return Err(EngineError::Model(ModelError::Invalid {
                path: self.bundle.model.origin.clone(),
                role: "tiled transformation",
                reason: format!(
                    "its style input has shape {:?}; brushwork has {} numbers",
                    self.bundle.header.style_shape,
                    style.len()
                ),
            }));
        }
        if let Some(norms) = self.norms.as_mut() {
            // The bundle's check made its style an embedding, and its length was checked above.
            let embedding = StyleEmbedding::from_slice(style).ok_or_else(|| {
                EngineError::Model(ModelError::Invalid {
                    path: self.bundle.model.origin.clone(),
                    role: "tiled transformation",
                    reason: format!(
                        "its norm parameters need an embedding, not {} numbers",
                        style.len()
                    ),
                })
            })?;
            for (k, v) in norms.values.iter_mut() {
                norms.params.compute(*k, &embedding, v);
            }
        }
        let (ph, pw) = padded_dims(content);
        let (hq, wq) = (ph / STRIDE, pw / STRIDE);
        let tq = (tile_side as usize / STRIDE).max(1);
        let origin = self.bundle.model.origin.clone();
        let last_use: HashMap<String, usize> = self.bundle.header.plans[plan]
            .last_uses(&self.bundle.header)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let mut kept: HashMap<String, Vec<f16>> = HashMap::new();
        let mut known: HashMap<String, Vec<f32>> = HashMap::new();
        for i in 0..self.bundle.header.plans[plan].stages.len() {
            let header = &self.bundle.header;
            let stage = &header.plans[plan].stages[i];
            let seg_name = stage.segment.clone();
            let seg = &header.segments[&seg_name];
            let mut sinks: Vec<Sink> = Vec::with_capacity(stage.outputs.len());
            for o in &stage.outputs {
                let t = &header.tensors[&o.tensor];
                let factor = STRIDE / t.scale;
                let picture = o.tensor == PICTURE;
                let keep = if o.keep && !picture {
                    Some(zeroed(t.channels * hq * factor * wq * factor)?)
                } else {
                    None
                };
                sinks.push(Sink {
                    channels: t.channels,
                    factor,
                    picture,
                    keep,
                    sums: o.stats.map(|_| vec![0f64; 2 * t.channels]),
                });
            }
            let halo = seg.halo;
            let inputs: Vec<(String, usize, usize)> = seg
                .inputs
                .iter()
                .map(|n| {
                    let t = &header.tensors[n];
                    (n.clone(), t.channels, STRIDE / t.scale)
                })
                .collect();
            let stat_inputs = seg.stat_inputs.clone();
            let embedding = seg.embedding;
            // Each norm parameter it takes, by its place in the header's list (checked).
            let params: Vec<(String, usize)> = seg
                .params
                .iter()
                .filter_map(|p| Some((p.clone(), header.norm_param_index(p)?)))
                .collect();
            let output_names = seg.outputs.clone();
            let outputs: Vec<&str> = output_names.iter().map(String::as_str).collect();
            let frees: Vec<String> = seg
                .inputs
                .iter()
                .filter(|n| *n != CONTENT && last_use.get(n.as_str()) == Some(&i))
                .cloned()
                .collect();
            if self.scratch.len() < inputs.len() {
                self.scratch.resize_with(inputs.len(), Vec::new);
            }
            for (y0, y1) in tiles(hq, tq) {
                let (ay0, ay1) = window(y0, hq, tq, halo);
                for (x0, x1) in tiles(wq, tq) {
                    let (ax0, ax1) = window(x0, wq, tq, halo);
                    // The window of each input.
                    for (k, (name, c, f)) in inputs.iter().enumerate() {
                        let (h, w) = ((ay1 - ay0) * f, (ax1 - ax0) * f);
                        if name == CONTENT {
                            grow(&mut self.pixels, h * w * 3, 0)?;
                            let (y0, x0) = (ay0 * f, ax0 * f);
                            fill_nhwc_window(content, y0, x0, h, w, &mut self.pixels, |v| v);
                            continue;
                        }
                        let buf = &kept[name];
                        let (bh, bw) = (hq * f, wq * f);
                        let dst = &mut self.scratch[k];
                        grow(dst, c * h * w, 0.0)?;
                        for ch in 0..*c {
                            for y in 0..h {
                                let src = &buf[(ch * bh + ay0 * f + y) * bw + ax0 * f..][..w];
                                src.convert_to_f32_slice(&mut dst[(ch * h + y) * w..][..w]);
                            }
                        }
                    }
                    let mut feed: Vec<(&str, Input)> = Vec::with_capacity(8 + params.len());
                    for (k, (name, c, f)) in inputs.iter().enumerate() {
                        let (h, w) = ((ay1 - ay0) * f, (ax1 - ax0) * f);
                        feed.push((
                            name,
                            if name == CONTENT {
                                Input::U8(&self.pixels, [1, h, w, 3])
                            } else {
                                Input::F32(&self.scratch[k], [1, *c, h, w])
                            },
                        ));
                    }
                    for s in &stat_inputs {
                        let v = &known[s];
                        feed.push((s, Input::F32(v, [1, v.len(), 1, 1])));
                    }
                    if let Some(norms) = &self.norms {
                        for (name, k) in &params {
                            let v = &norms.values[*k].1;
                            feed.push((name, Input::F32(v, [1, v.len(), 1, 1])));
                        }
                    }
                    if embedding {
                        let input = &self.bundle.header.style_input;
                        feed.push((
                            input,
                            if style_rank == 1 {
                                Input::Vector(style)
                            } else {
                                Input::F32(style, style_shape)
                            },
                        ));
                    }
                    let mut take = |k: usize, value: Output| {
                        let sink = &mut sinks[k];
                        let so = sink.factor;
                        // The tile's own region within the window, at the output's resolution.
                        let region = Region {
                            wh: (ay1 - ay0) * so,
                            ww: (ax1 - ax0) * so,
                            ry: (y0 - ay0) * so,
                            rx: (x0 - ax0) * so,
                            rh: (y1 - y0) * so,
                            rw: (x1 - x0) * so,
                            oy: y0 * so,
                            ox: x0 * so,
                        };
                        match (sink.picture, value) {
                            (true, Output::U8(px, shape)) => {
                                check_shape(
                                    &origin,
                                    shape,
                                    &[1, region.wh as i64, region.ww as i64, 3],
                                )?;
                                write_picture(px, &region, out);
                            }
                            (false, Output::F32(v, shape)) => {
                                let want =
                                    [1, sink.channels as i64, region.wh as i64, region.ww as i64];
                                check_shape(&origin, shape, &want)?;
                                sink.take(v, &region, hq * so, wq * so);
                            }
                            _ => return Err(wrong_type(&origin)),
                        }
                        Ok(())
                    };
                    let bundle = &self.bundle;
                    let model = || ModelBytes {
                        origin: format!("{}#{seg_name}", bundle.model.origin),
                        bytes: Cow::Owned(bundle.segment_bytes(&seg_name).to_vec()),
                    };
                    let graph = Graph {
                        key: &seg_name,
                        role: "tiled transformation",
                        model: &model,
                    };
                    self.graphs.run(&graph, &feed, &outputs, &mut take)?;
                }
            }
            let header = &self.bundle.header;
            for (sink, o) in sinks.into_iter().zip(&header.plans[plan].stages[i].outputs) {
                if let (Some(s), Some(n)) = (&sink.sums, o.stats) {
                    let norm = &header.norms[n];
                    let count = (hq * sink.factor * wq * sink.factor) as f64;
                    let mean: Vec<f64> = s.chunks_exact(2).map(|p| p[0] / count).collect();
                    let var: Vec<f32> = s
                        .chunks_exact(2)
                        .zip(&mean)
                        .map(|(p, m)| (p[1] / count - m * m).max(0.0) as f32)
                        .collect();
                    known.insert(norm.mean.clone(), mean.iter().map(|&m| m as f32).collect());
                    known.insert(norm.variance.clone(), var);
                }
                if let Some(buf) = sink.keep {
                    kept.insert(o.tensor.clone(), buf);
                }
            }
            for name in frees {
                kept.remove(&name);
            }
        }
        Ok(())
    }
}

impl Sink {
    /// Adds a tile's own region of an NCHW output to the statistics and the kept tensor
    /// (`height x width` per channel).
    fn take(&mut self, v: &[f32], r: &Region, height: usize, width: usize) {
        for ch in 0..self.channels {
            let (mut s1, mut s2) = (0f64, 0f64);
            for y in 0..r.rh {
                let row = &v[(ch * r.wh + r.ry + y) * r.ww + r.rx..][..r.rw];
                if self.sums.is_some() {
                    let (a, b) = sums_f64(row);
                    s1 += a;
                    s2 += b;
                }
                if let Some(buf) = self.keep.as_mut() {
                    let at = (ch * height + r.oy + y) * width + r.ox;
                    buf[at..at + r.rw].convert_from_f32_slice(row);
                }
            }
            if let Some(s) = self.sums.as_mut() {
                s[2 * ch] += s1;
                s[2 * ch + 1] += s2;
            }
        }
    }
}

/// A zeroed buffer of `n` values, or the error a picture too large for memory gets (not the
/// abort of a failed `vec!`).
fn zeroed(n: usize) -> Result<Vec<f16>, EngineError> {
    let mut v = Vec::new();
    grow(&mut v, n, f16::ZERO)?;
    Ok(v)
}

/// Resizes `v` to `n` values, failing cleanly when the memory is not there.
fn grow<T: Clone>(v: &mut Vec<T>, n: usize, value: T) -> Result<(), EngineError> {
    if n > v.len() {
        v.try_reserve_exact(n - v.len()).map_err(|_| {
            EngineError::OutOfMemory(format!(
                "could not allocate {} MB for a tiled picture",
                (n * std::mem::size_of::<T>()).div_ceil(1_000_000)
            ))
        })?;
    }
    v.resize(n, value);
    Ok(())
}

/// The sum and the sum of squares of `row`, in f64: the variance is E[x^2] - mean^2, which
/// would cancel in f32 where a channel's mean is large against its spread. Eight lanes, so
/// that the compiler vectorises it (a strict left-to-right sum cannot be).
fn sums_f64(row: &[f32]) -> (f64, f64) {
    let mut s1 = [0f64; 8];
    let mut s2 = [0f64; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for i in 0..8 {
            let x = f64::from(c[i]);
            s1[i] += x;
            s2[i] += x * x;
        }
    }
    let (mut a, mut b) = (s1.iter().sum::<f64>(), s2.iter().sum::<f64>());
    for &x in chunks.remainder() {
        let x = f64::from(x);
        a += x;
        b += x * x;
    }
    (a, b)
}

fn wrong_type(origin: &str) -> EngineError {
    EngineError::Model(ModelError::Invalid {
        path: origin.into(),
        role: "tiled transformation",
        reason: "a segment gave pixels where activations belong, or the reverse".into(),
    })
}

fn check_shape(origin: &str, shape: &[i64], want: &[i64]) -> Result<(), EngineError> {
    if shape != want {
        return Err(EngineError::Model(ModelError::Invalid {
            path: origin.into(),
            role: "tiled transformation",
            reason: format!("a segment gave shape {shape:?}, not {want:?}"),
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_sums_are_exact_where_f32_would_cancel() {
        // A mean of 1000 and a spread of 0.01: f32 sums lose the variance entirely.
        let row: Vec<f32> = (0..1003)
            .map(|i| 1000.0 + if i % 2 == 0 { 0.01 } else { -0.01 })
            .collect();
        let (s1, s2) = sums_f64(&row);
        let n = row.len() as f64;
        let want: f64 = row.iter().map(|&x| f64::from(x)).sum();
        assert!((s1 - want).abs() < 1e-9 * want);
        let mean = s1 / n;
        let var = s2 / n - mean * mean;
        let exact = row
            .iter()
            .map(|&x| (f64::from(x) - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!((var - exact).abs() < 1e-3 * exact, "{var} vs {exact}");
    }
}
