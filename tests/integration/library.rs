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
        ],
    );
    let mut stylizer = Stylizer::new(StylizerOptions::default()).unwrap();
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
