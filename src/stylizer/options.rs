//! How a [`Stylizer`](super::Stylizer) is built, and the workload `auto` weighs.

use crate::engine::Device;
use crate::models::{ModelSet, Precision};

use super::tiled::DEFAULT_TILE_SIDE;
#[cfg(doc)]
use super::tiled::{DEFAULT_GPU_MEMORY_BUDGET, DEFAULT_MEMORY_BUDGET, MIN_MEMORY_BUDGET};

/// How a [`Stylizer`](super::Stylizer) is built.
#[derive(Debug, Clone)]
pub struct StylizerOptions {
    /// The networks; [`ModelSet::embedded`] by default.
    pub models: ModelSet,
    /// Threads per inference (ONNX Runtime's intra-op threads); `None` lets it choose (one per
    /// physical core).
    pub threads: Option<usize>,
    /// Where the transformation network runs (the style-prediction network always runs on the
    /// CPU: see [`Stylizer::new`](super::Stylizer::new)).
    pub device: Device,
    /// The transformer variant; `None` picks fp32 on the CPU and fp16 on a GPU (int8 when the
    /// models lack those).
    pub precision: Option<Precision>,
    /// Pictures whose untiled run would need more memory than this, in bytes, run in tiles.
    /// `None`: [`DEFAULT_MEMORY_BUDGET`] (on a GPU three quarters of its free memory, or
    /// [`DEFAULT_GPU_MEMORY_BUDGET`] where that cannot be asked), exceeded
    /// rather than refused by a picture that cannot fit it even in tiles; a budget given here
    /// is kept, and such a picture is an error. At least [`MIN_MEMORY_BUDGET`]: a smaller one
    /// is raised to it.
    pub memory_budget: Option<u64>,
    /// The side of a tile in pixels ([`DEFAULT_TILE_SIDE`]; rounded down to a multiple of 4,
    /// at least 16).
    pub tile_side: u32,
    /// What will be stylized, where the caller knows it before starting (`stylize` does; a
    /// stream does not): [`Device::Auto`] then leaves out OpenVINO when its per-size compile
    /// would cost more than its bf16 speed saves (see [`OPENVINO_MIN_PIXELS_PER_SIZE`]).
    pub workload: Option<Workload>,
}

/// The pictures a one-shot job will stylize: what [`Device::Auto`] weighs an engine's start-up
/// against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// Pixels of all the pictures together.
    pub pixels: u64,
    /// How many different sizes there are among them (OpenVINO compiles once per size).
    pub sizes: u64,
}

impl Workload {
    /// The work of stylizing pictures of these sizes: their pixels, and how many distinct
    /// padded sizes they have (sizes that pad to the same tensor share a compile).
    ///
    /// ```
    /// use brushwork::Workload;
    /// // 333x250 and 334x252 both pad to 336x252.
    /// let w = Workload::of([(333, 250), (334, 252), (640, 480)]);
    /// assert_eq!(w, Workload { pixels: 333 * 250 + 334 * 252 + 640 * 480, sizes: 2 });
    /// assert!(!w.repays_openvino());
    /// assert!(Workload::of([(1920, 1080)]).repays_openvino());
    /// ```
    pub fn of(sizes: impl IntoIterator<Item = (u32, u32)>) -> Workload {
        let mut pixels = 0u64;
        let mut padded: Vec<(u32, u32)> = Vec::new();
        for (w, h) in sizes {
            pixels += u64::from(w) * u64::from(h);
            padded.push((crate::tensor::padded(w), crate::tensor::padded(h)));
        }
        padded.sort_unstable();
        padded.dedup();
        Workload {
            pixels,
            sizes: padded.len() as u64,
        }
    }

    /// Whether OpenVINO's compiles are repaid by its speed on this much work.
    pub fn repays_openvino(&self) -> bool {
        self.pixels >= self.sizes.max(1) * OPENVINO_MIN_PIXELS_PER_SIZE
    }

    /// Whether cuDNN's exhaustive search of convolution algorithms is repaid: it cost 0.9-2.5 s
    /// on an H200's first 1080p frame and then saved ~10 % of a 5 ms frame, so it takes some
    /// 4000 frames of 1080p (8 gigapixels) per size to repay.
    ///
    /// ```
    /// use brushwork::Workload;
    /// assert!(!Workload::of([(6000, 4000)]).repays_exhaustive_search());
    /// assert!(Workload::of(vec![(1920, 1080); 5000]).repays_exhaustive_search());
    /// ```
    pub fn repays_exhaustive_search(&self) -> bool {
        self.pixels >= self.sizes.max(1) * EXHAUSTIVE_SEARCH_MIN_PIXELS_PER_SIZE
    }
}

/// See [`Workload::repays_exhaustive_search`].
const EXHAUSTIVE_SEARCH_MIN_PIXELS_PER_SIZE: u64 = 8_000_000_000;

/// Under this many pixels per picture size, `auto` runs a known workload on ONNX Runtime:
/// OpenVINO's compile (about 0.3 s a size on 2 cores, the first frame's set-up on top) costs more
/// than bf16 saves. Measured on 2 AMX cores, whole `stylize` processes of a size not compiled
/// before (medians of 7): 800x600 0.57 s on OpenVINO against 0.42 s on ONNX Runtime, 1024x768
/// 0.63 against 0.68 s; the two cross near 0.7 megapixels, and 0.8 leaves a margin.
pub const OPENVINO_MIN_PIXELS_PER_SIZE: u64 = 800_000;

impl Default for StylizerOptions {
    fn default() -> Self {
        StylizerOptions {
            models: ModelSet::embedded(),
            threads: None,
            device: Device::Auto,
            precision: None,
            memory_budget: None,
            tile_side: DEFAULT_TILE_SIDE,
            workload: None,
        }
    }
}
