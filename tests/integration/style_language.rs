//! One style language: every painting command (`stylize`, `interpolate`, `live`, `video`) takes
//! the same style options and paints the same picture with them. For each way of choosing a
//! look (a weighted blend, a preset mix, a blend of presets, a strength, colour preservation)
//! each command's output is held against `stylize`'s.

use std::path::Path;
use std::process::Command;

use image::RgbImage;

use crate::util::*;

/// The looks, as options, with the `--to` an interpolation from them would take.
const LOOKS: &[(&str, &[&str], &str)] = &[
    (
        "blend",
        &[
            "--style",
            "towers",
            "--style",
            "bricks",
            "--weights",
            "0.7,0.3",
        ],
        "clouds-over-bor",
    ),
    ("preset mix", &["--preset", "3:0.5,12:0.5"], "7"),
    (
        "preset blend",
        &["--preset", "3", "--preset", "12", "--weights", "1,3"],
        "7",
    ),
    (
        "strength",
        &["--style", "towers", "--strength", "0.4"],
        "bricks",
    ),
    (
        "preserve colour",
        &["--style", "towers", "--preserve-color"],
        "bricks",
    ),
];

/// `stylize`'s picture of each look, on `engine`.
fn references(dir: &Path, photo: &Path, engine: &[&str]) -> Vec<RgbImage> {
    LOOKS
        .iter()
        .enumerate()
        .map(|(i, (_, opts, _))| {
            let args: Vec<&str> = opts.iter().chain(engine).copied().collect();
            stylize_to(dir, &format!("ref{i}.png"), photo, &args)
        })
        .collect()
}

/// The engines each command is compared on: ONNX Runtime's CPU provider everywhere, and
/// OpenVINO in bf16 where the CPU has it (each command compiles the same network for the same
/// size, so the pictures are equal there too). The looks' presets run on ONNX Runtime beside
/// either.
fn engines() -> Vec<&'static [&'static str]> {
    let mut engines: Vec<&[&str]> = vec![&["--device", "cpu"]];
    if crate::devices::cpu_has_bf16() {
        engines.push(&["--device", "openvino", "--precision", "bf16"]);
    } else {
        skip_visibly(
            "style_language (openvino bf16)",
            "this CPU has neither AVX-512 BF16 nor AMX",
        );
    }
    engines
}

#[test]
fn interpolate_and_live_paint_each_look_exactly_as_stylize() {
    for engine in engines() {
        paint_each_look_as_stylize(engine);
    }
}

fn paint_each_look_as_stylize(engine: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("photo.png");
    load(&data("content_333x250.png")).save(&photo).unwrap();
    let refs = references(dir.path(), &photo, engine);
    // The looks differ from each other, so the comparisons below can tell them apart.
    for i in 0..refs.len() {
        for j in 0..i {
            assert_ne!(refs[i], refs[j], "{} vs {}", LOOKS[i].0, LOOKS[j].0);
        }
    }
    let stills = dir.path().join("stills");
    std::fs::create_dir(&stills).unwrap();
    std::fs::copy(&photo, stills.join("000.png")).unwrap();
    for (i, (name, opts, to)) in LOOKS.iter().enumerate() {
        // interpolate: its first frame is the look, its last is `--to` with the same options.
        let frames = dir.path().join(format!("frames{i}"));
        let out = Command::new(bin())
            .arg("interpolate")
            .arg(&photo)
            .args(*opts)
            .args(engine)
            .args(["--to", to, "--steps", "3", "--max-size", "1000", "-o"])
            .arg(dir.path().join(format!("strip{i}.png")))
            .arg("--frames")
            .arg(&frames)
            .output()
            .unwrap();
        assert!(out.status.success(), "interpolate {name}: {}", stderr(&out));
        assert_eq!(
            load(&frames.join("frame-000.png")),
            refs[i],
            "interpolate {name} {engine:?}: first frame"
        );

        // live, on a directory holding the photo, every frame recorded.
        let record = dir.path().join(format!("live{i}"));
        let out = Command::new(bin())
            .arg("live")
            .args(*opts)
            .args(engine)
            .arg("--source")
            .arg(&stills)
            .args(["--headless", "--every-frame", "--frames", "1", "--record"])
            .arg(&record)
            .output()
            .unwrap();
        assert!(out.status.success(), "live {name}: {}", stderr(&out));
        assert_eq!(
            load(&record.join("frame-000000.png")),
            refs[i],
            "live {name} {engine:?}"
        );
    }
}

/// `video` encodes lossily, so each look's first video frame must be nearest to its own
/// `stylize` reference, and close to it.
#[test]
fn video_paints_each_look_as_stylize() {
    if !have("ffmpeg") {
        skip(
            "video_paints_each_look_as_stylize",
            "ffmpeg is not installed",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("photo.png");
    load(&data("content_384x384.png")).save(&photo).unwrap();
    let cpu = ["--device", "cpu"];
    let refs = references(dir.path(), &photo, &cpu);
    // A lossless clip of the photo: its frames are the photo exactly.
    let clip = dir.path().join("clip.mkv");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-loop", "1", "-framerate", "5", "-i"])
        .arg(&photo)
        .args(["-t", "0.6", "-c:v", "ffv1"])
        .arg(&clip)
        .status()
        .unwrap();
    assert!(made.success());
    for (i, (name, opts, _)) in LOOKS.iter().enumerate() {
        let painted = dir.path().join(format!("v{i}.mp4"));
        let out = Command::new(bin())
            .arg("video")
            .arg(&clip)
            .arg("-o")
            .arg(&painted)
            .args(*opts)
            .args(cpu)
            .args(["--crf", "10"])
            .output()
            .unwrap();
        assert!(out.status.success(), "video {name}: {}", stderr(&out));
        let first = dir.path().join(format!("v{i}.png"));
        let decoded = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&painted)
            .args(["-frames:v", "1"])
            .arg(&first)
            .status()
            .unwrap();
        assert!(decoded.success());
        let got = load(&first);
        let diffs: Vec<f64> = refs
            .iter()
            .map(|r| mean_abs_diff_per_channel(&got, r).iter().sum::<f64>() / 3.0)
            .collect();
        let nearest = (0..diffs.len())
            .min_by(|a, b| diffs[*a].total_cmp(&diffs[*b]))
            .unwrap();
        assert_eq!(nearest, i, "video {name}: diffs to each look {diffs:?}");
        assert!(diffs[i] < 8.0, "video {name}: {diffs:?} from stylize");
        eprintln!("video {name}: mean abs diff to each look {diffs:?}");
    }
}
