"""Bad input raises InputError (a ValueError), the machine's problems EngineError (a
RuntimeError), with the CLI's messages (named as the keywords are: `weights`, not
`--weights`)."""

import numpy as np
import pytest

import brushwork
from conftest import CONTENT, cli_error, read_png


def test_the_classes():
    assert issubclass(brushwork.InputError, brushwork.Error)
    assert issubclass(brushwork.InputError, ValueError)
    assert issubclass(brushwork.EngineError, brushwork.Error)
    assert issubclass(brushwork.EngineError, RuntimeError)


def py_error(call):
    with pytest.raises(brushwork.InputError) as caught:
        call()
    return str(caught.value)


def test_a_picture_too_small(cli, stylizer, tmp_path):
    from PIL import Image

    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((8, 12, 3), np.uint8)).save(small)
    done = cli("stylize", small, "--style", "towers", "-o", tmp_path / "o.png", "--device", "cpu")
    assert done.returncode == 2
    assert py_error(lambda: stylizer.stylize(small, "towers")) == cli_error(done)
    message = py_error(lambda: stylizer.stylize(np.zeros((8, 12, 3), np.uint8), "towers"))
    assert message == "image is 12x8; both sides must be at least 16 px"
    assert cli_error(done) == f"{small}: {message}"


def test_an_unknown_built_in_style(cli, stylizer, tmp_path):
    done = cli("stylize", CONTENT, "--style", "no-such-style", "-o", tmp_path / "o.png")
    assert done.returncode == 2
    message = py_error(lambda: stylizer.stylize(read_png(CONTENT), "no-such-style"))
    assert message == cli_error(done)
    assert message.startswith("unknown style 'no-such-style'")
    with pytest.raises(brushwork.InputError, match="unknown style 'nope'"):
        brushwork.Style.builtin("nope")


def test_weights_of_the_wrong_count(cli, stylizer, tmp_path):
    done = cli(
        "stylize", CONTENT, "--style", "towers", "--style", "bricks", "--weights", "1",
        "-o", tmp_path / "o.png",
    )
    assert done.returncode == 2
    message = py_error(
        lambda: stylizer.stylize(read_png(CONTENT), ["towers", "bricks"], weights=[1])
    )
    assert message == "weights: 2 styles but 1 weights; give one weight per style"
    assert cli_error(done) == "--weights: 2 styles but 1 weights; give one weight per --style"
    for bad in ([0, 0], [1, -1]):
        problem = py_error(
            lambda: stylizer.stylize(read_png(CONTENT), ["towers", "bricks"], weights=bad)
        )
        done = cli(
            "stylize", CONTENT, "--style", "towers", "--style", "bricks",
            "--weights", ",".join(map(str, bad)), "-o", tmp_path / "o.png",
        )
        assert done.returncode == 2
        assert cli_error(done) == "-" * 2 + problem


def test_a_strength_of_2(cli, stylizer, tmp_path):
    done = cli("stylize", CONTENT, "--style", "towers", "--strength", "2", "-o", tmp_path / "o.png")
    assert done.returncode == 2
    message = py_error(lambda: stylizer.stylize(read_png(CONTENT), "towers", strength=2))
    assert message == "strength: 2 is outside 0..1"
    # clap names the flag its own way: "invalid value '2' for '--strength <S>': PROBLEM".
    assert cli_error(done).endswith(": 2 is outside 0..1")
    assert py_error(lambda: stylizer.stylize(read_png(CONTENT), "towers", strength="x")) == (
        "strength: 'x' is not a number"
    )


def test_a_preset_out_of_range(cli, stylizer, tmp_path):
    done = cli("stylize", CONTENT, "--preset", "26", "-o", tmp_path / "o.png")
    assert done.returncode == 2
    assert py_error(lambda: stylizer.stylize(read_png(CONTENT), preset=26)) == cli_error(done)
    done = cli("stylize", CONTENT, "--preset", "3:x", "-o", tmp_path / "o.png")
    assert py_error(lambda: stylizer.stylize(read_png(CONTENT), preset="3:x")) == cli_error(done)


def test_missing_files(cli, stylizer, tmp_path):
    missing = tmp_path / "missing.png"
    done = cli("stylize", missing, "--style", "towers", "-o", tmp_path / "o.png")
    assert done.returncode == 2
    assert py_error(lambda: stylizer.stylize(missing, "towers")) == cli_error(done)
    assert cli_error(done) == f"{missing}: no such file"

    painting = tmp_path / "missing.jpg"
    done = cli("stylize", CONTENT, "--style", painting, "-o", tmp_path / "o.png")
    assert done.returncode == 2
    assert py_error(lambda: stylizer.stylize(read_png(CONTENT), painting)) == cli_error(done)

    style_file = tmp_path / "missing.style.json"
    done = cli("stylize", CONTENT, "--style", style_file, "-o", tmp_path / "o.png")
    assert done.returncode == 2
    assert py_error(lambda: brushwork.Style.load(style_file)) == cli_error(done)
    assert py_error(lambda: stylizer.stylize(read_png(CONTENT), style_file)) == cli_error(done)


def test_a_malformed_style_file(cli, stylizer, tmp_path):
    bad = tmp_path / "bad.style.json"
    bad.write_text('{"format": "brushwork.style", "version": 1, "embedding": [1, 2]}')
    done = cli("stylize", CONTENT, "--style", bad, "-o", tmp_path / "o.png")
    assert done.returncode == 2
    assert py_error(lambda: brushwork.Style.load(bad)) == cli_error(done)


def test_what_only_python_can_get_wrong(stylizer):
    photo = read_png(CONTENT)
    assert "uint8" in py_error(lambda: stylizer.stylize(photo.astype(np.float32), "towers"))
    assert "shape" in py_error(lambda: stylizer.stylize(photo[..., 0], "towers"))
    assert "not a picture" in py_error(lambda: stylizer.stylize([1, 2, 3], "towers"))
    assert "not both" in py_error(lambda: stylizer.stylize(photo, "towers", preset=3))
    assert "no style" in py_error(lambda: stylizer.stylize(photo))
    assert "at most 9" in py_error(lambda: stylizer.stylize(photo, ["towers"] * 10))
    assert "a style name" in py_error(lambda: stylizer.embed(photo, name="a/b"))
    assert "100 numbers" in py_error(lambda: brushwork.Style(np.zeros(99)))


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        (dict(device="gpu"), "unknown device 'gpu'"),
        (dict(precision="fp8"), "unknown precision 'fp8'"),
        (dict(memory_budget="1"), "has no unit"),
        (dict(memory_budget="10MiB"), "give at least 96MiB"),
        (dict(tile_size=250), "a multiple of 4"),
        (dict(workers=0), "workers: 0 is outside 1..1024"),
        (dict(threads=100000), "threads: 100000 is outside 1..1024"),
    ],
)
def test_bad_options(kwargs, fragment):
    assert fragment in py_error(lambda: brushwork.Stylizer(**kwargs))


def test_an_engine_that_cannot_start_is_an_engine_error(cli, tmp_path):
    # This package is built without the cuda feature: the device cannot start.
    with pytest.raises(brushwork.EngineError) as caught:
        brushwork.Stylizer(device="cuda")
    message = str(caught.value)
    assert message.startswith("cannot start the stylizer: ")
    done = cli("stylize", CONTENT, "--style", "towers", "--device", "cuda", "-o", tmp_path / "o.png")
    if done.returncode != 0:  # a CLI built with --features cuda on a GPU machine paints
        assert done.returncode == 1
        assert cli_error(done) == message
