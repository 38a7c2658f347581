//! Stylizing photos: golden outputs, formats, and the bad-input cases of `stylize`.

use std::path::Path;

use image::{Rgb, RgbImage, Rgba, RgbaImage};

use crate::util::*;

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

/// A directory given as the photo is named as the problem (not the output), and an output
/// without an extension says how to name a file or a directory.
#[test]
fn a_directory_as_the_photo_and_an_output_without_extension() {
    let photos = tempfile::tempdir().unwrap();
    stylize_fails(
        photos.path(),
        &"towers",
        "painted",
        &[],
        "is a directory; give the photos in it (e.g. ",
    );
    stylize_fails(
        &example("content/golden_gate_sq.jpg"),
        &"towers",
        "painted",
        &[],
        "painted: no extension to say the output's format; name it .png, .jpg, .webp, .bmp or .tiff, or end it with / to write into a directory",
    );
    // A name that is all extension is a name without one, and no format.
    stylize_fails(
        &example("content/golden_gate_sq.jpg"),
        &"towers",
        ".png",
        &[],
        ".png: unknown output format",
    );
}

/// --quality is JPEG's: given for other formats it says so, and a JPEG output takes it.
#[test]
fn quality_is_for_jpeg_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let photo = data("content_333x250.png");
    let run = |name: &str, quality: &str| {
        let out = brushwork(&[
            &"stylize",
            &photo,
            &"-s",
            &"towers",
            &"--device",
            &"cpu",
            &"--quality",
            &quality,
            &"-o",
            &dir.path().join(name),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        stderr(&out)
    };
    assert!(run("x.png", "50").contains("--quality applies to JPEG outputs only"));
    assert_eq!(run("low.jpg", "10"), "");
    assert_eq!(run("high.jpg", "100"), "");
    let size = |name: &str| std::fs::metadata(dir.path().join(name)).unwrap().len();
    assert!(
        size("low.jpg") * 2 < size("high.jpg"),
        "{} {}",
        size("low.jpg"),
        size("high.jpg")
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
        &"--device",
        &"cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(load(&p), load(&data(&case.expected_float)));
}
