//! Finding and loading ONNX Runtime; `info` and `--help`.

use std::path::Path;
use std::process::{Command, Output};

use crate::util::*;

fn stylize_with_env(env: &[(&str, &Path)], unset: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("stylize")
        .arg(example("content/golden_gate_sq.jpg"))
        .arg("--style")
        .arg(example("styles/bricks_sq.jpg"))
        .arg("-o")
        .arg(dir.path().join("out.png"));
    for k in unset {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn ort_dylib_path_that_is_not_a_library() {
    let bogus = tempfile::NamedTempFile::with_suffix(".so").unwrap();
    std::fs::write(bogus.path(), "not a library").unwrap();
    let out = stylize_with_env(&[("ORT_DYLIB_PATH", bogus.path())], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("is not a usable ONNX Runtime library: not an ELF file"),
        "{err}"
    );
    assert!(err.contains("ORT_DYLIB_PATH"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn no_runtime_and_downloads_forbidden() {
    let cache = tempfile::tempdir().unwrap();
    let out = stylize_with_env(
        &[
            ("BRUSHWORK_CACHE_DIR", cache.path()),
            ("BRUSHWORK_NO_DOWNLOAD", Path::new("1")),
        ],
        &["ORT_DYLIB_PATH"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("ONNX Runtime was not found"), "{err}");
    assert!(err.contains("pip install onnxruntime==1.31.1"), "{err}");
}

/// A library that reports an old version must be refused with advice, not a panic. The stand-in
/// is a few lines of C exporting ONNX Runtime's entry point; it needs a C compiler.
#[test]
fn too_old_runtime_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("old.c");
    std::fs::write(
        &src,
        "typedef struct { const void* (*get_api)(unsigned); const char* (*version)(void); } Base;\n\
         static const void* get_api(unsigned v) { (void)v; return 0; }\n\
         static const char* version(void) { return \"1.20.0\"; }\n\
         static const Base base = { get_api, version };\n\
         const Base* OrtGetApiBase(void) { return &base; }\n",
    )
    .unwrap();
    let lib = dir.path().join("libonnxruntime.so.1.20.0");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let built = Command::new(&cc)
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .status();
    if !matches!(built, Ok(s) if s.success()) {
        skip(
            "too_old_runtime_is_refused",
            &format!("no working C compiler ({cc})"),
        );
        return;
    }
    let out = stylize_with_env(&[("ORT_DYLIB_PATH", &lib)], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("is version 1.20.0; brushwork needs 1.31 or newer"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn help_documents_style_preprocessing() {
    let out = brushwork(&[&"stylize", &"--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("center-cropped to a square"), "{text}");
    assert!(text.contains("256x256"), "{text}");
}

#[test]
fn info_names_the_runtime_and_models() {
    let out = brushwork(&[&"info"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("CPU features: "), "{text}");
    if crate::devices::cpu_has_bf16() {
        assert!(
            text.contains(
                "device in use: openvino (transformation network, bf16, on OpenVINO 2026.4.1"
            ),
            "{text}"
        );
        assert!(
            text.contains("AVX-512 BF16") || text.contains("AMX-BF16"),
            "{text}"
        );
    }
    let out = brushwork(&[&"info", &"--device", &"cpu"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("ONNX Runtime 1."), "{text}");
    // the transformer in use on the CPU is the fp32 variant, with 8-bit pixels
    assert!(
        text.contains("device in use: cpu (transformation network, fp32, on ONNX Runtime 1."),
        "{text}"
    );
    assert!(
        text.contains("content_image: Tensor<u8>(1, height, width, 3)"),
        "{text}"
    );
    let readme = std::fs::read_to_string(root().join("models/README.md")).unwrap();
    for line in text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("sha256 "))
    {
        assert!(readme.contains(line), "models/README.md lacks hash {line}");
    }
}

/// ONNX Runtime 1.31 writes a telemetry database (device id, program path) under the cache
/// directory when its environment is created, whatever the API says; brushwork turns that off
/// with ORT_DISABLE_TELEMETRY before the environment exists. CI variables also switch it off,
/// so they are removed here.
#[test]
fn onnx_runtime_writes_no_telemetry_database() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .args(["stylize"])
        .arg(data("content_333x250.png"))
        .args(["--style", "towers", "-o"])
        .arg(home.path().join("out.png"))
        .env("HOME", home.path())
        .env("XDG_CACHE_HOME", home.path().join("cache"))
        .env(
            "BRUSHWORK_CACHE_DIR",
            runtime_cache_dir().unwrap_or_else(|| home.path().join("brushwork")),
        )
        .env_remove("CI")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("ORT_DISABLE_TELEMETRY")
        .env_remove("ORT_TELEMETRY_DISABLED")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut found = Vec::new();
    let mut stack = vec![home.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            if p.to_string_lossy().contains("Microsoft") {
                found.push(p);
            }
        }
    }
    assert!(found.is_empty(), "telemetry files written: {found:?}");
}

/// Where the cached library lives, so that a run with another HOME does not fetch it again:
/// `<cache>/onnxruntime-1.31.1/libonnxruntime.so.1.31.1`.
fn runtime_cache_dir() -> Option<std::path::PathBuf> {
    Some(runtime_library().parent()?.parent()?.to_path_buf())
}
