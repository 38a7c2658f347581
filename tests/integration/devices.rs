//! Devices: CPU, and the GPU providers where a GPU exists.

use crate::util::*;

#[test]
fn unknown_device_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = brushwork(&[
        &"stylize",
        &example("content/golden_gate_sq.jpg"),
        &"--style",
        &"towers",
        &"-o",
        &dir.path().join("out.png"),
        &"--device",
        &"gpu",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unknown device 'gpu'; use auto, cpu, cuda"),
        "{}",
        stderr(&out)
    );
}

/// An explicitly requested GPU provider that cannot start names what is missing and does not
/// fall back to the CPU (no output is written).
#[test]
fn unavailable_gpu_provider_is_an_error_not_a_fallback() {
    if gpu_available() {
        skip_gpu(
            "unavailable_gpu_provider_is_an_error_not_a_fallback",
            "a GPU provider works here",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for device in ["cuda", "tensorrt:1"] {
        let out = brushwork(&[
            &"stylize",
            &example("content/golden_gate_sq.jpg"),
            &"--style",
            &"towers",
            &"-o",
            &dir.path().join("out.png"),
            &"--device",
            &device,
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("built without")
                || err.contains("has no")
                || err.contains("could not start"),
            "{device}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            !dir.path().join("out.png").exists(),
            "{device} fell back to the CPU"
        );
    }
}

fn gpu_available() -> bool {
    let out = brushwork(&[&"info"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find(|l| l.starts_with("providers this ONNX Runtime offers"))
        .is_some_and(|l| l.contains("cuda"))
}

/// On a GPU: each precision's CUDA output within 2/255 of the CPU reference (int8 against
/// the int8 model's goldens, fp32 and fp16 against the float goldens). Skipped (visibly)
/// without one.
#[test]
fn cuda_matches_cpu_on_the_golden_images() {
    if !gpu_available() {
        skip_gpu("cuda_matches_cpu_on_the_golden_images", "no CUDA provider here (build with --features cuda, use ONNX Runtime's GPU library, on a machine with an NVIDIA GPU)");
        return;
    }
    for precision in ["fp16", "fp32", "int8"] {
        matches_golden("cuda", precision, 2.0);
    }
}
