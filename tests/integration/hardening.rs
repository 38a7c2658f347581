//! Hardening: hostile and careless input, signals, full disks and closed pipes. Every case ends
//! with exit 1 or 2 and one line on stderr: never a panic (101), an abort (134), a signal death
//! or a hang, and never a half-written or overwritten file.
//!
//! This module: extreme numbers and option text, memory budgets and threads, models and
//! runtime libraries. The other themes: [`crate::hardening_pictures`] (hostile pictures),
//! [`crate::hardening_files`] (outputs and inputs), [`crate::hardening_signals`] (signals and
//! pipes).

use std::path::Path;
use std::process::Command;

use image::RgbImage;

use crate::util::*;

/// Asserts that a run ended by itself with `code` (no signal, no panic or abort) and printed one
/// `brushwork: error:` line that mentions `needle`.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Weights near f32::MAX blend like any others; absurd style files are refused.
#[test]
fn extreme_numbers_do_not_paint_flat_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let photo = data("content_333x250.png");
    let huge = stylize_to(
        dir.path(),
        "huge.png",
        &photo,
        &[
            "--style",
            "towers",
            "--style",
            "bricks",
            "--weights",
            "3e38,3e38",
        ],
    );
    let even = stylize_to(
        dir.path(),
        "even.png",
        &photo,
        &["--style", "towers", "--style", "bricks", "--weights", "1,1"],
    );
    assert_eq!(huge, even, "3e38,3e38 is an even blend");
    let huge = stylize_to(
        dir.path(),
        "hp.png",
        &photo,
        &["--preset", "3:3e38,12:3e38"],
    );
    let even = stylize_to(dir.path(), "ep.png", &photo, &["--preset", "3:1,12:1"]);
    assert_eq!(huge, even, "preset weights 3e38 are an even mix");

    let builtin = root().join("styles/towers.style.json");
    for value in ["1e30", "3.4e38", "-25"] {
        let text = std::fs::read_to_string(&builtin).unwrap();
        let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
        json["embedding"][7] = serde_json::from_str(value).unwrap();
        let file = dir.path().join("absurd.style.json");
        std::fs::write(&file, json.to_string()).unwrap();
        let out_dir = tempfile::tempdir().unwrap();
        let out = brushwork(&[
            &"stylize",
            &photo,
            &"--style",
            &file,
            &"-o",
            &out_dir.path().join("x.png"),
        ]);
        assert_fails_cleanly(&out, 2, "number 7 is");
        assert!(stderr(&out).contains("outside the ±20"), "{}", stderr(&out));
    }
}

/// Any finite weights blend (summed in double precision, scaled by the largest), and a style
/// name longer than a file name can be is refused before anything is written.
#[test]
fn weights_of_any_finite_size_and_names_of_file_size() {
    let dir = tempfile::tempdir().unwrap();
    let photo = data("content_333x250.png");
    let two = |weights: &str| {
        let args = [
            "--style",
            "towers",
            "--style",
            "bricks",
            "--weights",
            weights,
            "--device",
            "cpu",
        ];
        stylize_to(
            dir.path(),
            &format!("w{}.png", weights.len()),
            &photo,
            &args,
        )
    };
    let even = two("1,1");
    assert_eq!(two("1e308,1e308"), even);
    assert_eq!(two("1e-46,1e-46"), even);
    let out = Command::new(bin())
        .args([
            "stylize",
            "--preset",
            "3:1e308,12:1e308",
            "--device",
            "cpu",
            "-o",
        ])
        .arg(dir.path().join("p.png"))
        .arg(&photo)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let styles = dir.path().join("styles");
    let out = Command::new(bin())
        .arg("embed")
        .arg(data("style_towers_256.png"))
        .arg("--name")
        .arg("n".repeat(70_000))
        .arg("-o")
        .arg(&styles)
        .output()
        .unwrap();
    assert_fails_cleanly(&out, 2, "1 to 200 bytes");
    assert!(stderr(&out).len() < 400, "the name is not echoed whole");
    assert!(!styles.exists());
}

/// An output in a directory that does not exist says so (not "is not a directory").
#[test]
fn every_memory_budget_accepted_runs_a_small_photo() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("x.png");
    let photo = example("content/coast_guard_boat.jpg");
    let out = brushwork(&[
        &"stylize",
        &photo,
        &"--style",
        &"towers",
        &"--memory-budget",
        &"95MiB",
        &"-o",
        &o,
    ]);
    assert_fails_cleanly(&out, 2, "give at least 96MiB");
    // The smallest budget accepted runs a 48x64 photo with either network.
    for style in [["--style", "towers"], ["--preset", "3"]] {
        let out = brushwork(&[
            &"stylize",
            &photo,
            &style[0],
            &style[1],
            &"--memory-budget",
            &"96MiB",
            &"--max-size",
            &"64",
            &"-o",
            &o,
        ]);
        assert!(out.status.success(), "{style:?}: {}", stderr(&out));
        assert_eq!(image::image_dimensions(&o).unwrap(), (48, 64));
    }
}

/// A truncated libonnxruntime would crash with SIGBUS when mapped: named by ORT_DYLIB_PATH it is
/// a one-line error; in the cache it is fetched again (or refused when downloads are off).
#[test]
fn a_damaged_runtime_library_is_caught_before_loading() {
    let lib = runtime_library();
    let bytes = std::fs::read(&lib).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("libonnxruntime.so.1.31.1");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let photo = data("content_333x250.png");
    let o = dir.path().join("x.png");
    let run = |env: &[(&str, &Path)], unset: &[&str]| {
        let mut cmd = Command::new(bin());
        cmd.args(["stylize"])
            .arg(&photo)
            .args(["--style", "towers", "-o"])
            .arg(&o);
        for k in unset {
            cmd.env_remove(k);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&[("ORT_DYLIB_PATH", &truncated)], &[]);
    assert_fails_cleanly(&out, 1, "is not a usable ONNX Runtime library: truncated");

    // The same truncated file as the cached copy.
    let cache = dir.path().join("cache");
    let cached = cache.join("onnxruntime-1.31.1");
    std::fs::create_dir_all(&cached).unwrap();
    std::fs::copy(&truncated, cached.join("libonnxruntime.so.1.31.1")).unwrap();
    let out = run(
        &[
            ("BRUSHWORK_CACHE_DIR", &cache),
            ("BRUSHWORK_NO_DOWNLOAD", Path::new("1")),
        ],
        &["ORT_DYLIB_PATH"],
    );
    assert_fails_cleanly(&out, 1, "is damaged");
    // With downloads allowed it is fetched again (from pip's cache here) and the run works.
    let out = run(
        &[("BRUSHWORK_CACHE_DIR", &cache)],
        &["ORT_DYLIB_PATH", "BRUSHWORK_NO_DOWNLOAD"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("fetching it again"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(cached.join("libonnxruntime.so.1.31.1"))
            .unwrap()
            .len(),
        bytes.len()
    );
    assert!(o.is_file());
}

#[test]
fn more_threads_than_the_machine_can_use_are_refused() {
    stylize_fails(
        &data("content_333x250.png"),
        &"towers",
        "x.png",
        &["--threads", "1024"],
        "use at most",
    );
}

/// Out of memory is one error with one exit status (2: a smaller size avoids it) in every
/// command and on each engine, on one line. `ulimit -v` makes the allocation fail; the budget
/// is raised so that the picture runs untiled (tiled, it fits: see `tiling`). OpenVINO runs in
/// fp32 here, on every CPU: in bf16 its activations are half the size, and on some CPUs the
/// picture fits.
#[test]
fn out_of_memory_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.png");
    RgbImage::from_fn(3000, 3000, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    })
    .save(&big)
    .unwrap();
    let limited = |args: &str| under_address_limit(1_500_000, dir.path(), args);
    for engine in ["--device cpu", "--device openvino --precision fp32"] {
        let out = limited(&format!(
            "stylize big.png --style towers -o out.png --memory-budget 64GiB {engine}"
        ));
        assert_fails_cleanly(&out, 2, "not enough memory");
        let out = limited(&format!(
            "live --source pattern --size 3000x3000 --frames 1 --headless --style towers --memory-budget 64GiB {engine}"
        ));
        assert_fails_cleanly(&out, 2, "not enough memory");
        assert!(!stderr(&out).contains(".cpp:"), "{}", stderr(&out));
        assert!(!dir.path().join("out.png").exists());
    }
    // Not tested: OpenVINO under a much tighter limit (400 MB). There glibc itself can abort
    // while loading OpenVINO's libraries ("cannot allocate memory for thread-local data"),
    // before brushwork runs any code that could report it; when it gets as far as a message,
    // the source locations are stripped (engine/openvino/setup.rs has that unit test).
}

/// The exit-status rule for `--models`: anything wrong with the user's models directory is
/// theirs to fix (2).
#[test]
fn models_directory_problems_are_the_users() {
    let dir = tempfile::tempdir().unwrap();
    stylize_fails(
        &data("content_333x250.png"),
        &"towers",
        "x.png",
        &["--models", "/nonexistent/models"],
        "style_predict.onnx",
    );
    let broken = dir.path().join("models");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("style_predict.onnx"), b"garbage").unwrap();
    std::fs::write(broken.join("style_transform.onnx"), b"garbage").unwrap();
    stylize_fails(
        &data("content_333x250.png"),
        &"towers",
        "x.png",
        &["--models", &broken.to_string_lossy()],
        "is not a usable",
    );
    // A style-prediction network that loads but does not take `style_image`: it loads on the
    // first painting, and is checked then, as at start before.
    let renamed = dir.path().join("renamed");
    std::fs::create_dir(&renamed).unwrap();
    let predict = std::fs::read(root().join("models/style_predict.onnx")).unwrap();
    let (from, to) = (b"style_image".as_slice(), b"style_imagX".as_slice());
    let mut edited = Vec::with_capacity(predict.len());
    let mut rest = predict.as_slice();
    while !rest.is_empty() {
        if rest.starts_with(from) {
            edited.extend_from_slice(to);
            rest = &rest[from.len()..];
        } else {
            edited.push(rest[0]);
            rest = &rest[1..];
        }
    }
    assert_ne!(edited, predict);
    std::fs::write(renamed.join("style_predict.onnx"), edited).unwrap();
    std::fs::copy(
        root().join("models/style_transform.onnx"),
        renamed.join("style_transform.onnx"),
    )
    .unwrap();
    stylize_fails(
        &data("content_333x250.png"),
        &data("style_towers_256.png"),
        "x.png",
        &["--models", &renamed.to_string_lossy()],
        "has no input named 'style_image'",
    );
}

/// Malformed text in every option that parses user text: one line, exit 2, never a panic.
#[test]
fn malformed_option_text_is_one_line_and_exit_2() {
    let nasty = [
        "",
        ",",
        ":",
        "1e999",
        "-1",
        "NaN",
        "inf",
        "3:",
        ":3",
        "1,,2",
        "٣",
        "99999999999999999999",
        "1:1:1",
        "x",
        "🎨",
    ];
    let photo = data("content_333x250.png");
    for text in nasty {
        for args in [
            vec!["--style", "towers", "--style", "bricks", "--weights", text],
            vec!["--preset", text],
            vec!["--style", "towers", "--device", text],
            vec!["--style", "towers", "--strength", text],
            vec!["--style", "towers", "--max-size", text],
            vec!["--style", "towers", "--quality", text],
        ] {
            let dir = tempfile::tempdir().unwrap();
            let out = Command::new(bin())
                .arg("stylize")
                .arg(&photo)
                .args(&args)
                .arg("-o")
                .arg(dir.path().join("x.png"))
                .output()
                .unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(!err.contains("panicked"), "{args:?}: {err}");
            assert!(files_in(dir.path()).is_empty(), "{args:?}");
        }
        let out = Command::new(bin())
            .args(["live", "--headless", "--style", "towers", "--size", text])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "--size {text:?}: {}",
            stderr(&out)
        );
    }
}

/// A number out of an option's range is refused with the range in words, whatever its sign: a
/// negative one is the option's value, not something clap advises to write as `-- -5` (which
/// would make it a photo's name). Missing both --style and --preset names both.
#[test]
fn numbers_out_of_range_name_the_range() {
    let photo = data("content_333x250.png");
    let nines = "9".repeat(60); // past even i128
    for (option, value, said) in [
        (
            "--max-size",
            "-5",
            "invalid value '-5' for '--max-size <N>': must be at least 16",
        ),
        ("--max-size", "0", "'--max-size <N>': must be at least 16"),
        ("--max-size", "abc", "'abc' is not a whole number"),
        (
            "--max-size",
            "99999999999",
            "'--max-size <N>': must be at most 4294967295",
        ),
        (
            "--max-size",
            &nines,
            "'--max-size <N>': must be at most 4294967295",
        ),
        (
            "--quality",
            "-3",
            "'--quality <QUALITY>': must be from 1 to 100",
        ),
        ("--threads", "0", "'--threads <N>': must be from 1 to 1024"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = brushwork(&[
            &"stylize",
            &photo,
            &"-s",
            &"towers",
            &option,
            &value,
            &"-o",
            &dir.path().join("x.png"),
        ]);
        assert_user_error(&out, said, dir.path());
        assert!(!stderr(&out).contains("-- "), "{}", stderr(&out));
    }
    let dir = tempfile::tempdir().unwrap();
    let out = brushwork(&[&"stylize", &photo, &"-o", &dir.path().join("x.png")]);
    assert_user_error(&out, "<--style <STYLE>|--preset <SPEC>>", dir.path());
}
