"""stylize gives the CLI's pixels (same engine: device="cpu" and --device cpu), 0/255 apart."""

import numpy as np
import pytest

import brushwork
from conftest import (
    BRICKS_JPG,
    CONTENT,
    PAINTING_JPG,
    PAINTING_PNG,
    assert_same,
    cli_stylize,
    read_png,
)


def test_a_painting(cli, stylizer, tmp_path):
    want = cli_stylize(cli, tmp_path, CONTENT, "--style", PAINTING_JPG)
    assert_same(stylizer.stylize(str(CONTENT), str(PAINTING_JPG)), want)
    assert_same(stylizer.stylize(read_png(CONTENT), PAINTING_JPG), want)


def test_a_painting_as_array_and_pil(cli, stylizer, tmp_path):
    from PIL import Image

    want = cli_stylize(cli, tmp_path, CONTENT, "--style", PAINTING_PNG)
    with Image.open(CONTENT) as photo, Image.open(PAINTING_PNG) as painting:
        assert_same(stylizer.stylize(photo, painting), want)
        assert_same(stylizer.stylize(np.asarray(photo), np.asarray(painting)), want)


def test_a_built_in_style_and_a_style_file(cli, stylizer, tmp_path):
    files = tmp_path / "styles"
    done = cli("embed", PAINTING_JPG, "-o", files, "--device", "cpu")
    assert done.returncode == 0, done.stderr
    style_file = files / "towers_1916_sq.style.json"
    want = cli_stylize(cli, tmp_path, CONTENT, "--style", style_file)
    photo = read_png(CONTENT)
    assert_same(stylizer.stylize(photo, style_file), want)
    assert_same(stylizer.stylize(photo, brushwork.Style.load(style_file)), want)
    want = cli_stylize(cli, tmp_path, CONTENT, "--style", "towers")
    assert_same(stylizer.stylize(photo, "towers"), want)
    assert_same(stylizer.stylize(photo, brushwork.Style.builtin("towers")), want)


def test_a_blend_with_weights(cli, stylizer, tmp_path):
    args = ["--style", "towers", "--style", BRICKS_JPG, "--weights", "0.7,0.3"]
    want = cli_stylize(cli, tmp_path, CONTENT, *args)
    photo = read_png(CONTENT)
    assert_same(stylizer.stylize(photo, ["towers", BRICKS_JPG], weights=[0.7, 0.3]), want)
    blend = brushwork.Style.blend(
        [brushwork.Style.builtin("towers"), stylizer.embed(BRICKS_JPG)], [0.7, 0.3]
    )
    assert_same(stylizer.stylize(photo, blend), want)


@pytest.mark.parametrize("strength", [0.0, 0.35, 1.0])
def test_strength(cli, stylizer, tmp_path, strength):
    want = cli_stylize(cli, tmp_path, CONTENT, "--style", "towers", "--strength", strength)
    assert_same(stylizer.stylize(read_png(CONTENT), "towers", strength=strength), want)


def test_preserve_color(cli, stylizer, tmp_path):
    want = cli_stylize(cli, tmp_path, CONTENT, "--style", "bricks", "--preserve-color")
    got = stylizer.stylize(read_png(CONTENT), "bricks", preserve_color=True)
    assert_same(got, want)


@pytest.mark.parametrize(
    "preset,args",
    [
        (7, ["--preset", "7"]),
        ("3:0.5,12:0.5", ["--preset", "3:0.5,12:0.5"]),
        ([3, 12], ["--preset", "3", "--preset", "12", "--weights", "1,3"]),
    ],
)
def test_presets(cli, stylizer, tmp_path, preset, args):
    weights = [1, 3] if "--weights" in args else None
    want = cli_stylize(cli, tmp_path, CONTENT, *args, "--strength", "0.8")
    got = stylizer.stylize(read_png(CONTENT), preset=preset, weights=weights, strength=0.8)
    assert_same(got, want)


def rgba_picture(tmp_path):
    """The content with an alpha ramp (transparent left, opaque right), as a PNG."""
    from PIL import Image

    rgb = read_png(CONTENT)
    h, w, _ = rgb.shape
    alpha = np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))
    rgba = np.dstack([rgb, alpha])
    path = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(path)
    return rgba, path


def test_rgba_is_flattened_onto_white_as_the_cli_does(cli, stylizer, tmp_path):
    from PIL import Image

    rgba, path = rgba_picture(tmp_path)
    want = cli_stylize(cli, tmp_path, path, "--style", "towers")
    assert_same(stylizer.stylize(rgba, "towers"), want)
    with Image.open(path) as im:
        assert im.mode == "RGBA"
        assert_same(stylizer.stylize(im, "towers"), want)
    assert_same(stylizer.stylize(path, "towers"), want)


def test_arrays_in_any_layout_and_the_result(stylizer):
    photo = read_png(CONTENT)
    want = stylizer.stylize(photo, "towers")
    # A strided view and a Fortran-ordered copy give the same pixels.
    padded = np.zeros((photo.shape[0], photo.shape[1], 4), np.uint8)
    padded[..., :3] = photo
    assert_same(stylizer.stylize(padded[..., :3], "towers"), want)
    assert_same(stylizer.stylize(np.asfortranarray(photo), "towers"), want)
    assert want.shape == photo.shape and want.dtype == np.uint8
    assert want.flags.writeable and want.flags.c_contiguous
    timing = stylizer.last_timing
    assert timing is not None and 0 < timing.library_seconds <= timing.seconds


def test_grayscale_and_palette_pil_images_are_converted(stylizer):
    from PIL import Image

    with Image.open(CONTENT) as im:
        gray = im.convert("L")
    want = stylizer.stylize(np.asarray(gray.convert("RGB")), "towers")
    assert_same(stylizer.stylize(gray, "towers"), want)
