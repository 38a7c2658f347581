"""Shared fixtures: the repository's test pictures, the CLI to compare against, one CPU
stylizer for the whole session.

The CLI is BRUSHWORK_BIN (default: target/release/brushwork under the repository root). Tests
that need it skip, visibly, when it is absent; under BRUSHWORK_STRICT_TESTS=1 (which .ci/run
sets) they fail instead.
"""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import brushwork

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
EXAMPLES = ROOT / "examples"

CONTENT = DATA / "content_333x250.png"
PAINTING_PNG = DATA / "style_towers_256.png"
PAINTING_JPG = EXAMPLES / "styles" / "towers_1916_sq.jpg"
BRICKS_JPG = EXAMPLES / "styles" / "bricks_sq.jpg"


def strict() -> bool:
    return os.environ.get("BRUSHWORK_STRICT_TESTS") == "1"


def cli_path() -> Path:
    return Path(os.environ.get("BRUSHWORK_BIN", ROOT / "target" / "release" / "brushwork"))


@pytest.fixture(scope="session")
def cli():
    """Runs the brushwork binary: cli(*args) -> CompletedProcess (text)."""
    path = cli_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        why = (
            f"the brushwork CLI is not at {path} (build it with cargo build --release, "
            "or set BRUSHWORK_BIN)"
        )
        if strict():
            pytest.fail(why + "; BRUSHWORK_STRICT_TESTS=1 forbids skipping")
        pytest.skip(why)

    def run(*args):
        return subprocess.run(
            [str(path), *map(str, args)], capture_output=True, text=True, timeout=300
        )

    return run


@pytest.fixture(scope="session")
def stylizer():
    return brushwork.Stylizer(device="cpu")


def read_png(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


def cli_stylize(cli, tmp_path, content, *args) -> np.ndarray:
    """`brushwork stylize CONTENT ARGS --device cpu -o OUT.png`, read back."""
    out = tmp_path / f"cli_{len(list(tmp_path.iterdir()))}.png"
    done = cli("stylize", content, *args, "--device", "cpu", "-o", out)
    assert done.returncode == 0, done.stderr
    return read_png(out)


def cli_error(done) -> str:
    """The one line a failed CLI run printed after `brushwork: error: `."""
    lines = [l for l in done.stderr.splitlines() if l.startswith("brushwork: error: ")]
    assert lines, done.stderr
    return lines[-1][len("brushwork: error: "):]


def assert_same(a: np.ndarray, b: np.ndarray):
    assert a.shape == b.shape and a.dtype == b.dtype
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    assert diff.max() == 0, f"{np.count_nonzero(diff)} values differ, by up to {diff.max()}/255"
