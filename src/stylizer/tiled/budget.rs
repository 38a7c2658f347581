//! How much memory a picture needs: the budgets, what an untiled run needs, and what a
//! window of a tiled run needs (the peak of a plan is the bundle's: see `bundle`).

/// The default tile side, in picture pixels (see README, "Large pictures": 256 px runs as fast
/// as 512 and needs 150 MB less; 1024 is slower and needs 600 MB more, at 3000x3000).
pub const DEFAULT_TILE_SIDE: u32 = 256;
/// The smallest tile side: smaller tiles would be mostly halo.
pub const MIN_TILE_SIDE: u32 = 64;
/// The default memory budget on the CPU: pictures whose untiled run would need more are tiled.
pub const DEFAULT_MEMORY_BUDGET: u64 = 1 << 30;
/// The default on a GPU where its free memory cannot be asked (on a GPU it is three quarters
/// of the free memory, see `engine::gpu_memory`): 3840x2160 frames still run whole.
pub const DEFAULT_GPU_MEMORY_BUDGET: u64 = 4 << 30;
/// The smallest memory budget: the process itself (about 64 MiB) and every picture up to
/// 256x256 whole, on either network, so that no budget accepted refuses a small photo.
pub const MIN_MEMORY_BUDGET: u64 = 96 << 20;

/// What the process holds besides the picture's own tensors: the runtime, the networks and
/// their sessions (a 64x64 picture peaks at 46 MB).
pub(crate) const BASE_BYTES: u64 = 64 << 20;
/// The networks that can run in tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Network {
    /// The arbitrary-style transformation network.
    Transform,
    /// The 26-preset network.
    Presets,
}

impl Network {
    /// What ONNX Runtime needs per pixel of an untiled run (padded picture, the larger of the
    /// figures measured at 1920x1080 and 3000x3000: 190 and 245 bytes a pixel for the
    /// transformation network, 300 and 400 for the presets' network, whose first layer has 32
    /// channels at full resolution).
    pub(super) fn untiled_bytes_per_pixel(self) -> u64 {
        match self {
            Network::Transform => 250,
            Network::Presets => 400,
        }
    }
}

/// What a segment's run needs per pixel of its window at its finest resolution (its
/// activations and convolution buffers; measured with 256, 512 and 1024 px tiles: 1.2 KB).
pub(super) const WINDOW_BYTES_PER_PIXEL: u64 = 1200;

/// About what an untiled run of a `width x height` picture needs: the process, the picture
/// in and out, and the network's activations.
pub(crate) fn whole_estimate(network: Network, width: u32, height: u32) -> u64 {
    let (pw, ph) = (
        crate::tensor::padded(width) as u64,
        crate::tensor::padded(height) as u64,
    );
    BASE_BYTES
        + 2 * 3 * u64::from(width) * u64::from(height)
        + network.untiled_bytes_per_pixel() * pw * ph
}

pub(crate) fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes.div_ceil(1 << 20))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_budget_runs_small_pictures_whole() {
        for network in [Network::Transform, Network::Presets] {
            assert!(whole_estimate(network, 256, 256) <= MIN_MEMORY_BUDGET);
        }
        assert!(whole_estimate(Network::Presets, 300, 300) > MIN_MEMORY_BUDGET);
    }
}
