//! Hardening of outputs: no command overwrites its inputs or records over them, failed runs
//! leave no directories behind, names stay inside their directory, live sources and
//! recordings fail cleanly.

use std::path::Path;
use std::process::Command;

use crate::hardening::files_in;
use crate::util::*;

/// Photos written into a directory keep their whole stem: `holiday.v1.jpg` is not
/// `holiday.png`, and an unrelated `holiday.png` there is left alone.
#[test]
fn directory_mode_keeps_the_whole_stem() {
    let dir = tempfile::tempdir().unwrap();
    let photo = data("content_333x250.png");
    let (v1, v2) = (
        dir.path().join("holiday.v1.png"),
        dir.path().join("holiday.v2.png"),
    );
    std::fs::copy(&photo, &v1).unwrap();
    std::fs::copy(&photo, &v2).unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::write(out_dir.join("holiday.png"), b"mine").unwrap();
    let out = brushwork(&[
        &"stylize",
        &v1,
        &v2,
        &"--style",
        &"towers",
        &"-o",
        &out_dir,
        &"--format",
        &"jpg",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        files_in(&out_dir),
        ["holiday.png", "holiday.v1.jpg", "holiday.v2.jpg"]
    );
    assert_eq!(std::fs::read(out_dir.join("holiday.png")).unwrap(), b"mine");
}

/// No command writes over a file it reads.
#[test]
fn no_command_overwrites_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.png");
    let painting = dir.path().join("painting.png");
    std::fs::copy(data("content_333x250.png"), &p).unwrap();
    std::fs::copy(data("style_towers_256.png"), &painting).unwrap();
    let frames = dir.path().join("frames");
    std::fs::create_dir(&frames).unwrap();
    let frame = frames.join("frame-001.png");
    std::fs::copy(data("content_333x250.png"), &frame).unwrap();
    let before = |f: &Path| std::fs::read(f).unwrap();
    let (p0, painting0, frame0) = (before(&p), before(&painting), before(&frame));
    let o = dir.path().join("sheet.png");
    let runs: Vec<(Vec<&dyn AsRef<std::ffi::OsStr>>, &Path)> = vec![
        (vec![&"presets", &p, &"-o", &p], &p),
        (
            vec![
                &"interpolate",
                &p,
                &"--from",
                &"towers",
                &"--to",
                &"bricks",
                &"-o",
                &p,
            ],
            &p,
        ),
        (
            vec![
                &"interpolate",
                &p,
                &"--from",
                &painting,
                &"--to",
                &"bricks",
                &"-o",
                &painting,
            ],
            &painting,
        ),
        (
            vec![
                &"interpolate",
                &frame,
                &"--from",
                &"towers",
                &"--to",
                &"bricks",
                &"-o",
                &o,
                &"--frames",
                &frames,
            ],
            &frame,
        ),
        (
            vec![&"stylize", &p, &"--style", &painting, &"-o", &painting],
            &painting,
        ),
    ];
    for (args, victim) in runs {
        let out = brushwork(&args);
        assert_fails_cleanly(&out, 2, "refusing to overwrite an input file");
        assert!(
            stderr(&out).contains(&*victim.to_string_lossy()),
            "{}",
            stderr(&out)
        );
    }
    assert_eq!(before(&p), p0);
    assert_eq!(before(&painting), painting0);
    assert_eq!(before(&frame), frame0);
    assert!(!o.exists());
}

#[test]
fn an_output_in_a_missing_directory_says_it_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("no/such/dir/x.png");
    let out = Command::new(bin())
        .args(["stylize", "--style", "towers", "--device", "cpu", "-o"])
        .arg(&target)
        .arg(data("content_333x250.png"))
        .output()
        .unwrap();
    assert_fails_cleanly(&out, 2, "no/such/dir does not exist");
}

/// `live --record DIR` writes `frame-NNNNNN.png` into DIR: a single picture played from DIR
/// (named directly, through `..` or through a symlink) is refused before anything is written,
/// and the picture is left as it was.
#[test]
fn live_never_records_over_the_picture_it_plays() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    std::fs::create_dir(&d).unwrap();
    let photo = d.join("frame-000000.png");
    std::fs::copy(data("content_333x250.png"), &photo).unwrap();
    let link = dir.path().join("link.png");
    std::os::unix::fs::symlink(&photo, &link).unwrap();
    let before = std::fs::read(&photo).unwrap();
    let via_dots = d.join("..").join("d").join("frame-000000.png");
    for source in [&photo, &via_dots, &link] {
        let out = Command::new(bin())
            .args([
                "live",
                "--headless",
                "--frames",
                "1",
                "--style",
                "towers",
                "--source",
            ])
            .arg(source)
            .arg("--record")
            .arg(&d)
            .output()
            .unwrap();
        assert_fails_cleanly(&out, 2, "which a recorded frame could overwrite");
        assert_eq!(
            std::fs::read(&photo).unwrap(),
            before,
            "{}",
            source.display()
        );
    }
    // Recording elsewhere works.
    let elsewhere = dir.path().join("rec");
    let out = Command::new(bin())
        .args([
            "live",
            "--headless",
            "--frames",
            "1",
            "--style",
            "towers",
            "--source",
        ])
        .arg(&link)
        .arg("--record")
        .arg(&elsewhere)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(elsewhere.join("frame-000000.png").exists());
}

/// A run that fails before it writes removes the output directories it made, and a style name
/// cannot lead outside the output directory.
#[test]
fn failed_runs_leave_no_directories_and_names_stay_inside() {
    let dir = tempfile::tempdir().unwrap();
    let photo = data("content_333x250.png");
    let new = dir.path().join("new");
    let out = brushwork(&[
        &"stylize",
        &photo,
        &"--style",
        &"no-such-style",
        &"-o",
        &new.join("deeper/"),
    ]);
    assert_fails_cleanly(&out, 2, "unknown style");
    assert!(!new.exists(), "stylize left {}", new.display());

    let out = brushwork(&[
        &"stylize",
        &photo,
        &dir.path().join("missing.png"),
        &"--style",
        &"towers",
        &"-o",
        &new,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        files_in(&new),
        ["content_333x250.png"],
        "kept: something landed"
    );

    let edir = dir.path().join("styles");
    let out = brushwork(&[
        &"embed",
        &data("style_towers_256.png"),
        &"--name",
        &"../evil",
        &"-o",
        &edir,
    ]);
    assert_fails_cleanly(&out, 2, "--name \"../evil\"");
    assert!(!edir.exists());
    assert!(!dir.path().join("evil.style.json").exists());

    let out = brushwork(&[&"embed", &dir.path().join("nope.png"), &"-o", &edir]);
    assert_fails_cleanly(&out, 2, "no such file");
    assert!(!edir.exists(), "embed left {}", edir.display());

    let rec = dir.path().join("rec");
    let out = brushwork(&[
        &"live",
        &"--source",
        &"pattern",
        &"--size",
        &"64x48",
        &"--headless",
        &"--frames",
        &"2",
        &"--style",
        &"no-such-style",
        &"--record",
        &rec,
    ]);
    assert_fails_cleanly(&out, 2, "unknown style");
    assert!(!rec.exists(), "live left {}", rec.display());
}

/// The live command: a bad picture in an image directory is the user's problem (exit 2); a
/// file or directory named like a keyword is a source, not a malformed keyword; a recording
/// that cannot be written ends the run with an error.
#[test]
fn live_sources_and_recording_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let imgs = dir.path().join("camera_roll");
    std::fs::create_dir(&imgs).unwrap();
    std::fs::copy(data("content_333x250.png"), imgs.join("a.png")).unwrap();
    let live = |source: &Path, extra: &[&str]| {
        Command::new(bin())
            .args([
                "live",
                "--headless",
                "--style",
                "towers",
                "--frames",
                "3",
                "--source",
            ])
            .arg(source)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = live(&imgs, &["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));

    std::fs::write(imgs.join("b.png"), b"\x89PNG\r\n\x1a\nbroken").unwrap();
    let out = live(&imgs, &["--every-frame"]);
    assert_fails_cleanly(&out, 2, "b.png");

    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    for i in 0..10 {
        // Directories where the frames would go: every write fails.
        std::fs::create_dir(rec.join(format!("frame-{i:06}.png"))).unwrap();
    }
    let out = Command::new(bin())
        .args([
            "live",
            "--headless",
            "--style",
            "towers",
            "--frames",
            "5",
            "--size",
            "64x48",
        ])
        .args(["--source", "pattern", "--record"])
        .arg(&rec)
        .output()
        .unwrap();
    assert_fails_cleanly(&out, 2, "cannot write");
}
