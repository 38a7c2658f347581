"""The package promises every CPython from 3.9 on: one abi3 wheel, and no Python code that
needs a newer interpreter. No 3.9 interpreter is at hand where these tests run, so the promise
is checked from both ends: the installed wheel's tag, and the sources read by vermin (which
knows which version introduced each syntax, module and function)."""

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import strict

PACKAGE = Path(__file__).resolve().parent.parent


def test_the_wheel_is_abi3_for_python_3_9_on():
    wheel = importlib.metadata.distribution("brushwork").read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
    assert tags and all(t.startswith("cp39-abi3-") for t in tags), wheel


def test_the_python_code_runs_on_3_9():
    vermin = Path(sys.executable).parent / "vermin"
    if not vermin.exists():
        why = "vermin is not installed (pip install vermin)"
        if strict():
            pytest.fail(why + "; BRUSHWORK_STRICT_TESTS=1 forbids skipping", pytrace=False)
        pytest.skip(why)
    done = subprocess.run(
        [str(vermin), "--no-tips", "--eval-annotations", "-t=3.9-",
         str(PACKAGE / "brushwork"), str(PACKAGE / "tests"), str(PACKAGE / "bench")],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Minimum required versions:" in done.stdout, done.stdout
