"""Per-call overhead of the binding on a 1920x1080 picture: Python's stylize against the time
the library itself spent (Timing.library_seconds, measured inside the compiled module around
the library's calls). Median of RUNS calls after a warm-up.

    python python/bench/overhead.py [RUNS]
"""

import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

import brushwork

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    with Image.open(ROOT / "tests" / "data" / "content_500x560.png") as im:
        photo = np.asarray(im.convert("RGB").resize((1920, 1080), Image.LANCZOS))
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    stylizer = brushwork.Stylizer(device="cpu")
    style = brushwork.Style.builtin("towers")
    print(f"{stylizer!r}; {photo.shape[1]}x{photo.shape[0]}, {runs} runs each")
    for label, picture in [("RGB array", photo), ("RGBA array", rgba)]:
        stylizer.stylize(picture, style)  # warm-up: sessions, buffers
        totals, library = [], []
        for _ in range(runs):
            stylizer.stylize(picture, style)
            t = stylizer.last_timing
            totals.append(t.seconds)
            library.append(t.library_seconds)
        overhead = [a - b for a, b in zip(totals, library)]
        print(
            f"{label}: stylize {statistics.median(totals) * 1e3:.1f} ms, library "
            f"{statistics.median(library) * 1e3:.1f} ms, overhead median "
            f"{statistics.median(overhead) * 1e3:.2f} ms (min {min(overhead) * 1e3:.2f}, "
            f"max {max(overhead) * 1e3:.2f})"
        )
    # The copies alone, for scale: one in (array -> Rust) and one out (Rust -> bytearray).
    t = time.perf_counter()
    for _ in range(runs):
        bytearray(photo.tobytes())
    print(f"two memcpy of {photo.nbytes / 1e6:.1f} MB in Python: {(time.perf_counter() - t) / runs * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
