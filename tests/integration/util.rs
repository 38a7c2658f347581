//! Helpers shared by the integration tests: running the binary, test data, image comparison,
//! skipping visibly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::RgbImage;

/// The binary under test. `BRUSHWORK_TEST_BIN` and `BRUSHWORK_TEST_ROOT` let a copy of this
/// test binary run on another machine (the GPU machine, which has no Rust toolchain).
pub fn bin() -> PathBuf {
    std::env::var_os("BRUSHWORK_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_brushwork")))
}

pub fn root() -> PathBuf {
    std::env::var_os("BRUSHWORK_TEST_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub fn data(name: &str) -> PathBuf {
    root().join("tests/data").join(name)
}

pub fn example(name: &str) -> PathBuf {
    root().join("examples").join(name)
}

pub fn brushwork(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = Command::new(bin());
    for a in args {
        cmd.arg(a);
    }
    cmd.output().expect("run brushwork")
}

/// Says, visibly, that a test did not run here because a tool is missing (libtest captures
/// `eprintln!` of passing tests; a direct write to the stderr handle is not captured). Under
/// `BRUSHWORK_STRICT_TESTS=1`, which `.ci/run` sets, a missing tool fails the test instead, so
/// a green CI proves that the live, window and video tests ran.
pub fn skip(test: &str, why: &str) {
    if std::env::var_os("BRUSHWORK_STRICT_TESTS").is_some_and(|v| v == "1") {
        panic!("{test} cannot run: {why} (BRUSHWORK_STRICT_TESTS=1 forbids skipping)");
    }
    skip_visibly(test, why);
}

/// Skips a test that needs hardware CI never has (a GPU), visibly, even in strict mode.
pub fn skip_gpu(test: &str, why: &str) {
    skip_visibly(test, why);
}

pub fn skip_visibly(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Mean absolute difference per channel, in 8-bit units.
pub fn mean_abs_diff_per_channel(a: &RgbImage, b: &RgbImage) -> [f64; 3] {
    assert_eq!(a.dimensions(), b.dimensions(), "image sizes differ");
    let mut sum = [0f64; 3];
    for (p, q) in a.pixels().zip(b.pixels()) {
        for c in 0..3 {
            sum[c] += (f64::from(p[c]) - f64::from(q[c])).abs();
        }
    }
    let n = f64::from(a.width() * a.height());
    sum.map(|s| s / n)
}

pub fn load(path: &Path) -> RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_rgb8()
}

/// Asserts a bad-input run: exit code 2, one line on stderr that mentions `needle`, no output
/// and no temporary file left in `dir`.
pub fn assert_user_error(out: &Output, needle: &str, dir: &Path) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "exit code; stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err:?}"
    );
    assert!(err.starts_with("brushwork: error: "), "{err}");
    assert!(
        err.contains(needle),
        "stderr should mention {needle:?}: {err}"
    );
    let left: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "files left behind in {}: {left:?}",
        dir.display()
    );
}

/// Runs `stylize INPUT --style STYLE -o DIR/OUTPUT EXTRA...` in a fresh directory and asserts a
/// user error that mentions `needle`, with nothing left in the directory.
pub fn stylize_fails(
    input: &Path,
    style: &dyn AsRef<std::ffi::OsStr>,
    output: &str,
    extra: &[&str],
    needle: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("stylize")
        .arg(input)
        .arg("--style")
        .arg(style)
        .arg("-o")
        .arg(dir.path().join(output))
        .args(extra);
    assert_user_error(&cmd.output().unwrap(), needle, dir.path());
}

/// Stylizes each input with `style` and returns the results, in order.
pub fn stylize_each(dir: &Path, inputs: &[&Path], style: &Path) -> Vec<RgbImage> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            stylize_to(
                dir,
                &format!("each{i}.png"),
                input,
                &["--style", style.to_str().unwrap()],
            )
        })
        .collect()
}

#[derive(serde::Deserialize)]
pub struct Golden {
    pub style: String,
    pub style_embedding: Vec<f32>,
    pub cases: Vec<GoldenCase>,
}

#[derive(serde::Deserialize)]
pub struct GoldenCase {
    pub content: String,
    /// The int8 model's output.
    pub expected: String,
    /// The float (fp32) variant's output, the reference for fp32 and fp16.
    pub expected_float: String,
    pub width: u32,
    pub height: u32,
}

pub fn golden() -> Golden {
    let text = std::fs::read_to_string(data("golden.json")).expect("golden.json");
    serde_json::from_str(&text).expect("parse golden.json")
}

/// Stylizes every golden photo with `--device device --precision precision` and holds each
/// channel's mean abs difference from the Python reference to `limit` (in 1/255).
pub fn matches_golden(device: &str, precision: &str, limit: f64) {
    let g = golden();
    let dir = tempfile::tempdir().unwrap();
    assert!(
        g.cases.iter().any(|c| c.width != c.height),
        "a non-square case"
    );
    for case in &g.cases {
        let out_path = dir.path().join(&case.expected);
        let out = brushwork(&[
            &"stylize",
            &data(&case.content),
            &"--style",
            &data(&g.style),
            &"-o",
            &out_path,
            &"--device",
            &device,
            &"--precision",
            &precision,
        ]);
        assert!(out.status.success(), "{}: {}", case.content, stderr(&out));
        let got = load(&out_path);
        assert_eq!(
            got.dimensions(),
            (case.width, case.height),
            "{}",
            case.content
        );
        let expected = match precision {
            "int8" => &case.expected,
            _ => &case.expected_float,
        };
        let diff = mean_abs_diff_per_channel(&got, &load(&data(expected)));
        for (c, d) in diff.iter().enumerate() {
            assert!(
                *d <= limit,
                "{device} {precision} {} channel {c}: mean abs diff {d} > {limit}/255",
                case.content
            );
        }
    }
}

/// A models directory with the two networks and no transformer variants.
pub fn int8_only_models() -> tempfile::TempDir {
    let models = tempfile::tempdir().unwrap();
    for f in ["style_predict.onnx", "style_transform.onnx"] {
        std::fs::copy(root().join("models").join(f), models.path().join(f)).unwrap();
    }
    models
}

pub fn stylize_to(dir: &Path, name: &str, content: &Path, extra: &[&str]) -> RgbImage {
    let out_path = dir.join(name);
    let mut cmd = Command::new(bin());
    cmd.arg("stylize")
        .arg(content)
        .arg("-o")
        .arg(&out_path)
        .args(extra);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
    load(&out_path)
}

pub fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The library path `brushwork info` reports.
pub fn runtime_library() -> PathBuf {
    let out = brushwork(&[&"info"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.starts_with("ONNX Runtime "))
        .unwrap();
    let path = line.rsplit_once(" (").unwrap().1.trim_end_matches(')');
    PathBuf::from(path)
}

/// Sends `signal` (INT, TERM, HUP) to a running brushwork with `kill` and returns how it ended.
pub fn signal_and_wait(child: std::process::Child, signal: &str) -> Output {
    let killed = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait_with_output().unwrap()
}

/// Makes a video with ffmpeg's `testsrc` of `spec` (e.g. `size=96x64:rate=10:duration=1`),
/// with `extra` output options.
pub fn make_testsrc(path: &Path, spec: &str, extra: &[&str]) {
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!("testsrc={spec}"))
        .args(extra)
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success(), "ffmpeg could not make {}", path.display());
}

/// The run failed with `code` and one `brushwork: error:` line mentioning `needle`.
pub fn assert_fails_cleanly(out: &Output, code: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "exit status; stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("brushwork: error: "), "{err}");
    assert!(
        err.contains(needle),
        "stderr should mention {needle:?}: {err}"
    );
}

/// Runs `brushwork ARGS` (split by the shell) in `dir` under `ulimit -v KB`: an address-space
/// limit that makes large allocations fail.
pub fn under_address_limit(kb: u64, dir: &Path, args: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {kb} && exec \"$0\" {args}"))
        .arg(bin())
        .current_dir(dir)
        .output()
        .unwrap()
}
