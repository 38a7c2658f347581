//! The live pipeline: sources, accounting, flicker, headless. Its real window under Xvfb is in
//! [`crate::live_window`].

use std::process::Command;

use brushwork::sources::{FrameSource, Pattern, PatternKind};

use crate::util::*;

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
        "--device",
        "cpu",
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
            &["--style", "bricks", "--device", "cpu"],
        );
        assert_eq!(
            load(&record.join(format!("frame-{i:06}.png"))),
            expected,
            "frame {i}"
        );
    }
}

/// The stabilizers on the three test scenes (320x240, 60 frames, --stabilize 0.5): both cut
/// the flicker of a still scene; on a square moving over a still background the plain blend
/// drags ghosts behind it and the motion-aware one leaves it sharp; on a pan the motion-aware
/// one lowers the motion-compensated flicker, where the plain blend does not.
#[test]
fn live_stabilizers_cut_flicker_without_ghosts() {
    let run = |pattern: &str, alpha: &str, mode: &str| {
        live_json(&[
            "--style",
            "towers",
            "--source",
            pattern,
            "--size",
            "320x240",
            "--headless",
            "--every-frame",
            "--unpaced",
            "--frames",
            "60",
            "--threads",
            "2",
            "--stabilize",
            alpha,
            "--stabilizer",
            mode,
        ])
    };
    let f = |v: &serde_json::Value| v["flicker"].as_f64().unwrap();
    let fc = |v: &serde_json::Value| v["flicker_compensated"].as_f64().unwrap();
    let g = |v: &serde_json::Value| v["ghosting"].as_f64().unwrap();

    let still = run("pattern:still", "0", "motion");
    let still_motion = run("pattern:still", "0.5", "motion");
    assert!(
        f(&still_motion) < f(&still) * 0.55,
        "still: flicker {} -> {} (motion)",
        f(&still),
        f(&still_motion)
    );
    let object_blend = run("pattern:object", "0.5", "blend");
    let object_motion = run("pattern:object", "0.5", "motion");
    assert!(
        g(&object_motion) <= 0.25 * g(&object_blend),
        "moving object: ghosting {} (blend) vs {} (motion)",
        g(&object_blend),
        g(&object_motion)
    );
    let object = run("pattern:object", "0", "motion");
    assert!(
        f(&object_motion) < f(&object) * 0.7,
        "object: flicker not cut"
    );
    let pan = run("pattern:pan", "0", "motion");
    let pan_blend = run("pattern:pan", "0.5", "blend");
    let pan_motion = run("pattern:pan", "0.5", "motion");
    assert!(
        fc(&pan_motion) < fc(&pan) && fc(&pan_motion) < fc(&pan_blend),
        "pan: compensated flicker {} (none), {} (blend), {} (motion)",
        fc(&pan),
        fc(&pan_blend),
        fc(&pan_motion)
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

#[test]
fn live_video_file_source() {
    if !have("ffmpeg") {
        skip("live_video_file_source", "ffmpeg is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("clip.mp4");
    make_testsrc(
        &video,
        "size=96x64:rate=10:duration=1",
        &["-pix_fmt", "yuv420p"],
    );
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

/// --target-fps runs the network smaller when it cannot keep up, and says so: an impossible
/// target ends at half size, an easy one stays at full size.
#[test]
fn live_target_fps_runs_the_network_smaller() {
    let run = |fps: &str| {
        live_json(&[
            "--style",
            "towers",
            "--source",
            "pattern",
            "--size",
            "320x240",
            "--headless",
            "--every-frame",
            "--unpaced",
            "--frames",
            "40",
            "--target-fps",
            fps,
        ])
    };
    let fast = run("240");
    assert_eq!(fast["size_in_use"], serde_json::json!([160, 120]), "{fast}");
    assert!(fast["frames_at_scale"][2].as_u64().unwrap() > 0, "{fast}");
    let easy = run("1");
    assert_eq!(easy["size_in_use"], serde_json::json!([320, 240]), "{easy}");
    assert_eq!(easy["frames_at_scale"][0], 40, "{easy}");
    // Every frame is still the source's size: only the network ran smaller.
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let out = Command::new(bin())
        .args([
            "live", "--style", "towers", "--source", "pattern", "--size", "320x240",
        ])
        .args(["--headless", "--every-frame", "--unpaced", "--frames", "20"])
        .args(["--target-fps", "240", "--record"])
        .arg(&rec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(load(&rec.join("frame-000019.png")).dimensions(), (320, 240));
}

/// `--stand-in-network` runs the whole pipeline with a copy in place of the network: every
/// recorded frame is the source frame itself, the look around it still applies (colours kept
/// of a copy are the copy), and the summary says what the pipeline cost per frame.
#[test]
fn live_with_a_stand_in_network_shows_the_source_and_measures_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let frames = dir.path().join("frames");
    let s = live_json(&[
        "--style",
        "towers",
        "--preserve-color",
        "--source",
        "pattern",
        "--size",
        "320x240",
        "--headless",
        "--every-frame",
        "--unpaced",
        "--frames",
        "12",
        "--stand-in-network",
        "--record",
        frames.to_str().unwrap(),
    ]);
    assert_eq!(s["stylized"].as_u64(), Some(12), "{s}");
    let cpu = s["cpu_ms_per_frame"].as_f64().unwrap_or(f64::NAN);
    assert!(cpu > 0.0 && cpu.is_finite(), "{s}");
    assert!(
        s["flicker"].is_null(),
        "a copy has no flicker to measure: {s}"
    );
    // The same frames from the pattern, through the network: they differ from the source.
    let pattern = dir.path().join("pattern");
    let out = Command::new(bin())
        .args([
            "live", "--style", "towers", "--source", "pattern", "--size", "320x240",
        ])
        .args([
            "--headless",
            "--every-frame",
            "--unpaced",
            "--frames",
            "12",
            "--device",
            "cpu",
        ])
        .args(["--record", pattern.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // The pattern's own frames, from the library.
    let mut pattern_source = Pattern::new(PatternKind::Moving, 320, 240);
    let sources: Vec<image::RgbImage> = (0..12)
        .map(|_| {
            let mut frame = image::RgbImage::new(320, 240);
            assert!(pattern_source.next_frame(&mut frame).unwrap());
            frame
        })
        .collect();
    for k in [0, 5, 11] {
        let name = format!("frame-{k:06}.png");
        let copy = image::open(frames.join(&name)).unwrap().to_rgb8();
        let painted = image::open(pattern.join(&name)).unwrap().to_rgb8();
        let source = &sources[k];
        assert_eq!(
            copy.as_raw(),
            source.as_raw(),
            "{name}: the stand-in shows the source"
        );
        let moved = mean_abs_diff_per_channel(&painted, source)
            .iter()
            .sum::<f64>()
            / 3.0;
        assert!(moved > 10.0, "{name}: the network paints ({moved})");
    }
}
