//! How much memory a GPU has free, asked of the CUDA runtime (`cudaMemGetInfo`), which ONNX
//! Runtime's CUDA provider loads anyway: the default memory budget on a GPU comes from it.

use std::ffi::{c_int, c_void, CStr};

/// The CUDA runtime's sonames, newest first.
const CUDART: [&CStr; 3] = [c"libcudart.so.13", c"libcudart.so.12", c"libcudart.so"];

/// Free and total bytes of CUDA device `id` (as numbered under `CUDA_VISIBLE_DEVICES`), or
/// `None` where no CUDA runtime loads or the device does not answer.
pub fn free_and_total(id: u32) -> Option<(u64, u64)> {
    type SetDevice = unsafe extern "C" fn(c_int) -> c_int;
    type MemGetInfo = unsafe extern "C" fn(*mut usize, *mut usize) -> c_int;
    // SAFETY: dlopen/dlsym with NUL-terminated names; the symbols are called with the
    // signatures the CUDA runtime documents, and the library stays loaded (never dlclosed),
    // as ONNX Runtime's provider shares it.
    unsafe {
        let lib = CUDART
            .iter()
            .map(|name| libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL))
            .find(|h| !h.is_null())?;
        let symbol = |name: &CStr| -> Option<*mut c_void> {
            let p = libc::dlsym(lib, name.as_ptr());
            (!p.is_null()).then_some(p)
        };
        let set_device: SetDevice = std::mem::transmute(symbol(c"cudaSetDevice")?);
        let mem_get_info: MemGetInfo = std::mem::transmute(symbol(c"cudaMemGetInfo")?);
        if set_device(c_int::try_from(id).ok()?) != 0 {
            return None;
        }
        let (mut free, mut total) = (0usize, 0usize);
        if mem_get_info(&mut free, &mut total) != 0 {
            return None;
        }
        Some((free as u64, total as u64))
    }
}

/// The default memory budget on GPU `id`: three quarters of its free memory (the rest for
/// cuDNN's workspaces and other processes), or `fallback` where it cannot be asked.
pub fn default_budget(id: u32, fallback: u64) -> u64 {
    match free_and_total(id) {
        Some((free, total)) => {
            let budget = free / 4 * 3;
            log::info!(
                "GPU {id}: {:.1} GiB free of {:.1} GiB; pictures that need more than {:.1} GiB run in tiles",
                free as f64 / f64::from(1u32 << 30),
                total as f64 / f64::from(1u32 << 30),
                budget as f64 / f64::from(1u32 << 30),
            );
            budget
        }
        None => {
            log::debug!(
                "GPU {id}: the CUDA runtime did not say how much memory is free; the memory budget is {} GiB",
                fallback >> 30
            );
            fallback
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_gpu_the_fallback_stands() {
        // On a machine with a CUDA device, its free memory is asked for and is positive.
        match free_and_total(0) {
            Some((free, total)) => assert!(free > 0 && free <= total),
            None => assert_eq!(default_budget(0, 4 << 30), 4 << 30),
        }
    }
}
