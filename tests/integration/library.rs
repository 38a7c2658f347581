//! The library used directly, as a program embedding brushwork would: the same pictures as the
//! command gives, and a `Stylizer` that stays right across sizes, styles and looks.

use image::RgbImage;

use brushwork::look::{Look, Paint, Palette};
use brushwork::{Precision, Stylizer, StylizerOptions};

use crate::util::*;

#[test]
fn one_stylizer_switching_sizes_and_styles_gives_what_fresh_ones_give() {
    // The transformer binds its tensors per size and its embedding per style: changing either
    // between calls must rebind, never reuse stale ones.
    let g = golden();
    let photos: Vec<RgbImage> = g.cases.iter().map(|c| load(&data(&c.content))).collect();
    for precision in [Precision::Int8, Precision::Fp32] {
        let options = StylizerOptions {
            device: brushwork::Device::Cpu,
            precision: Some(precision),
            ..Default::default()
        };
        let mut shared = Stylizer::new(options.clone()).unwrap();
        let styles = [
            shared.embed(&load(&data(&g.style))).unwrap(),
            shared
                .embed(&load(&example("styles/bricks_sq.jpg")))
                .unwrap(),
        ];
        let order = [(0, 0), (1, 1), (0, 1), (2, 0), (0, 0), (1, 0)];
        for (photo, style) in order {
            let got = shared.stylize(&photos[photo], &styles[style]).unwrap();
            let mut fresh = Stylizer::new(options.clone()).unwrap();
            let want = fresh.stylize(&photos[photo], &styles[style]).unwrap();
            assert!(
                got == want,
                "{precision}: photo {photo} with style {style} differs after other calls"
            );
        }
    }
}

#[test]
fn library_embedding_matches_python() {
    let g = golden();
    let mut stylizer = brushwork::Stylizer::new(Default::default()).unwrap();
    let style = stylizer.embed(&load(&data(&g.style))).unwrap();
    let worst = style
        .as_slice()
        .iter()
        .zip(&g.style_embedding)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert_eq!(g.style_embedding.len(), 100);
    assert!(worst <= 1e-4, "embedding differs by {worst}");
}

/// `paint_into` with a look built in the library gives the command's picture for the same
/// options.
#[test]
fn a_look_painted_by_the_library_equals_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let photo = data("content_333x250.png");
    let want = stylize_to(
        dir.path(),
        "cli.png",
        &photo,
        &[
            "--style",
            "towers",
            "--style",
            "bricks",
            "--weights",
            "3,1",
            "--strength",
            "0.6",
            "--preserve-color",
            "--device",
            "cpu",
        ],
    );
    let mut stylizer = Stylizer::new(StylizerOptions {
        device: brushwork::Device::Cpu,
        ..Default::default()
    })
    .unwrap();
    let mut builtin = |name: &str| {
        brushwork::style_source::StyleSource::parse(name)
            .unwrap()
            .resolve(&mut stylizer)
            .unwrap()
    };
    let palette = Palette::Styles(vec![builtin("towers"), builtin("bricks")]);
    let look = Look::new(palette.blend(&[3.0, 1.0]).unwrap())
        .with_strength(0.6)
        .unwrap()
        .with_preserve_color(true);
    assert!(matches!(look.paint, Paint::Style(_)));
    let mut out = RgbImage::new(1, 1);
    stylizer
        .paint_into(&load(&photo), &look, None, &mut out)
        .unwrap();
    assert_eq!(out, want);
}

/// A program with its own memory budget: one stylizer tiles each picture its budget asks for,
/// reports how it ran, and gives what an untiled stylizer gives, also for a strip thinner than
/// one window (2400x80).
#[test]
fn a_stylizer_with_a_budget_tiles_what_exceeds_it() {
    let small = load(&data("content_333x250.png"));
    let resized =
        |w, h| image::imageops::resize(&small, w, h, image::imageops::FilterType::Triangle);
    let (photo, strip) = (resized(666, 500), resized(2400, 80));
    let mut whole = Stylizer::new(StylizerOptions {
        device: brushwork::Device::Cpu,
        ..Default::default()
    })
    .unwrap();
    let style = whole.embed(&load(&data(&golden().style))).unwrap();
    let mut tiled = Stylizer::new(StylizerOptions {
        device: brushwork::Device::Cpu,
        // Under both pictures' untiled estimates (146 and 111 MiB), over their tiled ones (79
        // and 75 MiB).
        memory_budget: Some(100 << 20),
        tile_side: 64,
        ..Default::default()
    })
    .unwrap();
    for picture in [&photo, &strip, &photo] {
        let want = whole.stylize(picture, &style).unwrap();
        assert!(matches!(
            whole.last_tiling(),
            Some(brushwork::Tiling::Whole { .. })
        ));
        let got = tiled.stylize(picture, &style).unwrap();
        match tiled.last_tiling() {
            Some(brushwork::Tiling::Tiled { tiles, .. }) => {
                let (w, h) = picture.dimensions();
                let quarter = |n: u32| n.div_ceil(4).div_ceil(16) as usize;
                assert_eq!(*tiles, quarter(w) * quarter(h), "{w}x{h}");
            }
            other => panic!("{:?} ran {other:?}", picture.dimensions()),
        }
        let diff = mean_abs_diff_per_channel(&got, &want);
        assert!(
            diff.iter().all(|&d| d < 0.25),
            "{:?}: {diff:?}",
            picture.dimensions()
        );
    }
}

/// OpenVINO compiles per frame size and keeps the last few: a stylizer that goes through more
/// sizes than it keeps, back to an evicted one, and changes style at a size it has compiled,
/// gives what ONNX Runtime gives for every picture.
#[test]
fn openvino_across_sizes_and_styles_matches_onnx_runtime() {
    let photo = load(&data("content_333x250.png"));
    let options = |device| StylizerOptions {
        device,
        precision: Some(Precision::Fp32),
        ..Default::default()
    };
    let mut ov = Stylizer::new(options(brushwork::Device::OpenVino)).unwrap();
    let mut ort = Stylizer::new(options(brushwork::Device::Cpu)).unwrap();
    let styles = [
        ort.embed(&load(&data(&golden().style))).unwrap(),
        ort.embed(&load(&example("styles/bricks_sq.jpg"))).unwrap(),
    ];
    let sizes = [
        (64, 48),
        (80, 64),
        (96, 72),
        (112, 80),
        (128, 96),
        (64, 48),
        (96, 72),
    ];
    for (i, &(w, h)) in sizes.iter().enumerate() {
        let picture = image::imageops::resize(&photo, w, h, image::imageops::FilterType::Triangle);
        for style in [i % 2, (i + 1) % 2] {
            let got = ov.stylize(&picture, &styles[style]).unwrap();
            let want = ort.stylize(&picture, &styles[style]).unwrap();
            let diff = mean_abs_diff_per_channel(&got, &want);
            assert!(
                diff.iter().all(|&d| d < 1.0),
                "{w}x{h}, style {style} (step {i}): {diff:?}"
            );
        }
    }
}
