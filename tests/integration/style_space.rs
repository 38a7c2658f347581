//! Style space: embedding files, built-in styles, blends, strength, colour, interpolation. What
//! is refused, and how it is said, is in [`crate::style_space_errors`].

use std::path::Path;

use image::RgbImage;

use crate::util::*;

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn read_embedding(path: &Path) -> Vec<f32> {
    let v = read_json(path);
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

/// A style file's name is its label: the file's own name by default, or `embed --name` (but
/// not the painting's name, which older files recorded by default). Any `.json` file is read
/// as a style file (a painting is never JSON).
#[test]
fn a_style_file_is_labelled_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let painting = example("styles/bricks_sq.jpg");
    let named = dir.path().join("b1.style.json");
    let plain = dir.path().join("mine.style.json");
    // What `embed` recorded before it named a style after its file: the painting's name.
    let old = dir.path().join("v1.style.json");
    for (file, name) in [
        (&named, Some("My Bricks")),
        (&plain, None),
        (&old, Some("bricks_sq")),
    ] {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"embed", &painting, &"-o", file];
        if let Some(name) = &name {
            args.extend([&"--name" as &dyn AsRef<std::ffi::OsStr>, name]);
        }
        let out = brushwork(&args);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(read_json(&plain)["name"], "mine");
    let renamed = dir.path().join("Renamed.JSON");
    std::fs::copy(&named, &renamed).unwrap();
    let photo = data("content_333x250.png");
    for (style, label) in [
        (&named, "My Bricks"),
        (&plain, "mine"),
        (&renamed, "My Bricks"),
        (&old, "v1"),
    ] {
        let out = brushwork(&[
            &"stylize",
            &photo,
            &"-s",
            style,
            &"-v",
            &"--device",
            &"cpu",
            &"-o",
            &dir.path().join("x.png"),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!("style {label} ready")),
            "{}",
            stderr(&out)
        );
    }
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
        let v = read_json(&f);
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
        let v = read_json(&builtin);
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
        &"--device",
        &"cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let a = stylize_to(
        dir.path(),
        "a.png",
        &content,
        &[
            "--style",
            example("styles/towers_1916_sq.jpg").to_str().unwrap(),
            "--device",
            "cpu",
        ],
    );
    let b = stylize_to(
        dir.path(),
        "b.png",
        &content,
        &["--style", "zigzag-colorful", "--device", "cpu"],
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
