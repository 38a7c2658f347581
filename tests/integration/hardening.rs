//! Hardening: hostile and careless input, signals, full disks and closed pipes. Every case ends
//! with exit 1 or 2 and one line on stderr: never a panic (101), an abort (134), a signal death
//! or a hang, and never a half-written or overwritten file.

use std::path::Path;
use std::process::{Command, Stdio};

use image::RgbImage;

use crate::util::*;

/// Asserts that a run ended by itself with `code` (no signal, no panic or abort) and printed one
/// `brushwork: error:` line that mentions `needle`.
fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A PNG whose header claims `w`×`h` pixels, with a few bytes of data: a decompression bomb.
fn png_claiming(path: &Path, w: u32, h: u32) {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(data);
        out.extend(crc32(&out[start..]).to_be_bytes());
    }
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    0xEDB8_8320 ^ (crc >> 1)
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    // A zlib stream of a few zero bytes: far less than the picture claims.
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    std::fs::write(path, png).unwrap();
}

#[test]
fn decompression_bombs_are_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.png");
    png_claiming(&bomb, 100_000, 100_000);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let needle = "decodes at most 100 megapixels";
    let photo = data("content_333x250.png");
    let o = out_dir.join("x.png");
    let runs: Vec<Vec<&dyn AsRef<std::ffi::OsStr>>> = vec![
        vec![&"stylize", &bomb, &"--style", &"towers", &"-o", &o],
        vec![&"stylize", &photo, &"--style", &bomb, &"-o", &o],
        vec![&"embed", &bomb, &"-o", &out_dir],
        vec![
            &"interpolate",
            &bomb,
            &"--from",
            &"towers",
            &"--to",
            &"bricks",
            &"-o",
            &o,
        ],
        vec![
            &"interpolate",
            &photo,
            &"--from",
            &bomb,
            &"--to",
            &"bricks",
            &"-o",
            &o,
        ],
        vec![&"presets", &bomb, &"-o", &o],
    ];
    for args in runs {
        let out = brushwork(&args);
        assert_fails_cleanly(&out, 2, needle);
        assert!(stderr(&out).contains("--max-size"), "{}", stderr(&out));
        assert!(files_in(&out_dir).is_empty(), "{:?}", files_in(&out_dir));
    }
    // In a batch, the photos after the bomb are still stylized.
    let out = brushwork(&[
        &"stylize", &bomb, &photo, &"--style", &"towers", &"-o", &out_dir,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(needle), "{}", stderr(&out));
    assert_eq!(files_in(&out_dir), ["content_333x250.png"]);
}

/// JPEGs cut short: the decoder would paint the missing part grey and succeed.
/// A BMP header (BITMAPINFOHEADER, 24 bits) declaring `w`×`h` and no pixel data.
fn bmp_claiming(path: &Path, w: i32, h: i32) {
    let mut b = b"BM".to_vec();
    b.extend(54u32.to_le_bytes()); // file size
    b.extend(0u32.to_le_bytes()); // reserved
    b.extend(54u32.to_le_bytes()); // pixel data offset
    b.extend(40u32.to_le_bytes());
    b.extend(w.to_le_bytes());
    b.extend(h.to_le_bytes());
    b.extend(1u16.to_le_bytes());
    b.extend(24u16.to_le_bytes());
    b.extend([0u8; 24]);
    std::fs::write(path, b).unwrap();
}

#[test]
fn pictures_without_pixels_say_so() {
    let dir = tempfile::tempdir().unwrap();
    type Make = fn(&Path);
    let cases: [(&str, Make); 4] = [
        ("wide0.png", |p| png_claiming(p, 0, 10)),
        ("wide0.bmp", |p| bmp_claiming(p, 0, 10)),
        ("high0.bmp", |p| bmp_claiming(p, 10, 0)),
        ("topdown0.bmp", |p| bmp_claiming(p, 0, -10)),
    ];
    for (name, make) in cases {
        let photo = dir.path().join(name);
        make(&photo);
        let o = dir.path().join("x.png");
        let out = brushwork(&[&"stylize", &photo, &"--style", &"towers", &"-o", &o]);
        assert_fails_cleanly(&out, 2, "it has no pixels");
        assert!(
            !stderr(&out).contains("too large"),
            "{name}: {}",
            stderr(&out)
        );
        assert!(!o.exists());
    }
}

#[test]
fn truncated_jpegs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut baseline = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut baseline, 90)
        .encode_image(&load(&data("content_333x250.png")))
        .unwrap();
    let progressive = std::fs::read(data("progressive_333x250.jpg")).unwrap();
    let sos = baseline
        .windows(2)
        .position(|w| w == [0xFF, 0xDA])
        .expect("a scan");
    let sos_len = usize::from(baseline[sos + 2]) * 256 + usize::from(baseline[sos + 3]);
    let cases = [
        ("half.jpg", baseline[..baseline.len() / 2].to_vec()),
        ("headers_only.jpg", baseline[..sos + 2 + sos_len].to_vec()),
        ("no_end_marker.jpg", baseline[..baseline.len() - 2].to_vec()),
        (
            "progressive_cut.jpg",
            progressive[..progressive.len() * 6 / 10].to_vec(),
        ),
    ];
    // The whole files are fine.
    for (name, whole) in [
        ("whole.jpg", &baseline),
        ("whole_progressive.jpg", &progressive),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, whole).unwrap();
        let out = brushwork(&[&"embed", &p, &"-o", &dir.path().join("ok.style.json")]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
    }
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let photo = data("content_333x250.png");
    let o = out_dir.join("x.png");
    for (name, bytes) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let runs: Vec<Vec<&dyn AsRef<std::ffi::OsStr>>> = vec![
            vec![&"stylize", &p, &"--style", &"towers", &"-o", &o],
            vec![&"stylize", &photo, &"--style", &p, &"-o", &o],
            vec![&"embed", &p, &"-o", &out_dir],
            vec![
                &"interpolate",
                &p,
                &"--from",
                &"towers",
                &"--to",
                &"bricks",
                &"-o",
                &o,
            ],
            vec![&"presets", &p, &"-o", &o],
        ];
        for args in runs {
            let out = brushwork(&args);
            assert_fails_cleanly(&out, 2, "truncated");
            assert!(stderr(&out).contains(name), "{}", stderr(&out));
            assert!(files_in(&out_dir).is_empty(), "{:?}", files_in(&out_dir));
        }
    }
}

/// A FIFO would block forever and /dev/zero would be read without end: both are refused at
/// once, as photo and as style file.
#[test]
fn what_is_not_a_regular_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("photo.png");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let zero = dir.path().join("zero.style.json");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let o = out_dir.join("x.png");
    let photo = data("content_333x250.png");

    let out = brushwork(&[&"stylize", &fifo, &"--style", &"towers", &"-o", &o]);
    assert_fails_cleanly(&out, 2, "is a FIFO, not a regular file");
    let out = brushwork(&[&"stylize", &photo, &"--style", &fifo, &"-o", &o]);
    assert_fails_cleanly(&out, 2, "is a FIFO, not a regular file");
    let out = brushwork(&[&"stylize", &photo, &"--style", &zero, &"-o", &o]);
    assert_fails_cleanly(&out, 2, "is a character device, not a regular file");
    // A style file larger than any style file is not read whole.
    let big = dir.path().join("big.style.json");
    std::fs::write(&big, vec![b' '; 1 << 20]).unwrap();
    let out = brushwork(&[&"stylize", &photo, &"--style", &big, &"-o", &o]);
    assert_fails_cleanly(&out, 2, "larger than the 64 KiB brushwork reads");
    // In a batch the FIFO fails alone and does not stall the rest.
    let out = brushwork(&[
        &"stylize", &fifo, &photo, &"--style", &"towers", &"-o", &out_dir,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(files_in(&out_dir), ["content_333x250.png"]);
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

/// Ctrl-C, `kill` and a closed terminal while a result is being written: the unfinished
/// temporary file is removed and the exit status is 128 + the signal's number.
/// `BRUSHWORK_TEST_HOLD_TEMP_MS` holds the finished temporary file before its rename.
#[test]
fn signals_during_a_write_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let photo = data("content_333x250.png");
    for (signal, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        for command in ["stylize", "embed", "interpolate", "presets"] {
            let out_dir = dir.path().join(format!("{command}-{signal}"));
            std::fs::create_dir(&out_dir).unwrap();
            let mut cmd = Command::new(bin());
            cmd.arg(command).env("BRUSHWORK_TEST_HOLD_TEMP_MS", "30000");
            match command {
                "stylize" => cmd
                    .arg(&photo)
                    .args(["--style", "towers", "-o"])
                    .arg(out_dir.join("x.png")),
                "embed" => cmd.arg(&photo).arg("-o").arg(out_dir.join("x.style.json")),
                "interpolate" => cmd
                    .arg(&photo)
                    .args([
                        "--from",
                        "towers",
                        "--to",
                        "bricks",
                        "--steps",
                        "2",
                        "--max-size",
                        "64",
                        "-o",
                    ])
                    .arg(out_dir.join("x.png")),
                _ => cmd
                    .arg(&photo)
                    .args(["--tile", "32", "-o"])
                    .arg(out_dir.join("x.png")),
            };
            let child = cmd.stderr(Stdio::piped()).spawn().unwrap();
            // Wait for the temporary file, then signal.
            let mut seen = false;
            for _ in 0..1200 {
                if files_in(&out_dir)
                    .iter()
                    .any(|f| f.starts_with(".brushwork-"))
                {
                    seen = true;
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            assert!(seen, "{command}: no temporary file appeared");
            let out = signal_and_wait(child, signal);
            assert_eq!(
                out.status.code(),
                Some(code),
                "{command} SIG{signal}: {}",
                stderr(&out)
            );
            assert!(
                stderr(&out).contains("removed 1 unfinished file"),
                "{}",
                stderr(&out)
            );
            assert!(
                files_in(&out_dir).is_empty(),
                "{command} SIG{signal} left {:?}",
                files_in(&out_dir)
            );
        }
    }
}

/// A signal during a run that made its output directory: the directory goes with the
/// unfinished file (a batch into a new directory, `embed -o DIR`).
#[test]
fn signals_remove_the_output_directories_the_run_made() {
    let dir = tempfile::tempdir().unwrap();
    let photo = data("content_333x250.png");
    for command in ["stylize", "embed"] {
        let new_dir = dir.path().join(format!("{command}-new/deeper"));
        let mut cmd = Command::new(bin());
        cmd.arg(command).env("BRUSHWORK_TEST_HOLD_TEMP_MS", "30000");
        match command {
            "stylize" => cmd
                .arg(&photo)
                .arg(data("content_384x384.png"))
                .args(["--style", "towers", "-o"])
                .arg(&new_dir),
            _ => cmd.arg(&photo).arg("-o").arg(&new_dir),
        };
        let child = cmd.stderr(Stdio::piped()).spawn().unwrap();
        let mut seen = false;
        for _ in 0..1200 {
            if new_dir.is_dir()
                && files_in(&new_dir)
                    .iter()
                    .any(|f| f.starts_with(".brushwork-"))
            {
                seen = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        assert!(seen, "{command}: no temporary file appeared");
        let out = signal_and_wait(child, "TERM");
        assert_eq!(out.status.code(), Some(143), "{}", stderr(&out));
        let top = dir.path().join(format!("{command}-new"));
        assert!(!top.exists(), "{command} left {}", top.display());
    }
}

/// Commands that print to standard output, each with what makes it print.
fn printing_commands() -> Vec<Vec<&'static str>> {
    vec![
        vec!["styles"],
        vec!["info"],
        vec![
            "live",
            "--source",
            "pattern",
            "--size",
            "32x32",
            "--frames",
            "2",
            "--headless",
            "--json",
            "--style",
            "towers",
        ],
    ]
}

/// `> /dev/full` and a full stderr are errors, not panics.
#[test]
fn a_full_stdout_or_stderr_is_an_error_not_a_panic() {
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    for args in printing_commands() {
        let out = Command::new(bin())
            .args(&args)
            .stdout(full())
            .output()
            .unwrap();
        assert_fails_cleanly(&out, 1, "cannot write to standard output");
    }
    // Help and version are output too.
    for flag in ["--help", "--version"] {
        let out = Command::new(bin())
            .arg(flag)
            .stdout(full())
            .output()
            .unwrap();
        assert_fails_cleanly(&out, 1, "cannot write to standard output");
    }
    // The error line itself cannot be written: still exit 2, no panic.
    let out = Command::new(bin())
        .args(["stylize", "missing.png", "--style", "towers", "-o", "x.png"])
        .stderr(full())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A reader that has gone (`brushwork info | head`): the command stops with exit 1 and says
/// nothing, never dies of SIGPIPE; a closed stderr does not stop the work.
#[test]
fn a_closed_pipe_ends_the_command_quietly_not_by_a_signal() {
    let closed = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer
    };
    let mut commands = printing_commands();
    commands.extend([vec!["--help"], vec!["--version"]]);
    for args in commands {
        let out = Command::new(bin())
            .args(&args)
            .stdout(closed())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {:?}; stderr: {}",
            out.status,
            stderr(&out)
        );
        assert_eq!(stderr(&out), "", "{args:?}");
    }
    // `stylize -v` talks on stderr: with nobody reading it, the picture is still made.
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.png");
    let out = Command::new(bin())
        .args([
            "stylize", "-v", "--device", "cpu", "--style", "towers", "-o",
        ])
        .arg(&target)
        .arg(data("content_333x250.png"))
        .stderr(closed())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{:?}", out.status);
    assert!(target.exists());
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
    // Under a tight limit a small photo either runs, or says memory ran short, without
    // OpenVINO's source locations (it cannot start its threads there).
    let photo = example("content/coast_guard_boat.jpg");
    let out = under_address_limit(
        400_000,
        dir.path(),
        &format!(
            "stylize {} --style towers --max-size 64 -o small.png --device openvino",
            photo.display()
        ),
    );
    if !out.status.success() {
        assert_fails_cleanly(&out, 2, "not enough memory to stylize this picture");
        assert!(!stderr(&out).contains(".cpp:"), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("--device cpu needs less"),
            "{}",
            stderr(&out)
        );
    }
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
