//! Pictures over the memory budget run in tiles with the whole picture's statistics: the same
//! picture as untiled, no seams, with every part of the style language, and clear refusals.

use std::path::{Path, PathBuf};
use std::process::Command;

use image::RgbImage;

use crate::util::*;

/// A 1001x747 crop of an example photo: not a multiple of 4, so the reflect padding at the
/// right and bottom edges is part of every tiled run.
fn odd_photo(dir: &Path) -> PathBuf {
    let photo = load(&example("content/picabo_lava.jpg"));
    let big = image::imageops::resize(&photo, 1001, 751, image::imageops::FilterType::Triangle);
    let crop = image::imageops::crop_imm(&big, 0, 2, 1001, 747).to_image();
    let path = dir.join("odd.png");
    crop.save(&path).unwrap();
    path
}

/// Runs `stylize` and returns the picture and the -v lines.
fn stylize_verbose(dir: &Path, name: &str, content: &Path, extra: &[&str]) -> (RgbImage, String) {
    let out_path = dir.join(name);
    let out = Command::new(bin())
        .arg("stylize")
        .arg(content)
        .arg("-o")
        .arg(&out_path)
        .arg("-v")
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
    (load(&out_path), stderr(&out))
}

/// The odd photo stylized with `look` untiled, then with `look` and `tiled` (a budget and a
/// tile size that make it run in tiles): the two pictures and the tiled run's -v lines.
fn whole_and_tiled(look: &[&str], tiled: &[&str]) -> (RgbImage, RgbImage, String) {
    let dir = tempfile::tempdir().unwrap();
    let photo = odd_photo(dir.path());
    let (whole, log) = stylize_verbose(dir.path(), "whole.png", &photo, look);
    assert!(log.contains("1001x747: untiled"), "{log}");
    let args: Vec<&str> = look.iter().chain(tiled).copied().collect();
    let (tiles, log) = stylize_verbose(dir.path(), "tiled.png", &photo, &args);
    (whole, tiles, log)
}

/// Mean absolute difference over all channels, and over the pixels within 4 px of a tile
/// border (where a seam would show), in 8-bit units; and the largest difference.
fn differences(a: &RgbImage, b: &RgbImage, tile: u32) -> (f64, f64, u8) {
    assert_eq!(a.dimensions(), b.dimensions());
    // Tile borders lie at multiples of `tile` inside the picture.
    let near_border = |v: u32, n: u32| {
        let m = v % tile;
        (m < 4 && v >= tile) || (m >= tile - 4 && v + (tile - m) < n)
    };
    let (w, h) = a.dimensions();
    let (mut all, mut n_all, mut border, mut n_border, mut max) = (0f64, 0f64, 0f64, 0f64, 0u8);
    for (x, y, p) in a.enumerate_pixels() {
        let q = b.get_pixel(x, y);
        let on_border = near_border(x, w) || near_border(y, h);
        for c in 0..3 {
            let d = p[c].abs_diff(q[c]);
            max = max.max(d);
            all += f64::from(d);
            n_all += 1.0;
            if on_border {
                border += f64::from(d);
                n_border += 1.0;
            }
        }
    }
    (all / n_all, border / n_border, max)
}

/// `what` names the two pictures: "fp32, tiled vs untiled".
fn assert_same_picture(tiled: &RgbImage, whole: &RgbImage, tile: u32, what: &str) {
    let (mean, border, max) = differences(tiled, whole, tile);
    eprintln!(
        "{what}: mean {mean:.4}/255, within 4 px of a tile border {border:.4}/255, max {max}"
    );
    // Measured 0.04/255 (the fp16 rounding of the activations kept between segments); naive
    // tiles, each with its own statistics, differ by several /255.
    assert!(mean < 0.25, "{what}: mean difference {mean}");
    assert!(max <= 3, "{what}: max difference {max}");
    assert!(
        border < 1.5 * mean + 0.05,
        "{what}: a seam: {border} at tile borders vs {mean}"
    );
}

#[test]
fn a_picture_over_the_budget_runs_in_tiles_and_gives_the_untiled_picture() {
    let budget = ["--memory-budget", "200MiB", "--tile-size", "128"];
    let look = ["-s", "towers", "--device", "cpu"];
    let (whole, tiled, log) = whole_and_tiled(&look, &budget);
    assert!(
        log.contains("1001x747: in 48 tiles of 128x128 px (fp32 segments"),
        "{log}"
    );
    assert_same_picture(&tiled, &whole, 128, "fp32, tiled vs untiled");
}

#[test]
fn tiles_keep_blends_strength_and_preserved_colour() {
    let look = [
        "-s",
        "towers",
        "-s",
        "bricks",
        "--weights",
        "0.7,0.3",
        "--strength",
        "0.6",
        "--preserve-color",
        "--device",
        "cpu",
    ];
    let budget = ["--memory-budget", "200MiB", "--tile-size", "192"];
    let (whole, tiled, log) = whole_and_tiled(&look, &budget);
    assert!(log.contains("tiles of 192x192 px"), "{log}");
    assert_same_picture(&tiled, &whole, 192, "blend, tiled vs untiled");
}

#[test]
fn fp16_runs_in_tiles_of_its_own_segments() {
    let look = ["-s", "towers", "--device", "cpu", "--precision", "fp16"];
    let budget = ["--memory-budget", "200MiB", "--tile-size", "192"];
    let (whole, tiled, log) = whole_and_tiled(&look, &budget);
    assert!(log.contains("(fp16 segments"), "{log}");
    assert_same_picture(&tiled, &whole, 192, "fp16, tiled vs untiled");
}

/// The process really stays small: under an address-space limit that an untiled 3000x3000
/// run cannot live with (it maps about 3.4 GB; `hardening` has it fail cleanly under a lower
/// one), the default budget tiles it and it succeeds (about 1.55 GB mapped, of which 260-400 MB
/// resident: thread stacks and allocator arenas are mapped, not used).
#[test]
fn a_picture_too_large_for_memory_untiled_succeeds_in_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.png");
    RgbImage::from_fn(3000, 3000, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x ^ y) % 256) as u8])
    })
    .save(&big)
    .unwrap();
    let limited = |args: &str| under_address_limit(2_500_000, dir.path(), args);
    let out = limited("stylize big.png --style towers --device cpu -o tiled.png -v");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("3000x3000: in 144 tiles of 256x256 px"),
        "{}",
        stderr(&out)
    );
    let tiled = load(&dir.path().join("tiled.png"));
    assert_eq!(tiled.dimensions(), (3000, 3000));
    // A picture, not a blank: the pattern's structure comes through the style.
    let first = tiled.get_pixel(0, 0);
    let differing = tiled.pixels().filter(|p| p != &first).count();
    assert!(
        differing > 8_000_000,
        "only {differing} pixels differ from the corner"
    );
}

#[test]
fn budgets_and_tile_sizes_are_checked() {
    let photo = data("content_333x250.png");
    let bad = |extra: &[&str], needle: &str| {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(bin())
            .arg("stylize")
            .arg(&photo)
            .args(["-s", "towers", "-o"])
            .arg(dir.path().join("x.png"))
            .args(extra)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(
            err.contains(needle),
            "{extra:?} should mention {needle:?}: {err}"
        );
        assert!(!dir.path().join("x.png").exists());
    };
    bad(&["--memory-budget", "512"], "has no unit");
    bad(&["--memory-budget", "1.5XB"], "unknown unit");
    bad(&["--memory-budget", "lots"], "is not a size");
    bad(&["--tile-size", "102"], "multiple of 4");
    bad(&["--tile-size", "32"], "from 64");
}

/// A budget given on the command line is kept: a picture that cannot fit it, even in tiles,
/// is refused before anything runs, and the int8 network, which cannot run in tiles, is
/// refused over a budget it would exceed.
#[test]
fn a_budget_that_cannot_be_kept_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let photo = odd_photo(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let run = |extra: &[&str]| {
        Command::new(bin())
            .arg("stylize")
            .arg(&photo)
            .args(["-s", "towers", "-o"])
            .arg(out.join("x.png"))
            .args(extra)
            .output()
            .unwrap()
    };
    assert_user_error(
        &run(&["--memory-budget", "100MiB"]),
        "even in tiles of 256 px; the memory budget is 100 MiB: raise --memory-budget, use a \
         smaller --tile-size or --max-size",
        &out,
    );
    // Already at the smallest tiles: no advice to make them smaller (a 12 MP picture: its
    // pixels alone leave too little of the smallest budget).
    let large = dir.path().join("large.png");
    RgbImage::from_fn(4000, 3000, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, 90])
    })
    .save(&large)
    .unwrap();
    let at_least = Command::new(bin())
        .arg("stylize")
        .arg(&large)
        .args([
            "-s",
            "towers",
            "--memory-budget",
            "96MiB",
            "--tile-size",
            "64",
            "-o",
        ])
        .arg(out.join("x.png"))
        .output()
        .unwrap();
    assert_user_error(
        &at_least,
        "even in tiles of 64 px; the memory budget is 96 MiB: raise --memory-budget or use --max-size",
        &out,
    );
    assert_user_error(
        &run(&[
            "--memory-budget",
            "200MiB",
            "--device",
            "cpu",
            "--precision",
            "int8",
        ]),
        "the int8 network cannot run in tiles",
        &out,
    );
}

/// On OpenVINO the segments run there too (compiled once per window shape), in its precision.
#[test]
fn openvino_runs_the_segments_too() {
    let dir = tempfile::tempdir().unwrap();
    let photo = odd_photo(dir.path());
    let cpu = ["-s", "towers", "--device", "cpu"];
    let (whole, _) = stylize_verbose(dir.path(), "whole.png", &photo, &cpu);
    let ov = [
        "-s",
        "towers",
        "--device",
        "openvino",
        "--precision",
        "fp32",
        "--memory-budget",
        "200MiB",
        "--tile-size",
        "128",
    ];
    let (tiled, log) = stylize_verbose(dir.path(), "tiled.png", &photo, &ov);
    assert!(log.contains("OpenVINO compiled segment contract"), "{log}");
    // The segments of the trunk that OpenVINO runs untiled, fed the norms' scales and shifts.
    assert!(
        log.contains("1001x747: in 48 tiles of 128x128 px (trunk segments"),
        "{log}"
    );
    assert_same_picture(&tiled, &whole, 128, "openvino fp32, tiled vs untiled");
    // A models directory without the trunk's segments runs the fp32 graph's.
    let models = tempfile::tempdir().unwrap();
    for f in [
        "style_predict.onnx",
        "style_transform.onnx",
        "style_transform_fp32.onnx",
        "style_transform_trunk.onnx",
        "norm_params.bin",
        "tiled_fp32.bundle",
    ] {
        std::fs::copy(root().join("models").join(f), models.path().join(f)).unwrap();
    }
    let models_arg = models.path().to_str().unwrap();
    let args: Vec<&str> = ov.iter().copied().chain(["--models", models_arg]).collect();
    let (fp32_segments, log) = stylize_verbose(dir.path(), "tiled_fp32.png", &photo, &args);
    assert!(log.contains("(fp32 segments"), "{log}");
    assert_same_picture(
        &fp32_segments,
        &whole,
        128,
        "openvino, fp32 segments vs untiled",
    );
    // Trunk segments that disagree with norm_params.bin (another network's), or with their own
    // header, are refused in one line, exit 2.
    let bundle = std::fs::read(root().join("models/tiled_trunk.bundle")).unwrap();
    let len = u32::from_le_bytes(bundle[8..12].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bundle[12..12 + len]).unwrap();
    let refused = |edit: &dyn Fn(&mut serde_json::Value), needle: &str| {
        let mut h = header.clone();
        edit(&mut h);
        let json = serde_json::to_vec(&h).unwrap();
        let mut edited = bundle[..8].to_vec();
        edited.extend((json.len() as u32).to_le_bytes());
        edited.extend(json);
        edited.extend(&bundle[12 + len..]);
        std::fs::write(models.path().join("tiled_trunk.bundle"), edited).unwrap();
        stylize_fails(&photo, &"towers", "refused.png", &args, needle);
    };
    refused(
        &|h| h["norm_params"][0]["channels"] = 7.into(),
        "with 7 channels, where norm_params.bin gives",
    );
    // A segment said to take a parameter its graph has no input for.
    let segment = &header["segments"]["block1.conv2"]["params"];
    let other = header["norm_params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .find(|n| !segment.as_array().unwrap().iter().any(|t| t == n))
        .unwrap()
        .to_string();
    refused(
        &|h| h["segments"]["block1.conv2"]["params"][1] = other.as_str().into(),
        &format!(
            "tiled_trunk.bundle#block1.conv2 is not a usable tiled transformation model: \
         it has no input named '{other}'"
        ),
    );
    if !crate::devices::cpu_has_bf16() {
        skip_visibly(
            "openvino_runs_the_segments_too (bf16)",
            "this CPU has neither AVX-512 BF16 nor AMX",
        );
        return;
    }
    let bf16 = [
        "-s",
        "towers",
        "--device",
        "openvino",
        "--precision",
        "bf16",
    ];
    let fp32 = whole;
    let (whole, _) = stylize_verbose(dir.path(), "whole16.png", &photo, &bf16);
    let in_tiles = |side: &'static str, name: &str| {
        let args: Vec<&str> = bf16
            .iter()
            .copied()
            .chain(["--memory-budget", "200MiB", "--tile-size", side])
            .collect();
        let (picture, log) = stylize_verbose(dir.path(), name, &photo, &args);
        assert!(log.contains("1001x747: in "), "{log}");
        assert!(log.contains("(trunk segments"), "{log}");
        picture
    };
    let tiled = in_tiles("128", "tiled16.png");
    // Tiling itself adds nothing in bf16 either: 48 tiles of 128 px and 12 of 256 px run the
    // same segments over different windows, and give the same picture (measured identical
    // on AMX kernels and on the AVX-512 BF16 ones of AMD Zen 4, which `.ci/run` also runs),
    // with no seam at either's borders.
    let coarser = in_tiles("256", "tiled16_256.png");
    assert_same_picture(&tiled, &coarser, 128, "openvino bf16, 48 tiles vs 12");
    let (mean, border, max) = differences(&tiled, &whole, 128);
    let (tiled_off, ..) = differences(&tiled, &fp32, 128);
    let (whole_off, ..) = differences(&whole, &fp32, 128);
    eprintln!(
        "openvino bf16: tiled vs untiled: mean {mean:.4}/255, border {border:.4}/255, max {max}; \
         from fp32: tiled {tiled_off:.4}, untiled {whole_off:.4}"
    );
    // Untiled, bf16 runs the network's trunk, compiled apart from its segments, and OpenVINO
    // rounds to bf16 in other places in each compilation (measured 0.43/255 apart, max 5, on
    // AMX and on AVX-512 BF16 kernels; the same graph compiled for a fixed and for any size is
    // 0.60 apart, and the untiled picture on those two kernel families 0.31 apart:
    // `python-export/bf16_tiling_study.py`). What holds: tiled is as close to fp32
    // as untiled (measured closer: 0.41 against 0.52), no seam shows, and naive tiles (each
    // with its own statistics) would be several /255 off.
    assert!(tiled_off <= whole_off + 0.05, "{tiled_off} vs {whole_off}");
    assert!(mean < 0.6 && border < 1.5 * mean + 0.1, "{mean} {border}");
}

/// The presets' network has norms of its own (18, the first at full resolution): it runs in
/// tiles from its own segments.
#[test]
fn presets_run_in_tiles_of_their_own() {
    let look = ["--preset", "3:0.5,12:0.5", "--device", "cpu"];
    let budget = ["--memory-budget", "300MiB", "--tile-size", "128"];
    let (whole, tiled, log) = whole_and_tiled(&look, &budget);
    assert!(
        log.contains("1001x747: in 48 tiles of 128x128 px (multistyle segments"),
        "{log}"
    );
    assert_same_picture(&tiled, &whole, 128, "presets, tiled vs untiled");
}
