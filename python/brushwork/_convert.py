"""Turning what a caller passes (NumPy arrays, PIL images, paths, `Style`s, numbers, sizes)
into what the compiled module takes, with the errors the command line gives."""

import os
import sys
from typing import Any, List, Optional, Tuple, Union

import numpy as np

from . import _native
from ._errors import InputError

def _pil_image_class() -> Optional[type]:
    """PIL's Image class when PIL is loaded (a PIL image cannot exist otherwise)."""
    module = sys.modules.get("PIL.Image")
    return getattr(module, "Image", None) if module is not None else None


def _path_of(obj: Any) -> Optional[str]:
    """The file a picture comes from: a path, or a PIL image opened from a file."""
    if isinstance(obj, (str, os.PathLike)):
        p = os.fspath(obj)
        return p if isinstance(p, str) else None
    cls = _pil_image_class()
    if cls is not None and isinstance(obj, cls):
        name = getattr(obj, "filename", "")
        return name if isinstance(name, str) and name else None
    return None


def _stem(file_name: str) -> str:
    """The file stem as Rust's ``Path::file_stem`` gives it (``a.b.jpg`` -> ``a.b``)."""
    if file_name.startswith(".") and file_name.count(".") == 1:
        return file_name
    stem, dot, _ext = file_name.rpartition(".")
    return stem if dot and stem else file_name


def _picture(obj: Any, what: str) -> Tuple[tuple, Any]:
    """The compiled module's form of a picture, and what must stay alive during the call."""
    if isinstance(obj, (str, os.PathLike)):
        return ("path", os.fspath(obj)), None
    cls = _pil_image_class()
    if cls is not None and isinstance(obj, cls):
        if obj.mode not in ("RGB", "RGBA"):
            alpha = "A" in obj.mode or (
                obj.mode == "P" and "transparency" in obj.info
            )
            obj = obj.convert("RGBA" if alpha else "RGB")
        arr = np.asarray(obj)
    elif isinstance(obj, np.ndarray):
        arr = obj
    else:
        raise InputError(
            f"{what}: a {type(obj).__name__} is not a picture; give a NumPy array "
            "(height x width x 3 or 4, uint8), a PIL image or a file path"
        )
    if arr.dtype != np.uint8:
        raise InputError(
            f"{what}: the array's dtype is {arr.dtype}; brushwork takes uint8 (0 to 255)"
        )
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InputError(
            f"{what}: the array's shape is {arr.shape}; brushwork takes "
            "height x width x 3 (RGB) or height x width x 4 (RGBA)"
        )
    arr = np.ascontiguousarray(arr)
    height, width, channels = arr.shape
    # One copy into bytes, which the compiled module reads without another: safe for any
    # array (no address crosses into Rust), at about 1 ms per 1080p picture.
    return ("pixels", arr.tobytes(), width, height, channels), None


def _style_items(style: Any) -> Tuple[list, list]:
    if style is None:
        return [], []
    from . import Style  # the package defines it; imported here to avoid a cycle at load

    entries = list(style) if isinstance(style, (list, tuple)) else [style]
    items, keep = [], []
    for s in entries:
        if isinstance(s, Style):
            items.append(("vector", s._raw))
        elif isinstance(s, (str, os.PathLike)):
            spec = os.fspath(s)
            if not isinstance(spec, str):
                raise InputError(f"style: {spec!r}: give paths as str")
            items.append(("spec", spec))
        else:
            item, k = _picture(s, "style")
            items.append(item)
            keep.append(k)
    return items, keep


def _presets(preset: Any) -> List[str]:
    if preset is None:
        return []
    entries = list(preset) if isinstance(preset, (list, tuple)) else [preset]
    specs = []
    for p in entries:
        if isinstance(p, bool) or not isinstance(p, (int, str)):
            raise InputError(
                f"preset: {p!r}: give N (0 to 25) or a mix such as '3:0.5,12:0.5'"
            )
        specs.append(str(p))
    return specs


def _number(name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name}: '{value}' is not a number") from None


def _weights(weights: Any) -> List[float]:
    if isinstance(weights, (int, float)) and not isinstance(weights, bool):
        return [float(weights)]
    if isinstance(weights, (str, bytes)):
        raise InputError("weights: give a list of numbers, one per style")
    return [_number("weights", w) for w in weights]


def _int_in(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{name}: {value!r} is not a whole number")
    if not lo <= value <= hi:
        raise InputError(f"{name}: {value} is outside {lo}..{hi}")
    return value


def _threads(threads: Optional[int]) -> Optional[int]:
    if threads is None:
        return None
    n = _int_in("threads", threads, 1, 1024)
    try:
        cores = len(os.sched_getaffinity(0))  # type: ignore[attr-defined]
    except AttributeError:
        cores = os.cpu_count() or 1
    if n > 4 * cores:
        raise InputError(
            f"threads {n}: this machine has {cores} CPU threads; use at most {4 * cores}"
        )
    return n


_UNITS = {
    "b": 1.0,
    "kb": 1e3,
    "mb": 1e6,
    "gb": 1e9,
    "kib": 1024.0,
    "k": 1024.0,
    "mib": 1024.0**2,
    "m": 1024.0**2,
    "gib": 1024.0**3,
    "g": 1024.0**3,
}


def _memory_budget(budget: Union[int, str, None]) -> Optional[int]:
    """Bytes, or a size with its unit as ``--memory-budget`` takes it."""
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, (int, str)):
        raise InputError(
            f"memory_budget: {budget!r}: give bytes as an int, or a size such as '1GiB'"
        )
    if isinstance(budget, int):
        text, n = f"{budget}B", budget
        if not 1 <= n <= 1 << 50:
            raise InputError(f"memory_budget: '{text}' is out of range")
    else:
        text = budget
        t = budget.strip()
        split = len(t)
        for i, c in enumerate(t):
            if not (c.isdigit() or c == "."):
                split = i
                break
        number, unit = t[:split], t[split:].strip().lower()
        try:
            value = float(number)
        except ValueError:
            raise InputError(
                f"memory_budget: '{text}' is not a size; write it as 1GiB, 800MB or 2.5GiB (with a dot)"
            ) from None
        if unit == "":
            raise InputError(
                f"memory_budget: '{text}' has no unit; write it as 1GiB, 800MB or 2.5GiB"
            )
        if unit not in _UNITS:
            raise InputError(
                f"memory_budget: '{text}': unknown unit; use B, KB, MB, GB, KiB, MiB or GiB"
            )
        size = value * _UNITS[unit]
        if not 1.0 <= size <= float(1 << 50):
            raise InputError(f"memory_budget: '{text}' is out of range")
        n = int(size)
    if n < _native.MIN_MEMORY_BUDGET:
        raise InputError(
            f"memory_budget: '{text}': give at least {_native.MIN_MEMORY_BUDGET >> 20}MiB "
            "(brushwork itself needs about 64MiB, and the smallest photos the rest)"
        )
    return n


def _check_name(name: Any) -> None:
    if not isinstance(name, str):
        raise InputError(f"name: {name!r} is not a str")
    problem = _native.style_name_problem(name)
    if problem is not None:
        shown = repr(name[:60]) + ("..." if len(name) > 60 else "")
        raise InputError(f"name {shown}: {problem}")
