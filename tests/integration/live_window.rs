//! `brushwork live`'s window under Xvfb: it opens, answers every key tap (driven by xdotool),
//! and keeps a still photo up, repainting it on keys.

use std::path::Path;
use std::process::{Command, Output};

use image::RgbImage;

use crate::util::*;

/// A real window under Xvfb: the screenshot must show the stylized frame and the status line.
#[test]
fn live_window_under_xvfb() {
    if !window_tools() {
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
        "{XDO} '{}' live --style towers --source '{}' --loop --threads 2 & \
         win; sleep 3; import -window root -crop 320x240+240+180 '{}'; tap q; wait",
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

/// Runs `script` under a fresh Xvfb screen (1400x600) with `$BW` set to the binary, in `dir`.
fn under_xvfb(dir: &Path, script: &str) -> Output {
    Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1400x600x24", "sh", "-c", script])
        .env("BW", bin())
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Shell functions for the window tests: `win` waits for the window and focuses it, `tap K`
/// presses K for 40 ms (a quick tap, the kind the old event loop lost), `cpu PID` prints the
/// process's CPU ticks, `ended PID` waits up to 10 s for it to end and prints its status.
const XDO: &str = r#"
win() { w=$(xdotool search --sync --name "brushwork live" | head -1); xdotool windowfocus --sync "$w"; }
tap() { xdotool keydown "$1"; sleep 0.04; xdotool keyup "$1"; sleep 0.5; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
"#;

fn window_tools() -> bool {
    if !have("xvfb-run") || !have("import") || !have("xdotool") {
        skip(
            "live window key tests",
            "need xvfb-run (Debian xvfb), import (imagemagick) and xdotool",
        );
        return false;
    }
    true
}

/// Every quick key tap counts while the network is busy at 640x480: the window's events are
/// pumped between frames, not once per frame.
#[test]
fn live_window_answers_every_key_tap() {
    if !window_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let snaps = dir.path().join("snaps");
    std::fs::create_dir(&snaps).unwrap();
    for (quit, name) in [("q", "q"), ("Escape", "esc")] {
        let script = format!(
            "{XDO}
             \"$BW\" live -v --style towers --style bricks --source pattern --size 640x480 \
                 --threads 2 --snapshots snaps 2> {name}.err & pid=$!
             win; sleep 1
             tap 2; tap Up; tap Down; tap Down; tap space; tap s; tap 1
             t0=$(date +%s%N); tap {quit}
             wait $pid; echo \"exit $?\" > {name}.status
             echo $(( ($(date +%s%N) - t0) / 1000000 )) > {name}.ms"
        );
        let out = under_xvfb(dir.path(), &script);
        assert!(out.status.success(), "{}", stderr(&out));
        let log = std::fs::read_to_string(dir.path().join(format!("{name}.err"))).unwrap();
        let status = std::fs::read_to_string(dir.path().join(format!("{name}.status"))).unwrap();
        assert_eq!(status.trim(), "exit 0", "{log}");
        for want in [
            "key Key2: 2 bricks  strength 1.00",
            "key Down: 2 bricks  strength 0.90",
            "key Down: 2 bricks  strength 0.80",
            "key Space: 2 bricks  strength 0.80  side by side",
            "key S: 2 bricks",
            "key Key1: 1 towers",
        ] {
            assert!(
                log.contains(want),
                "{want:?} missing after a quick tap:\n{log}"
            );
        }
        let ms: u64 = std::fs::read_to_string(dir.path().join(format!("{name}.ms")))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        eprintln!("live ended {ms} ms after the {quit} tap");
    }
    let saved: Vec<_> = std::fs::read_dir(&snaps).unwrap().collect();
    assert_eq!(saved.len(), 2, "one snapshot per run");
    for s in saved {
        let img = load(&s.unwrap().path());
        assert_eq!(img.dimensions(), (640, 480));
    }
}

/// A still photo stays up, costs no CPU while nothing changes, and is painted again when a
/// key changes the style; Space shows the photo itself beside it.
#[test]
fn live_still_photo_stays_up_and_repaints_on_keys() {
    if !window_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("photo.png");
    image::imageops::resize(
        &load(&example("content/picabo_lava.jpg")),
        320,
        240,
        image::imageops::FilterType::Triangle,
    )
    .save(&photo)
    .unwrap();
    let towers = stylize_to(dir.path(), "towers.png", &photo, &["--style", "towers"]);
    let bricks = stylize_to(dir.path(), "bricks.png", &photo, &["--style", "bricks"]);
    // The window is centred on the 1400x600 screen; without a window manager it keeps its size.
    let crop = "-crop 320x240+540+180";
    let script = format!(
        "{XDO}
         \"$BW\" live -v --style towers --style bricks --source photo.png --threads 2 \
             2> live.err & pid=$!
         win; sleep 2
         c0=$(cpu $pid); sleep 3; c1=$(cpu $pid); echo $((c1 - c0)) > idle.ticks
         import -window root {crop} first.png
         tap 2; sleep 1.5
         import -window root {crop} second.png
         tap space; sleep 0.5
         import -window root {crop} both.png
         tap q; wait $pid; echo \"exit $?\" > status"
    );
    let out = under_xvfb(dir.path(), &script);
    assert!(out.status.success(), "{}", stderr(&out));
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
    let log = read("live.err");
    assert_eq!(read("status").trim(), "exit 0", "{log}");
    // Idle: at most 0.3 s of CPU in 3 s (ticks are 1/100 s), where a busy loop would take 3 s.
    let ticks: u64 = read("idle.ticks").trim().parse().unwrap();
    assert!(
        ticks <= 30,
        "{ticks} CPU ticks in 3 s of an unchanged still"
    );
    let below = |i: &RgbImage| image::imageops::crop_imm(i, 0, 16, 320, 224).to_image();
    let near = |a: &RgbImage, b: &RgbImage| {
        mean_abs_diff_per_channel(&below(a), &below(b))
            .iter()
            .all(|d| *d < 1.0)
    };
    let (first, second) = (
        load(&dir.path().join("first.png")),
        load(&dir.path().join("second.png")),
    );
    assert!(near(&first, &towers), "the window shows towers first");
    assert!(
        near(&second, &bricks),
        "key 2 repainted the still in bricks"
    );
    // Side by side: the canvas doubles in width and the window, which keeps its size, shows
    // it scaled to half height at the top, black below, the stylized frame on the left and the
    // photo itself on the right.
    let both = load(&dir.path().join("both.png"));
    let mean = |img: &RgbImage| {
        mean_abs_diff_per_channel(img, &RgbImage::new(img.width(), img.height()))
            .iter()
            .sum::<f64>()
            / 3.0
    };
    let band = |i: &RgbImage| image::imageops::crop_imm(i, 0, 190, 320, 50).to_image();
    assert!(mean(&band(&both)) < 5.0, "no black band below after Space");
    assert!(
        mean(&band(&second)) > 20.0,
        "the frame filled the window before Space"
    );
    let right = image::imageops::crop_imm(&both, 170, 10, 140, 100).to_image();
    let photo_small = image::imageops::resize(
        &load(&photo),
        160,
        120,
        image::imageops::FilterType::Triangle,
    );
    let photo_right = image::imageops::crop_imm(&photo_small, 10, 10, 140, 100).to_image();
    let d = mean_abs_diff_per_channel(&right, &photo_right);
    assert!(
        d.iter().all(|v| *v < 20.0),
        "the right half is not the photo: {d:?}"
    );
    assert!(
        log.contains("key Space: 2 bricks  strength 1.00  side by side"),
        "{log}"
    );
    assert!(
        log.contains("(still)"),
        "the photo is a still source:\n{log}"
    );
}
