"""brushwork: arbitrary neural style transfer. Any painting styles any photo, at its own
resolution.

    >>> import brushwork
    >>> stylizer = brushwork.Stylizer()
    >>> out = stylizer.stylize(photo, "towers")                 # a built-in style
    >>> out = stylizer.stylize(photo, "monet.jpg", strength=0.7)  # any painting
    >>> out = stylizer.stylize(photo, preset=7)                   # one of the 26 presets

Pictures are NumPy arrays (height x width x 3 or 4, uint8), PIL images or file paths; results
are NumPy arrays (height x width x 3, uint8), the same pixels ``brushwork stylize`` writes for
the same arguments on the same device.

Errors are ``brushwork.Error``: ``InputError`` (also a ``ValueError``) for what the caller can
fix, ``EngineError`` (also a ``RuntimeError``) for the machine's or installation's problems,
with the command line's messages.
"""

import os

# ONNX Runtime reads its telemetry switch when its environment is created (the command line
# sets it first thing too): before the compiled module can start it.
for _name in ("ORT_DISABLE_TELEMETRY", "ORT_TELEMETRY_DISABLED"):
    os.environ.setdefault(_name, "1")

import threading  # noqa: E402
import time  # noqa: E402
from typing import Any, List, NamedTuple, Optional, Sequence, Union  # noqa: E402

import numpy as np  # noqa: E402

from . import _native  # noqa: E402
from ._errors import EngineError, Error, InputError  # noqa: E402
from ._convert import (  # noqa: E402
    _check_name,
    _int_in,
    _memory_budget,
    _number,
    _path_of,
    _picture,
    _presets,
    _stem,
    _style_items,
    _threads,
    _weights,
)

__all__ = [
    "Stylizer",
    "Style",
    "Timing",
    "Error",
    "InputError",
    "EngineError",
    "builtin_styles",
    "EMBEDDING_DIM",
    "NUM_PRESETS",
    "MIN_CONTENT_SIDE",
]
__version__: str = _native.VERSION

#: How many numbers a style vector has.
EMBEDDING_DIM: int = _native.EMBEDDING_DIM
#: How many presets the multi-style network has (0 to 25).
NUM_PRESETS: int = _native.NUM_PRESETS
#: The smallest side of a picture, in pixels.
MIN_CONTENT_SIDE: int = _native.MIN_CONTENT_SIDE

_SUFFIX = ".style.json"

# A picture: a NumPy array (H x W x 3 or 4, uint8), a PIL image, or a file path.
Picture = Any
# One style: a painting (picture or path), a style file path, a built-in name or a Style.
StyleLike = Union["Style", str, "os.PathLike[str]", Any]


class Timing(NamedTuple):
    """How long the calling thread's last ``stylize`` or ``embed`` took, in seconds."""

    seconds: float
    """The whole call, as Python saw it."""
    library_seconds: float
    """The part spent in the brushwork library (styles, decoding, painting)."""

    @property
    def overhead_seconds(self) -> float:
        """What the binding added: converting, copying, waiting for a free worker."""
        return self.seconds - self.library_seconds


def builtin_styles() -> List[str]:
    """The built-in styles' names (``brushwork styles`` lists them with their credits)."""
    return list(_native.builtin_names())


class Style:
    """A style: a point in the 100-number style space that the style network maps paintings
    to. Blending styles blends their vectors.

    Make one with ``Stylizer.embed(painting)``, ``Style.load(path)`` (a ``NAME.style.json``
    file from ``brushwork embed``), ``Style.builtin(name)`` or ``Style.blend([...])``; use it
    anywhere a style is accepted (it skips the style network).

    Attributes:
        vector: the 100 numbers (read-only NumPy float32 array).
        name: the style's name, recorded in its file (a plain file name).
        source: the painting's file name, where known.
    """

    __slots__ = ("_vector", "_raw", "_name", "_source")

    def __init__(self, vector: Any, name: str = "style", source: str = "") -> None:
        try:
            v = np.array(vector, dtype="<f4")
        except (TypeError, ValueError):
            raise InputError("a style vector is 100 numbers") from None
        if v.shape != (EMBEDDING_DIM,):
            raise InputError(
                f"a style vector has {EMBEDDING_DIM} numbers, not shape {v.shape}"
            )
        if not np.all(np.isfinite(v)):
            raise InputError("a style vector's numbers must be finite")
        _check_name(name)
        v.flags.writeable = False
        self._vector = v
        self._raw = v.tobytes()
        self._name = str(name)
        self._source = str(source)

    @property
    def vector(self) -> np.ndarray:
        """The 100 numbers (float32, read-only)."""
        return self._vector

    @property
    def name(self) -> str:
        return self._name

    @property
    def source(self) -> str:
        return self._source

    def save(self, path: "Union[str, os.PathLike[str]]") -> str:
        """Writes the style file that ``brushwork embed PAINTING -o PATH`` writes (the same
        bytes): PATH is a ``NAME.style.json`` file, or an existing directory that gets
        ``<name>.style.json``. Written atomically; returns the file's path."""
        target = os.fspath(path)
        if os.path.isdir(target):
            target = os.path.join(target, self._name + _SUFFIX)
        elif not target.endswith(_SUFFIX):
            raise InputError(f"{target}: a style file name must end in {_SUFFIX}")
        _native.write_style(target, self._name, self._source, self._raw)
        return target

    @classmethod
    def load(cls, path: "Union[str, os.PathLike[str]]") -> "Style":
        """Reads a style file (``brushwork embed``'s), checked as ``--style FILE`` checks it:
        its format, its 100 numbers and the style model that made them."""
        raw, name, source = _native.read_style(os.fspath(path))
        return cls._of(raw, name, source)

    @classmethod
    def builtin(cls, name: str) -> "Style":
        """A built-in style by name (see ``brushwork.builtin_styles()``)."""
        raw, file_name, source, _credit = _native.builtin_style(name)
        return cls._of(raw, file_name, source)

    @classmethod
    def blend(
        cls, styles: Sequence["Style"], weights: Optional[Sequence[float]] = None
    ) -> "Style":
        """The convex combination of ``styles``: ``weights`` (one per style, 0 or more, not
        all 0; default equal) are normalized to sum to 1, exactly as
        ``--style A --style B --weights W,W`` blends."""
        styles = list(styles)
        for s in styles:
            if not isinstance(s, Style):
                raise InputError(
                    f"Style.blend takes Style objects, not {type(s).__name__}"
                )
        w = _weights(weights) if weights is not None else [1.0] * len(styles)
        raw = _native.blend_styles([s._raw for s in styles], w)
        name = "+".join(s.name for s in styles)
        if _native.style_name_problem(name) is not None:
            name = "blend"
        return cls._of(raw, name, "")

    @classmethod
    def _of(cls, raw: bytes, name: str, source: str) -> "Style":
        style = cls.__new__(cls)
        v = np.frombuffer(raw, dtype="<f4")
        style._vector = v  # frombuffer over bytes: read-only already
        style._raw = raw
        style._name = name
        style._source = source
        return style

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Style):
            return NotImplemented
        return self._raw == other._raw and self._name == other._name

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Style(name={self._name!r}, source={self._source!r})"


class Stylizer:
    """Repaints pictures in the style of a painting, at full resolution.

    Starting one loads ONNX Runtime (fetched once from PyPI into ~/.cache/brushwork on first
    use) and the networks; keep it and call ``stylize`` and ``embed`` as often as needed.

    device
        Where the networks run: "auto" (the fastest that starts: tensorrt, cuda, then
        openvino where the CPU has AVX-512 BF16 or AMX, then cpu), "cpu" (ONNX Runtime),
        "openvino" (OpenVINO on the CPU, fetched once from PyPI), "cuda", "cuda:N",
        "tensorrt" or "tensorrt:N" (GPU providers need the package built with
        MATURIN_PEP517_ARGS="--features cuda" or "--features tensorrt", and ONNX Runtime's
        GPU library). Pass "cpu" to get exactly the pixels of ``brushwork stylize --device
        cpu``.

    precision
        The transformation network's variant: "auto" (bf16 on openvino where the CPU has it,
        fp32 on the CPU, fp16 on a GPU), "int8" (the published model, every activation
        rounded to 8 bits), "fp32" or "fp16" (float graphs of the same weights), "bf16" (the
        fp32 graph computed in bfloat16; openvino only).

    threads
        Threads per inference, at most 4 per CPU core; by default ONNX Runtime uses one per
        physical core. With several workers, threads * workers near the core count is best.

    memory_budget
        Pictures whose untiled run would need more memory than this run in tiles, with the
        whole picture's statistics (same result, bounded memory): bytes as an int, or a
        size such as "1GiB", "800MB", "2.5GiB" (KB, MB, GB are powers of 1000; KiB, MiB,
        GiB and K, M, G of 1024); at least 96MiB. Default: 1GiB (on a GPU, 3/4 of its free memory), exceeded
        rather than refused by a picture that cannot fit it even in tiles; a budget given
        here is kept, and such a picture is refused.

    workers
        How many pictures this Stylizer paints at once (default 1). A Stylizer may be shared
        between threads: each call takes a free worker (a library stylizer with its own
        networks and buffers), starts one while fewer than ``workers`` exist, or else waits
        for one. With workers=N, N threads paint in parallel (the GIL is released while a
        picture is painted or a painting embedded); with workers=1 calls take turns safely.
        Every worker runs on the device and precision the first one settled on.

    tile_size
        The side of a tile, in pixels, for pictures that run in tiles (a multiple of 4, from
        64 to 8192).

    Attributes: ``device``, ``precision`` and ``engine`` say what "auto" resolved to;
    ``last_timing`` how long the calling thread's last call took.

    Raises ``InputError`` for a bad option, ``EngineError`` when the engine cannot start.
    """

    def __init__(
        self,
        device: str = "auto",
        precision: str = "auto",
        threads: Optional[int] = None,
        memory_budget: Union[int, str, None] = None,
        *,
        workers: int = 1,
        tile_size: int = _native.DEFAULT_TILE_SIDE,
    ) -> None:
        if not isinstance(device, str):
            raise InputError(f"device: {device!r} is not a device name")
        if not isinstance(precision, str):
            raise InputError(f"precision: {precision!r} is not a precision name")
        threads = _threads(threads)
        budget = _memory_budget(memory_budget)
        workers = _int_in("workers", workers, 1, 1024)
        tile_size = _int_in("tile_size", tile_size, 64, 8192)
        if tile_size % 4:
            raise InputError(
                f"tile_size: {tile_size}: a tile side is a multiple of 4 from 64 to 8192 pixels"
            )
        self._engine = _native.Engine(
            device, precision, threads, budget, tile_size, workers
        )
        self._local = threading.local()

    @property
    def device(self) -> str:
        """The device the transformation network runs on ("cpu", "openvino", "cuda:0"...)."""
        return self._engine.device

    @property
    def precision(self) -> str:
        """The transformation network's variant ("fp32", "int8", "bf16", "fp16")."""
        return self._engine.precision

    @property
    def engine(self) -> str:
        """The engine and its version, e.g. "ONNX Runtime 1.31.1"."""
        return self._engine.engine

    @property
    def workers(self) -> int:
        """The most pictures painted at once."""
        return self._engine.workers

    @property
    def last_timing(self) -> Optional[Timing]:
        """How long this thread's last ``stylize`` or ``embed`` took (None before one)."""
        return getattr(self._local, "timing", None)

    def stylize(
        self,
        image: Picture,
        style: Union[StyleLike, Sequence[StyleLike], None] = None,
        *,
        preset: Union[int, str, Sequence[Union[int, str]], None] = None,
        weights: Optional[Sequence[float]] = None,
        strength: float = 1.0,
        preserve_color: bool = False,
    ) -> np.ndarray:
        """Repaints ``image`` in a style, at its own size; returns a new height x width x 3
        uint8 array. The arguments are ``brushwork stylize``'s.

        image
            A NumPy array (height x width x 3 RGB or x 4 RGBA, uint8), a PIL image (other
            modes are converted to RGB or RGBA; EXIF orientation is not applied) or a file
            path (read as the command line reads it: EXIF orientation applied). Transparency
            is flattened onto white. Both sides at least 16 pixels.

        style
            A painting (array, PIL image or path; any size, center-cropped to a square and
            resized to 256x256), a style file path (NAME.style.json, from ``brushwork
            embed`` or ``Style.save``), a built-in style name (``brushwork.builtin_styles()``)
            or a ``Style``; or a list of them, to blend (see ``weights``). At most 9.

        preset
            Instead of ``style``: the 26-style network's presets. N (0 to 25) or a mix such
            as "3:0.5,12:0.5"; or a list of them, to blend. (``--preset``.)

        weights
            Blend weights, one per style (or preset); 0 or more, not all 0, normalized to sum
            to 1. Default: equal weights.

        strength
            How much style, 0 to 1: 1 is the style, 0 is the picture's own style (it comes
            back close to itself); in between interpolates the two embeddings. With presets,
            which have no embedding, it blends the stylized pixels with the picture's.

        preserve_color
            Keep the picture's colours and take only the stylized brightness (a YCbCr swap).

        Raises ``InputError`` (a ``ValueError``) for anything the caller can fix,
        ``EngineError`` (a ``RuntimeError``) for the machine's problems.
        """
        started = time.perf_counter()
        items, keep = _style_items(style)
        presets = _presets(preset)
        w = None if weights is None else _weights(weights)
        s = _number("strength", strength)
        picture, keep_image = _picture(image, "image")
        buf, width, height, library = self._engine.stylize(
            picture, items, presets, w, s, bool(preserve_color)
        )
        del keep, keep_image
        out = np.frombuffer(buf, dtype=np.uint8).reshape(height, width, 3)
        self._local.timing = Timing(time.perf_counter() - started, library)
        return out

    def embed(self, painting: Picture, *, name: Optional[str] = None) -> Style:
        """The style of a painting, as ``brushwork embed`` computes it. The painting (array,
        PIL image or path) is center-cropped to a square and resized to 256x256 first.

        ``name`` is recorded in the style's file; default: the painting's file stem (as
        ``brushwork embed`` names it), or "style" for an array.
        """
        started = time.perf_counter()
        source = ""
        stem = "style"
        path = _path_of(painting)
        if path is not None:
            source = os.path.basename(path)
            stem = _stem(source)
        if name is None:
            name = stem
        _check_name(name)
        picture, keep = _picture(painting, "painting")
        raw, library = self._engine.embed(picture)
        del keep
        style = Style._of(raw, name, source)
        self._local.timing = Timing(time.perf_counter() - started, library)
        return style

    def __repr__(self) -> str:
        return (
            f"Stylizer(device={self.device!r}, precision={self.precision!r}, "
            f"engine={self.engine!r}, workers={self.workers})"
        )


# --- conversions -----------------------------------------------------------------------------
