//! The live pipeline: sources, accounting, flicker, a real window under Xvfb.

use std::process::Command;

use image::RgbImage;

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
