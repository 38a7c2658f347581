"""Style files are the CLI's, byte for byte, both ways."""

import numpy as np
import pytest

import brushwork
from conftest import BRICKS_JPG, CONTENT, PAINTING_JPG, PAINTING_PNG, cli_stylize, read_png, assert_same


def cli_embed(cli, painting, out, *args):
    done = cli("embed", painting, "-o", out, "--device", "cpu", *args)
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("painting", [PAINTING_JPG, PAINTING_PNG])
def test_save_writes_the_bytes_of_brushwork_embed(cli, stylizer, tmp_path, painting):
    cli_dir = cli_embed(cli, painting, tmp_path / "cli")
    want = (cli_dir / f"{painting.stem}.style.json").read_bytes()
    py_dir = tmp_path / "py"
    py_dir.mkdir()
    style = stylizer.embed(painting)
    assert (style.name, style.source) == (painting.stem, painting.name)
    written = style.save(py_dir)
    assert written == str(py_dir / f"{painting.stem}.style.json")
    assert (py_dir / f"{painting.stem}.style.json").read_bytes() == want
    # A file name works too, and a PIL image opened from the painting names itself alike.
    from PIL import Image

    with Image.open(painting) as im:
        if painting.suffix == ".png":  # PIL and the CLI decode JPEG differently
            style = stylizer.embed(im)
            style.save(tmp_path / "x.style.json")
            assert (tmp_path / "x.style.json").read_bytes() == want


def test_a_name_as_embed_name_gives_it(cli, stylizer, tmp_path):
    cli_file = cli_embed(cli, BRICKS_JPG, tmp_path / "cli.style.json", "--name", "waves")
    style = stylizer.embed(BRICKS_JPG, name="waves")
    style.save(tmp_path / "py.style.json")
    assert (tmp_path / "py.style.json").read_bytes() == cli_file.read_bytes()


def test_load_reads_a_cli_style_file(cli, stylizer, tmp_path):
    path = cli_embed(cli, PAINTING_JPG, tmp_path / "towers.style.json", "--name", "t")
    style = brushwork.Style.load(path)
    assert (style.name, style.source) == ("t", PAINTING_JPG.name)
    assert style.vector.dtype == np.float32 and style.vector.shape == (100,)
    assert not style.vector.flags.writeable
    assert np.array_equal(style.vector, stylizer.embed(PAINTING_JPG).vector)
    # Saved again, it is the same file.
    style.save(tmp_path / "again.style.json")
    assert (tmp_path / "again.style.json").read_bytes() == path.read_bytes()


def test_a_style_made_from_numbers_round_trips(tmp_path):
    v = np.linspace(-2, 2, 100).astype(np.float32)
    style = brushwork.Style(v, name="ramp")
    back = brushwork.Style.load(style.save(tmp_path / "ramp.style.json"))
    assert back == style and np.array_equal(back.vector, v)


def test_blend_is_the_clis_blend(cli, stylizer, tmp_path):
    a, b = brushwork.Style.builtin("towers"), brushwork.Style.builtin("bricks")
    mix = brushwork.Style.blend([a, b], [0.25, 0.75])
    assert mix.name == "towers+bricks"
    assert np.allclose(mix.vector, 0.25 * a.vector + 0.75 * b.vector, atol=1e-6)
    assert brushwork.Style.blend([a, b], [0, 1]) .vector.tobytes() == b.vector.tobytes()
    want = cli_stylize(
        cli, tmp_path, CONTENT, "--style", "towers", "--style", "bricks", "--weights", "0.25,0.75"
    )
    assert_same(stylizer.stylize(read_png(CONTENT), mix), want)
    with pytest.raises(brushwork.InputError, match="weights: 2 styles but 1 weights"):
        brushwork.Style.blend([a, b], [1])


def test_builtin_styles_are_listed():
    names = brushwork.builtin_styles()
    assert "towers" in names and "bricks" in names
    assert all(brushwork.Style.builtin(n).name for n in names)


def test_help_reads_like_the_cli():
    doc = brushwork.Stylizer.__doc__
    for option in ("device", "precision", "threads", "memory_budget", "workers", "tile_size"):
        assert f"\n    {option}\n" in doc
    for option in ("style", "preset", "weights", "strength", "preserve_color"):
        assert f"\n        {option}\n" in brushwork.Stylizer.stylize.__doc__
