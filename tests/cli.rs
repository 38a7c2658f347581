//! Integration tests: the real `brushwork` binary on real pictures, checked against golden
//! outputs from Python onnxruntime (`python-export/export.py`), plus every bad-input case.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{Rgb, RgbImage, Rgba, RgbaImage};

/// The binary under test. `BRUSHWORK_TEST_BIN` and `BRUSHWORK_TEST_ROOT` let a copy of this
/// test binary run on another machine (the GPU machine, which has no Rust toolchain).
fn bin() -> PathBuf {
    std::env::var_os("BRUSHWORK_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_brushwork")))
}

fn root() -> PathBuf {
    std::env::var_os("BRUSHWORK_TEST_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

fn data(name: &str) -> PathBuf {
    root().join("tests/data").join(name)
}

fn example(name: &str) -> PathBuf {
    root().join("examples").join(name)
}

fn brushwork(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
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
fn skip(test: &str, why: &str) {
    if std::env::var_os("BRUSHWORK_STRICT_TESTS").is_some_and(|v| v == "1") {
        panic!("{test} cannot run: {why} (BRUSHWORK_STRICT_TESTS=1 forbids skipping)");
    }
    skip_visibly(test, why);
}

/// Skips a test that needs hardware CI never has (a GPU), visibly, even in strict mode.
fn skip_gpu(test: &str, why: &str) {
    skip_visibly(test, why);
}

fn skip_visibly(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Mean absolute difference per channel, in 8-bit units.
fn mean_abs_diff_per_channel(a: &RgbImage, b: &RgbImage) -> [f64; 3] {
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

fn load(path: &Path) -> RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_rgb8()
}

/// Asserts a bad-input run: exit code 2, one line on stderr that mentions `needle`, no output
/// and no temporary file left in `dir`.
fn assert_user_error(out: &Output, needle: &str, dir: &Path) {
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
fn stylize_fails(
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
fn stylize_each(dir: &Path, inputs: &[&Path], style: &Path) -> Vec<RgbImage> {
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
struct Golden {
    style: String,
    style_embedding: Vec<f32>,
    cases: Vec<GoldenCase>,
}

#[derive(serde::Deserialize)]
struct GoldenCase {
    content: String,
    /// The int8 model's output.
    expected: String,
    /// The float (fp32) variant's output, the reference for fp32 and fp16.
    expected_float: String,
    width: u32,
    height: u32,
}

fn golden() -> Golden {
    let text = std::fs::read_to_string(data("golden.json")).expect("golden.json");
    serde_json::from_str(&text).expect("parse golden.json")
}

/// Stylizes every golden photo with `--device device --precision precision` and holds each
/// channel's mean abs difference from the Python reference to `limit` (in 1/255).
fn matches_golden(device: &str, precision: &str, limit: f64) {
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

#[test]
fn stylize_matches_python_onnxruntime_at_full_resolution() {
    matches_golden("cpu", "int8", 1.0);
}

#[test]
fn float_variants_match_their_python_reference() {
    // fp32 is the reference itself; on the CPU, ONNX Runtime computes fp16 in float32 from
    // half-precision weights (0.06/255 from fp32 in python-export).
    matches_golden("cpu", "fp32", 1.0);
    matches_golden("cpu", "fp16", 1.0);
}

/// A models directory with the two networks and no transformer variants.
fn int8_only_models() -> tempfile::TempDir {
    let models = tempfile::tempdir().unwrap();
    for f in ["style_predict.onnx", "style_transform.onnx"] {
        std::fs::copy(root().join("models").join(f), models.path().join(f)).unwrap();
    }
    models
}

#[test]
fn auto_precision_on_the_cpu_is_fp32_and_falls_back_to_int8() {
    let g = golden();
    let case = &g.cases[2];
    let dir = tempfile::tempdir().unwrap();
    let run = |models: &Path| {
        let out = brushwork(&[
            &"stylize",
            &data(&case.content),
            &"--style",
            &data(&g.style),
            &"-o",
            &dir.path().join("out.png"),
            &"--device",
            &"cpu",
            &"--models",
            &models,
            &"-v",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        (stderr(&out), load(&dir.path().join("out.png")))
    };
    let (err, got) = run(&root().join("models"));
    assert!(err.contains("transformer on cpu in fp32"), "{err}");
    assert_eq!(got, load(&data(&case.expected_float)));
    let models = int8_only_models();
    let (err, got) = run(models.path());
    assert!(err.contains("transformer on cpu in int8"), "{err}");
    assert_eq!(got, load(&data(&case.expected)));
}

#[test]
fn one_stylizer_switching_sizes_and_styles_gives_what_fresh_ones_give() {
    // The transformer binds its tensors per size and its embedding per style: changing either
    // between calls must rebind, never reuse stale ones.
    use brushwork::{Precision, Stylizer, StylizerOptions};
    let g = golden();
    let photos: Vec<RgbImage> = g.cases.iter().map(|c| load(&data(&c.content))).collect();
    for precision in [Precision::Int8, Precision::Fp32] {
        let options = StylizerOptions {
            device: brushwork::Device::Cpu,
            precision: Some(precision),
            ..Default::default()
        };
        let mut shared = Stylizer::new(options.clone()).unwrap();
        let styles = [
            shared.embed(&load(&data(&g.style))).unwrap(),
            shared
                .embed(&load(&example("styles/bricks_sq.jpg")))
                .unwrap(),
        ];
        let order = [(0, 0), (1, 1), (0, 1), (2, 0), (0, 0), (1, 0)];
        for (photo, style) in order {
            let got = shared.stylize(&photos[photo], &styles[style]).unwrap();
            let mut fresh = Stylizer::new(options.clone()).unwrap();
            let want = fresh.stylize(&photos[photo], &styles[style]).unwrap();
            assert!(
                got == want,
                "{precision}: photo {photo} with style {style} differs after other calls"
            );
        }
    }
}

#[test]
fn precision_that_the_models_directory_lacks() {
    let (dir, models) = (tempfile::tempdir().unwrap(), int8_only_models());
    let models = models.path();
    let run = |precision: &str| {
        brushwork(&[
            &"stylize",
            &example("content/golden_gate_sq.jpg"),
            &"--style",
            &example("styles/bricks_sq.jpg"),
            &"-o",
            &dir.path().join("out.png"),
            &"--models",
            &models,
            &"--precision",
            &precision,
        ])
    };
    assert_user_error(
        &run("fp16"),
        "have no fp16 transformation network (style_transform_fp16.onnx)",
        dir.path(),
    );
    let out = run("fp8");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown precision 'fp8'"));
    assert!(!dir.path().join("out.png").exists());
    // auto needs no variant: on the CPU it is the int8 model
    assert!(run("auto").status.success());
}

#[test]
fn library_embedding_matches_python() {
    let g = golden();
    let mut stylizer = brushwork::Stylizer::new(Default::default()).unwrap();
    let style = stylizer.embed(&load(&data(&g.style))).unwrap();
    let worst = style
        .as_slice()
        .iter()
        .zip(&g.style_embedding)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert_eq!(g.style_embedding.len(), 100);
    assert!(worst <= 1e-4, "embedding differs by {worst}");
}

#[test]
fn a_different_style_gives_a_different_picture() {
    let dir = tempfile::tempdir().unwrap();
    let content = data("content_384x384.png");
    let mut outs = Vec::new();
    for style in ["styles/towers_1916_sq.jpg", "styles/zigzag_colorful.jpg"] {
        let p = dir.path().join(format!("{}.png", outs.len()));
        let out = brushwork(&[&"stylize", &content, &"--style", &example(style), &"-o", &p]);
        assert!(out.status.success(), "{}", stderr(&out));
        outs.push(load(&p));
    }
    let d = mean_abs_diff_per_channel(&outs[0], &outs[1]);
    assert!(
        d.iter().sum::<f64>() / 3.0 > 10.0,
        "styles barely differ: {d:?}"
    );
}

#[test]
fn several_photos_go_to_a_directory_in_the_requested_format() {
    let dir = tempfile::tempdir().unwrap();
    let outdir = dir.path().join("out");
    let out = brushwork(&[
        &"stylize",
        &example("content/golden_gate_sq.jpg"),
        &example("content/picabo_lava.jpg"),
        &"--style",
        &example("styles/clouds-over-bor-1940_sq.jpg"),
        &"-o",
        &outdir,
        &"--format",
        &"jpg",
        &"--max-size",
        &"300",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        load(&outdir.join("golden_gate_sq.jpg")).dimensions(),
        (256, 256)
    );
    // picabo_lava.jpg is 792x594: --max-size 300 scales the longer side to 300
    assert_eq!(
        load(&outdir.join("picabo_lava.jpg")).dimensions(),
        (300, 225)
    );
}

#[test]
fn output_format_follows_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["png", "jpg", "jpeg", "webp", "bmp", "tiff"] {
        let p = dir.path().join(format!("out.{ext}"));
        let out = brushwork(&[
            &"stylize",
            &example("content/colva_beach_sq.jpg"),
            &"--style",
            &example("styles/bricks_sq.jpg"),
            &"-o",
            &p,
        ]);
        assert!(out.status.success(), "{ext}: {}", stderr(&out));
        let format = image::ImageReader::open(&p)
            .unwrap()
            .with_guessed_format()
            .unwrap()
            .format();
        let expected = image::ImageFormat::from_extension(ext).unwrap();
        assert_eq!(format, Some(expected), "{ext}");
        assert_eq!(load(&p).dimensions(), (256, 256));
    }
}

/// A JPEG with an EXIF orientation tag: brushwork must stylize the upright picture.
#[test]
fn exif_orientation_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let src = RgbImage::from_fn(64, 40, |x, y| Rgb([(x * 4) as u8, (y * 6) as u8, 90]));
    let mut jpeg = Vec::new();
    src.write_to(
        &mut std::io::Cursor::new(&mut jpeg),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    // APP1 "Exif": little-endian TIFF, one IFD entry 0x0112 (Orientation) SHORT = 6 (rotate 90 CW).
    let mut app1 = vec![0xFF, 0xE1, 0x00, 0x00];
    app1.extend_from_slice(
        b"Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0",
    );
    let len = (app1.len() - 2) as u16;
    app1[2..4].copy_from_slice(&len.to_be_bytes());
    jpeg.splice(2..2, app1);
    let input = dir.path().join("rotated.jpg");
    std::fs::write(&input, &jpeg).unwrap();
    let output = dir.path().join("out.png");
    let out = brushwork(&[
        &"stylize",
        &input,
        &"--style",
        &example("styles/bricks_sq.jpg"),
        &"-o",
        &output,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        load(&output).dimensions(),
        (40, 64),
        "width and height swapped"
    );
}

/// Transparent pixels are flattened onto white: a fully transparent picture stylizes exactly
/// like a white one.
#[test]
fn alpha_is_flattened_onto_white() {
    let dir = tempfile::tempdir().unwrap();
    let clear = dir.path().join("clear.png");
    let white = dir.path().join("white.png");
    RgbaImage::from_pixel(48, 32, Rgba([200, 10, 10, 0]))
        .save(&clear)
        .unwrap();
    RgbImage::from_pixel(48, 32, Rgb([255, 255, 255]))
        .save(&white)
        .unwrap();
    let results = stylize_each(
        dir.path(),
        &[&clear, &white],
        &example("styles/red_texture_sq.jpg"),
    );
    assert_eq!(results[0], results[1]);
}

/// 16-bit grayscale input works and stylizes like its 8-bit RGB equivalent.
#[test]
fn sixteen_bit_grayscale_input() {
    let dir = tempfile::tempdir().unwrap();
    let gray16 = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(40, 30, |x, y| {
        image::Luma([((x * 1500 + y * 700) % 65536) as u16])
    });
    let p16 = dir.path().join("g16.png");
    gray16.save(&p16).unwrap();
    let p8 = dir.path().join("rgb8.png");
    image::DynamicImage::ImageLuma16(gray16)
        .into_rgb8()
        .save(&p8)
        .unwrap();
    let results = stylize_each(
        dir.path(),
        &[&p16, &p8],
        &example("styles/towers_1916_sq.jpg"),
    );
    assert_eq!(results[0], results[1]);
}

#[test]
fn missing_content_file() {
    let dir = tempfile::tempdir().unwrap();
    stylize_fails(
        &dir.path().join("nope.jpg"),
        &example("styles/bricks_sq.jpg"),
        "out.png",
        &[],
        "nope.jpg: no such file",
    );
}

#[test]
fn missing_style_file() {
    let dir = tempfile::tempdir().unwrap();
    stylize_fails(
        &example("content/golden_gate_sq.jpg"),
        &dir.path().join("nostyle.jpg"),
        "out.png",
        &[],
        "nostyle.jpg: no such file",
    );
}

#[test]
fn not_an_image() {
    let input = tempfile::NamedTempFile::with_suffix(".jpg").unwrap();
    std::fs::write(input.path(), "this is not a picture\n").unwrap();
    stylize_fails(
        input.path(),
        &example("styles/bricks_sq.jpg"),
        "out.png",
        &[],
        "not an image brushwork can decode",
    );
}

#[test]
fn truncated_image() {
    let whole = std::fs::read(data("content_333x250.png")).unwrap();
    let input = tempfile::NamedTempFile::with_suffix(".png").unwrap();
    std::fs::write(input.path(), &whole[..whole.len() / 2]).unwrap();
    stylize_fails(
        input.path(),
        &example("styles/bricks_sq.jpg"),
        "out.png",
        &[],
        "not an image brushwork can decode",
    );
}

#[test]
fn image_too_small() {
    let input = tempfile::NamedTempFile::with_suffix(".png").unwrap();
    RgbImage::from_pixel(15, 200, Rgb([1, 2, 3]))
        .save(input.path())
        .unwrap();
    stylize_fails(
        input.path(),
        &example("styles/bricks_sq.jpg"),
        "out.png",
        &[],
        "image is 15x200; both sides must be at least 16 px",
    );
}

#[test]
fn unknown_output_extension() {
    stylize_fails(
        &example("content/golden_gate_sq.jpg"),
        &example("styles/bricks_sq.jpg"),
        "out.xyz",
        &[],
        "out.xyz: unknown output format",
    );
}

#[test]
fn unwritable_output_path() {
    let dir = tempfile::tempdir().unwrap();
    // The parent of the output is a regular file: nothing can be created there, even as root.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "x").unwrap();
    let out = brushwork(&[
        &"stylize",
        &example("content/golden_gate_sq.jpg"),
        &"--style",
        &example("styles/bricks_sq.jpg"),
        &"-o",
        &blocker.join("out.png"),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("out.png: cannot write"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("blocker")]);
    assert_eq!(std::fs::read(&blocker).unwrap(), b"x");
}

#[test]
fn never_overwrites_an_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("photo.png");
    std::fs::copy(data("content_333x250.png"), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    let out = brushwork(&[
        &"stylize",
        &input,
        &"--style",
        &example("styles/bricks_sq.jpg"),
        &"-o",
        &input,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("refusing to overwrite an input file"));
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

#[test]
fn a_failed_write_keeps_the_previous_output() {
    // A later failure must not destroy a good earlier result: the old file stays until the new
    // one is complete. Here the "new" one fails before writing (input is not an image).
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.png");
    std::fs::write(&output, b"previous result").unwrap();
    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, b"garbage").unwrap();
    let out = brushwork(&[
        &"stylize",
        &bad,
        &"--style",
        &example("styles/bricks_sq.jpg"),
        &"-o",
        &output,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read(&output).unwrap(), b"previous result");
}

#[test]
fn one_bad_photo_in_a_batch_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let outdir = dir.path().join("out");
    let out = brushwork(&[
        &"stylize",
        &example("content/golden_gate_sq.jpg"),
        &dir.path().join("missing.jpg"),
        &"--style",
        &example("styles/bricks_sq.jpg"),
        &"-o",
        &outdir,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.jpg: no such file"));
    assert!(stderr(&out).contains("1 of 2 photos failed"));
    assert!(outdir.join("golden_gate_sq.png").is_file());
    assert!(!outdir.join("missing.png").exists());
}

#[test]
fn models_dir_that_lacks_the_models() {
    let dir = tempfile::tempdir().unwrap();
    let out = brushwork(&[
        &"stylize",
        &example("content/golden_gate_sq.jpg"),
        &"--style",
        &example("styles/bricks_sq.jpg"),
        &"-o",
        &dir.path().join("out.png"),
        &"--models",
        &dir.path(),
    ]);
    assert_user_error(&out, "cannot read model", dir.path());
}

#[test]
fn models_dir_with_the_exported_models_works() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("out.png");
    let g = golden();
    let case = &g.cases[0];
    let out = brushwork(&[
        &"stylize",
        &data(&case.content),
        &"--style",
        &data(&g.style),
        &"-o",
        &p,
        &"--models",
        &root().join("models"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(load(&p), load(&data(&case.expected_float)));
}

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
    assert!(err.contains("is not a usable ONNX Runtime library: not an ELF file"), "{err}");
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
    assert!(text.contains("ONNX Runtime 1."), "{text}");
    // the transformer in use on the CPU is the fp32 variant, with 8-bit pixels
    assert!(
        text.contains("device in use: cpu (transformation network, fp32)"),
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

// ---------------------------------------------------------------------------------------------
// Style space: embedding files, built-in styles, blends, strength, interpolation.

fn stylize_to(dir: &Path, name: &str, content: &Path, extra: &[&str]) -> RgbImage {
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

fn read_embedding(path: &Path) -> Vec<f32> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_f64().unwrap() as f32)
        .collect()
}

#[test]
fn embedding_file_round_trip_gives_the_same_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let g = golden();
    let file = dir.path().join("towers.style.json");
    let out = brushwork(&[&"embed", &data(&g.style), &"-o", &file]);
    assert!(out.status.success(), "{}", stderr(&out));
    let saved = read_embedding(&file);
    let worst = saved
        .iter()
        .zip(&g.style_embedding)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        worst <= 1e-4,
        "saved embedding differs from Python's by {worst}"
    );
    let content = data("content_333x250.png");
    let from_image = stylize_to(
        dir.path(),
        "a.png",
        &content,
        &["--style", data(&g.style).to_str().unwrap()],
    );
    let from_file = stylize_to(
        dir.path(),
        "b.png",
        &content,
        &["--style", file.to_str().unwrap()],
    );
    assert_eq!(from_image, from_file);
}

#[test]
fn embed_writes_one_file_per_painting_into_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let outdir = dir.path().join("styles");
    let out = brushwork(&[
        &"embed",
        &example("styles/bricks_sq.jpg"),
        &example("styles/black_zigzag.jpg"),
        &"-o",
        &outdir,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    for stem in ["bricks_sq", "black_zigzag"] {
        let f = outdir.join(format!("{stem}.style.json"));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        assert_eq!(v["format"], "brushwork.style");
        assert_eq!(v["version"], 1);
        assert_eq!(v["name"], stem);
        assert_eq!(v["source"], format!("{stem}.jpg"));
        assert_eq!(v["embedding"].as_array().unwrap().len(), 100);
    }
}

#[test]
fn builtin_styles_are_what_embed_makes_from_their_paintings() {
    let dir = tempfile::tempdir().unwrap();
    let listing = brushwork(&[&"styles"]);
    assert!(listing.status.success());
    let text = String::from_utf8_lossy(&listing.stdout).into_owned();
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.len() >= 6, "{text}");
    for name in names {
        let builtin = root().join("styles").join(format!("{name}.style.json"));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&builtin).unwrap()).unwrap();
        let painting = example(&format!("styles/{}", v["source"].as_str().unwrap()));
        let fresh = dir.path().join(format!("{name}.style.json"));
        let out = brushwork(&[&"embed", &painting, &"--name", &name, &"-o", &fresh]);
        assert!(out.status.success(), "{}", stderr(&out));
        let (a, b) = (read_embedding(&builtin), read_embedding(&fresh));
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(
            worst <= 1e-5,
            "built-in {name} differs from a fresh embedding by {worst}"
        );
        // and the name works as a style, giving the same pixels as the painting
        let content = data("content_333x250.png");
        let by_name = stylize_to(dir.path(), "n.png", &content, &["--style", name]);
        let by_painting = stylize_to(
            dir.path(),
            "p.png",
            &content,
            &["--style", painting.to_str().unwrap()],
        );
        assert_eq!(by_name, by_painting, "{name}: built-in and painting differ");
    }
}

fn style_file_error(edit: impl FnOnce(&mut serde_json::Value), needle: &str) {
    let mut v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("styles/bricks.style.json")).unwrap(),
    )
    .unwrap();
    edit(&mut v);
    let file = tempfile::Builder::new()
        .suffix(".style.json")
        .tempfile()
        .unwrap();
    std::fs::write(file.path(), v.to_string()).unwrap();
    stylize_fails(
        &example("content/golden_gate_sq.jpg"),
        &file.path(),
        "out.png",
        &[],
        needle,
    );
}

#[test]
fn style_file_with_the_wrong_length() {
    style_file_error(
        |v| drop(v["embedding"].as_array_mut().unwrap().pop()),
        "has 99 numbers",
    );
}

#[test]
fn style_file_with_a_non_finite_number() {
    style_file_error(
        |v| v["embedding"][7] = serde_json::json!(1e300),
        "number 7 is not finite",
    );
}

#[test]
fn style_file_from_a_newer_brushwork() {
    style_file_error(|v| v["version"] = 2.into(), "format version 2 is newer");
}

#[test]
fn style_file_from_another_model() {
    style_file_error(
        |v| v["model_sha256"] = "0".repeat(64).into(),
        "made by another style model",
    );
}

#[test]
fn style_file_that_is_not_json() {
    let file = tempfile::Builder::new()
        .suffix(".style.json")
        .tempfile()
        .unwrap();
    std::fs::write(file.path(), "{\"embedding\": [NaN]}").unwrap();
    stylize_fails(
        &example("content/golden_gate_sq.jpg"),
        &file.path(),
        "out.png",
        &[],
        "not a brushwork style file",
    );
}

fn blend_error(styles: &[&str], weights: &str, needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("stylize")
        .arg(example("content/golden_gate_sq.jpg"))
        .arg("-o")
        .arg(dir.path().join("out.png"));
    for s in styles {
        cmd.args(["--style", s]);
    }
    cmd.arg(format!("--weights={weights}"));
    let out = cmd.output().unwrap();
    assert_user_error(&out, needle, dir.path());
}

#[test]
fn bad_blend_weights() {
    blend_error(&["towers", "bricks"], "1,-1", "weight -1 is negative");
    blend_error(&["towers", "bricks"], "0,0", "all weights are zero");
    blend_error(&["towers", "bricks"], "NaN,1", "not a finite number");
    blend_error(&["towers", "bricks"], "1", "2 styles but 1 weights");
    blend_error(&["towers"], "1,1", "1 styles but 2 weights");
}

#[test]
fn unknown_style_name() {
    stylize_fails(
        &example("content/golden_gate_sq.jpg"),
        &"van-gogh-please",
        "out.png",
        &[],
        "unknown style 'van-gogh-please'",
    );
}

#[test]
fn strength_outside_zero_to_one() {
    stylize_fails(
        &example("content/golden_gate_sq.jpg"),
        &"towers",
        "out.png",
        &["--strength", "1.5"],
        "--strength 1.5 is outside 0..1",
    );
}

#[test]
fn blends_weigh_their_styles() {
    let dir = tempfile::tempdir().unwrap();
    let content = data("content_333x250.png");
    let a = stylize_to(dir.path(), "a.png", &content, &["--style", "towers"]);
    let b = stylize_to(
        dir.path(),
        "b.png",
        &content,
        &["--style", "zigzag-colorful"],
    );
    // A one-style blend is that style exactly, whatever its weight.
    let a_weighted = stylize_to(
        dir.path(),
        "aw.png",
        &content,
        &["--style", "towers", "--weights", "5"],
    );
    assert_eq!(a_weighted, a);
    // A weight of zero removes a style exactly.
    let only_b = stylize_to(
        dir.path(),
        "ob.png",
        &content,
        &[
            "--style",
            "towers",
            "--style",
            "zigzag-colorful",
            "--weights",
            "0,3",
        ],
    );
    assert_eq!(only_b, b);
    // 90/10 is nearer to A than 10/90 is.
    let mostly_a = stylize_to(
        dir.path(),
        "ma.png",
        &content,
        &[
            "--style",
            "towers",
            "--style",
            "zigzag-colorful",
            "--weights",
            "0.9,0.1",
        ],
    );
    let mostly_b = stylize_to(
        dir.path(),
        "mb.png",
        &content,
        &[
            "--style",
            "towers",
            "--style",
            "zigzag-colorful",
            "--weights",
            "0.1,0.9",
        ],
    );
    let mean = |d: [f64; 3]| d.iter().sum::<f64>() / 3.0;
    assert!(
        mean(mean_abs_diff_per_channel(&mostly_a, &a))
            < mean(mean_abs_diff_per_channel(&mostly_b, &a))
    );
    assert!(
        mean(mean_abs_diff_per_channel(&mostly_b, &b))
            < mean(mean_abs_diff_per_channel(&mostly_a, &b))
    );
}

#[test]
fn strength_zero_stays_closer_to_the_photo_than_strength_one() {
    let dir = tempfile::tempdir().unwrap();
    let mean = |d: [f64; 3]| d.iter().sum::<f64>() / 3.0;
    for photo in [
        "content/golden_gate_sq.jpg",
        "content/colva_beach_sq.jpg",
        "content/picabo_lava.jpg",
    ] {
        let content = example(photo);
        let original = load(&content);
        let full = stylize_to(
            dir.path(),
            "s1.png",
            &content,
            &["--style", "towers", "--strength", "1"],
        );
        let none = stylize_to(
            dir.path(),
            "s0.png",
            &content,
            &["--style", "towers", "--strength", "0"],
        );
        let (d1, d0) = (
            mean(mean_abs_diff_per_channel(&full, &original)),
            mean(mean_abs_diff_per_channel(&none, &original)),
        );
        assert!(
            d0 + 5.0 < d1,
            "{photo}: strength 0 differs from the photo by {d0}, strength 1 by {d1}"
        );
    }
}

#[test]
fn preserve_color_keeps_the_photos_colours() {
    let dir = tempfile::tempdir().unwrap();
    let content = example("content/golden_gate_sq.jpg");
    let original = load(&content);
    let plain = stylize_to(
        dir.path(),
        "p.png",
        &content,
        &["--style", "zigzag-colorful"],
    );
    let kept = stylize_to(
        dir.path(),
        "k.png",
        &content,
        &["--style", "zigzag-colorful", "--preserve-color"],
    );
    // Chroma (Cb, Cr) distance to the photo.
    let chroma = |img: &RgbImage| -> Vec<(f64, f64)> {
        img.pixels()
            .map(|p| {
                let [r, g, b] = p.0.map(f64::from);
                (
                    -0.1687 * r - 0.3313 * g + 0.5 * b,
                    0.5 * r - 0.4187 * g - 0.0813 * b,
                )
            })
            .collect()
    };
    let dist = |a: &RgbImage| -> f64 {
        chroma(a)
            .iter()
            .zip(chroma(&original))
            .map(|((a1, a2), (b1, b2))| (a1 - b1).abs() + (a2 - b2).abs())
            .sum::<f64>()
            / f64::from(a.width() * a.height())
    };
    assert!(
        dist(&kept) * 3.0 < dist(&plain),
        "kept {} vs plain {}",
        dist(&kept),
        dist(&plain)
    );
}

#[test]
fn interpolation_end_frames_equal_stylize_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let content = data("content_333x250.png");
    let frames = dir.path().join("frames");
    let strip = dir.path().join("strip.png");
    let out = brushwork(&[
        &"interpolate",
        &content,
        &"--from",
        &example("styles/towers_1916_sq.jpg"),
        &"--to",
        &"zigzag-colorful",
        &"--steps",
        &"4",
        &"-o",
        &strip,
        &"--frames",
        &frames,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a = stylize_to(
        dir.path(),
        "a.png",
        &content,
        &[
            "--style",
            example("styles/towers_1916_sq.jpg").to_str().unwrap(),
        ],
    );
    let b = stylize_to(
        dir.path(),
        "b.png",
        &content,
        &["--style", "zigzag-colorful"],
    );
    assert_eq!(load(&frames.join("frame-000.png")), a);
    assert_eq!(load(&frames.join("frame-003.png")), b);
    let middle = load(&frames.join("frame-001.png"));
    assert_ne!(middle, a);
    assert_ne!(middle, b);
    // The strip holds the four frames side by side, under their labels.
    let s = load(&strip);
    assert!(
        s.width() > 4 * 333 && s.height() > 250,
        "{:?}",
        s.dimensions()
    );
}

#[test]
fn strength_sweep_gif_has_every_frame() {
    use image::AnimationDecoder;
    let dir = tempfile::tempdir().unwrap();
    let gif = dir.path().join("sweep.gif");
    let out = brushwork(&[
        &"interpolate",
        &example("content/golden_gate_sq.jpg"),
        &"--from",
        &"bricks",
        &"--strength-sweep",
        &"--steps",
        &"6",
        &"-o",
        &gif,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(
        std::fs::File::open(&gif).unwrap(),
    ))
    .unwrap();
    let frames = decoder.into_frames().collect_frames().unwrap();
    assert_eq!(frames.len(), 6);
    assert_eq!(frames[0].buffer().dimensions(), (256, 256));
}

#[test]
fn interpolate_needs_png_or_gif() {
    let dir = tempfile::tempdir().unwrap();
    let out = brushwork(&[
        &"interpolate",
        &example("content/golden_gate_sq.jpg"),
        &"--from",
        &"bricks",
        &"--to",
        &"towers",
        &"-o",
        &dir.path().join("morph.mp4"),
    ]);
    assert_user_error(
        &out,
        "use a .png name for a contact strip or .gif",
        dir.path(),
    );
}

// ---------------------------------------------------------------------------------------------
// Presets: the 26-style network.

#[derive(serde::Deserialize)]
struct GoldenPresets {
    presets: Vec<GoldenPreset>,
}

#[derive(serde::Deserialize)]
struct GoldenPreset {
    content: String,
    preset: String,
    expected: String,
}

#[test]
fn presets_match_python_onnxruntime() {
    let text = std::fs::read_to_string(data("golden.json")).unwrap();
    let g: GoldenPresets = serde_json::from_str(&text).unwrap();
    assert!(g.presets.len() >= 2);
    let dir = tempfile::tempdir().unwrap();
    for case in &g.presets {
        let got = stylize_to(
            dir.path(),
            "p.png",
            &data(&case.content),
            &["--preset", &case.preset],
        );
        let diff = mean_abs_diff_per_channel(&got, &load(&data(&case.expected)));
        assert!(
            diff.iter().all(|d| *d <= 1.0),
            "preset {}: {diff:?}",
            case.preset
        );
    }
}

#[test]
fn presets_sheet_shows_all_26() {
    let dir = tempfile::tempdir().unwrap();
    let sheet = dir.path().join("sheet.png");
    let out = brushwork(&[
        &"presets",
        &example("content/golden_gate_sq.jpg"),
        &"-o",
        &sheet,
        &"--tile",
        &"64",
        &"--columns",
        &"9",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = load(&sheet);
    // 27 tiles (the original and 26 presets) in rows of 9: 3 rows of 64 px tiles plus labels.
    assert!(
        s.width() >= 9 * 64 && s.width() < 10 * 64 + 60,
        "{:?}",
        s.dimensions()
    );
    assert!(
        s.height() >= 3 * 64 && s.height() < 4 * 64 + 3 * 60,
        "{:?}",
        s.dimensions()
    );
}

#[test]
fn bad_preset_specs() {
    let dir = tempfile::tempdir().unwrap();
    let run = |spec: &str, extra: &[&str]| {
        let mut cmd = Command::new(bin());
        cmd.arg("stylize")
            .arg(example("content/golden_gate_sq.jpg"))
            .arg("-o")
            .arg(dir.path().join("out.png"))
            .arg(format!("--preset={spec}"))
            .args(extra);
        cmd.output().unwrap()
    };
    assert_user_error(&run("26", &[]), "preset 26 does not exist", dir.path());
    assert_user_error(&run("seven", &[]), "use N or N:WEIGHT", dir.path());
    assert_user_error(&run("1:0,2:0", &[]), "all weights are zero", dir.path());
    assert_user_error(
        &run("3", &["--weights", "1"]),
        "--weights go with --style",
        dir.path(),
    );
}

#[test]
fn models_dir_without_the_multistyle_network_has_no_presets() {
    let (dir, models) = (tempfile::tempdir().unwrap(), int8_only_models());
    let models = models.path();
    let outdir = dir.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let out = brushwork(&[
        &"stylize",
        &example("content/golden_gate_sq.jpg"),
        &"--preset",
        &"3",
        &"--models",
        &models,
        &"-o",
        &outdir.join("out.png"),
    ]);
    assert_user_error(&out, "presets are unavailable", &outdir);
}

// ---------------------------------------------------------------------------------------------
// Live: the pipeline on synthetic and file sources, headless and in a real window.

fn live_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new(bin())
        .arg("live")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn live_headless_pattern_every_frame_processed_or_dropped() {
    let s = live_json(&[
        "--style",
        "towers",
        "--style",
        "bricks",
        "--source",
        "pattern",
        "--size",
        "160x120",
        "--headless",
        "--frames",
        "300",
        "--threads",
        "2",
    ]);
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k} in {s}"));
    let f = |k: &str| s[k].as_f64().unwrap_or_else(|| panic!("{k} in {s}"));
    assert_eq!(n("captured"), 300);
    assert_eq!(
        n("captured"),
        n("stylized") + n("dropped_before_inference"),
        "{s}"
    );
    assert_eq!(
        n("stylized"),
        n("shown") + n("dropped_before_display"),
        "{s}"
    );
    assert!(n("shown") >= 30, "{s}");
    // No backlog: a queue would make latency grow with every frame. With latest-frame-wins it
    // stays within a few inference times, whatever the machine's speed.
    assert!(
        f("latency_ms_max") <= 4.0 * f("infer_ms_max") + 250.0,
        "latency grew beyond the inference time: {s}"
    );
    // No growth in memory once running.
    assert!(f("rss_mb_end") <= f("rss_mb_after_30") + 20.0, "{s}");
}

#[test]
fn live_every_frame_from_images_equals_stylize() {
    let dir = tempfile::tempdir().unwrap();
    let frames = dir.path().join("in");
    std::fs::create_dir(&frames).unwrap();
    for (i, name) in ["golden_gate_sq.jpg", "colva_beach_sq.jpg"]
        .iter()
        .enumerate()
    {
        let img = load(&example(&format!("content/{name}")));
        img.save(frames.join(format!("{i:03}.png"))).unwrap();
    }
    let record = dir.path().join("out");
    let s = live_json(&[
        "--style",
        "bricks",
        "--source",
        frames.to_str().unwrap(),
        "--headless",
        "--every-frame",
        "--record",
        record.to_str().unwrap(),
    ]);
    assert_eq!(s["shown"], 2, "{s}");
    assert_eq!(s["dropped_before_inference"], 0);
    for i in 0..2 {
        let expected = stylize_to(
            dir.path(),
            "e.png",
            &frames.join(format!("{i:03}.png")),
            &["--style", "bricks"],
        );
        assert_eq!(
            load(&record.join(format!("frame-{i:06}.png"))),
            expected,
            "frame {i}"
        );
    }
}

#[test]
fn live_stabilize_lowers_flicker() {
    let run = |alpha: &str| {
        live_json(&[
            "--style",
            "towers",
            "--source",
            "pattern:still",
            "--size",
            "128x96",
            "--headless",
            "--every-frame",
            "--unpaced",
            "--frames",
            "12",
            "--stabilize",
            alpha,
        ])["flicker"]
            .as_f64()
            .unwrap()
    };
    let (plain, stable) = (run("0"), run("0.7"));
    assert!(
        stable < plain * 0.7,
        "flicker {plain} -> {stable} with --stabilize 0.7"
    );
}

#[test]
fn live_bad_source_and_missing_camera() {
    let out = brushwork(&[
        &"live",
        &"--style",
        &"towers",
        &"--source",
        &"nonsense",
        &"--headless",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("source 'nonsense': use camera"),
        "{}",
        stderr(&out)
    );
    // No camera on this machine (or no camera support in this build): a clear message, no hang.
    let out = brushwork(&[
        &"live",
        &"--style",
        &"towers",
        &"--source",
        &"camera:7",
        &"--headless",
        &"--frames",
        &"1",
    ]);
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0));
    assert!(err.contains("camera"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn live_video_file_source() {
    if !have("ffmpeg") {
        skip("live_video_file_source", "ffmpeg is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("clip.mp4");
    let made = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=96x64:rate=10:duration=1",
        ])
        .args(["-pix_fmt", "yuv420p"])
        .arg(&video)
        .status()
        .unwrap();
    assert!(made.success());
    let s = live_json(&[
        "--style",
        "bricks",
        "--source",
        video.to_str().unwrap(),
        "--headless",
        "--every-frame",
    ]);
    assert_eq!(s["shown"], 10, "{s}");
    assert_eq!(s["width"], 96);
}

/// A real window under Xvfb: the screenshot must show the stylized frame and the status line.
#[test]
fn live_window_under_xvfb() {
    if !have("xvfb-run") || !have("import") {
        skip(
            "live_window_under_xvfb",
            "needs xvfb-run (Debian xvfb) and import (imagemagick)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // One photo, looped: the window must show exactly what `stylize` makes of it.
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    let photo = frames.join("photo.png");
    image::imageops::resize(
        &load(&example("content/picabo_lava.jpg")),
        320,
        240,
        image::imageops::FilterType::Triangle,
    )
    .save(&photo)
    .unwrap();
    let expected = stylize_to(dir.path(), "expected.png", &photo, &["--style", "towers"]);
    let shot = dir.path().join("screen.png");
    let script = format!(
        "'{}' live --style towers --source '{}' --loop --frames 240 --threads 2 & \
         sleep 4; import -window root -crop 320x240+240+180 '{}'; wait",
        bin().display(),
        frames.display(),
        shot.display()
    );
    let out = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 800x600x24", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let img = load(&shot);
    assert_eq!(img.dimensions(), (320, 240));
    // The status line: white text on a darkened band at the top.
    let white = (0..10)
        .flat_map(|y| (0..320).map(move |x| (x, y)))
        .filter(|&(x, y)| img.get_pixel(x, y).0.iter().all(|v| *v > 230))
        .count();
    assert!(
        white > 100,
        "no status line in the window ({white} white pixels)"
    );
    // Below the status line, the stylized frame.
    let below = |i: &RgbImage| image::imageops::crop_imm(i, 0, 16, 320, 224).to_image();
    let d = mean_abs_diff_per_channel(&below(&img), &below(&expected));
    assert!(
        d.iter().all(|v| *v < 1.0),
        "the window does not show the stylized frame: {d:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Video files.

fn make_clip(dir: &Path, seconds: u32) -> PathBuf {
    let clip = dir.join("clip.mp4");
    let ok = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size=160x120:rate=15:duration={seconds}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:duration={seconds}"))
        .args([
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(ok.success());
    clip
}

fn streams(path: &Path) -> String {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,width,height,nb_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn video_keeps_every_frame_and_the_sound() {
    if !have("ffmpeg") {
        skip(
            "video_keeps_every_frame_and_the_sound",
            "ffmpeg is not installed",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), 2);
    let out_path = dir.path().join("painted.mp4");
    let out = brushwork(&[&"video", &clip, &"-o", &out_path, &"--style", &"towers"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = streams(&out_path);
    assert!(s.contains("video,160,120,30"), "{s}");
    assert!(
        s.lines().any(|l| l.starts_with("audio")),
        "no audio track: {s}"
    );
}

#[test]
fn video_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let not_video = dir.path().join("notes.mp4");
    std::fs::write(&not_video, "not a video").unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = brushwork(&[
        &"video",
        &not_video,
        &"-o",
        &out_dir.join("x.mp4"),
        &"--style",
        &"towers",
    ]);
    if have("ffprobe") {
        assert_user_error(&out, "cannot read video", &out_dir);
    } else {
        assert!(
            stderr(&out).contains("needs the ffmpeg command"),
            "{}",
            stderr(&out)
        );
    }
    let out = brushwork(&[
        &"video",
        &not_video,
        &"-o",
        &out_dir.join("x.avi"),
        &"--style",
        &"towers",
    ]);
    assert_user_error(&out, "use an .mp4, .mkv or .mov name", &out_dir);
}

#[test]
fn video_interrupted_leaves_nothing_behind() {
    if !have("ffmpeg") {
        skip(
            "video_interrupted_leaves_nothing_behind",
            "ffmpeg is not installed",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = make_clip(dir.path(), 30);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    // Like a terminal's Ctrl-C: brushwork leads its own process group, and SIGINT goes to the
    // whole group.
    let mut cmd = Command::new(bin());
    cmd.arg("video")
        .arg(&clip)
        .arg("-o")
        .arg(out_dir.join("painted.mp4"))
        .args(["--style", "towers", "--threads", "1"])
        .stderr(std::process::Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().unwrap();
    // Wait until encoding has begun (the temporary file exists), then press Ctrl-C.
    for _ in 0..600 {
        if std::fs::read_dir(&out_dir).unwrap().next().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    let left: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

// ---------------------------------------------------------------------------------------------
// Devices.

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
