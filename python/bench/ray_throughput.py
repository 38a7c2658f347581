"""Pictures per second of brushwork.ray's actor pool on this machine: 16 pictures at 640x480,
`device="cpu"`, one inference thread per actor, for each actor count; median of RUNS runs. A
run is the whole map (actors started, one model load each, 16 pictures read, painted and
written), timed from the driver, with Ray itself already up. For reference, the same pictures
painted in this process by one Stylizer(threads=1), without Ray.

    python python/bench/ray_throughput.py [RUNS] [ACTORS...]     # default: 3 runs, 1 and 2
"""

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import brushwork
from brushwork import ray as bw_ray

ROOT = Path(__file__).resolve().parents[2]
N = 16


def main() -> None:
    import ray
    import ray.data

    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    counts = [int(a) for a in sys.argv[2:]] or [1, 2]
    work = Path(tempfile.mkdtemp(prefix="bw-ray-bench-"))
    try:
        src = work / "src"
        src.mkdir()
        with Image.open(ROOT / "tests" / "data" / "content_500x560.png") as im:
            photo = im.convert("RGB").resize((640, 480), Image.LANCZOS)
        for i in range(N):
            # Each picture a little different (a shifted copy), all 640x480.
            np_photo = np.roll(np.asarray(photo), 8 * i, axis=1)
            Image.fromarray(np_photo).save(src / f"p{i:02d}.png")

        stylizer = brushwork.Stylizer(device="cpu", threads=1)
        style = brushwork.Style.builtin("towers")
        pics = sorted(src.iterdir())
        stylizer.stylize(str(pics[0]), style)  # warm-up
        t = time.perf_counter()
        for p in pics:
            stylizer.stylize(str(p), style)
        plain = N / (time.perf_counter() - t)
        print(f"no Ray, one Stylizer(threads=1) in-process: {plain:.2f} pictures/s")
        del stylizer

        ray.init(num_cpus=max(counts), logging_level="ERROR", log_to_driver=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        options = {
            "styles": ["towers"], "presets": [], "weights": None, "strength": 1.0,
            "preserve_color": False, "quality": bw_ray.JPEG_QUALITY, "device": "cpu",
            "precision": "auto", "threads": 1, "memory_budget": None, "crash_once": None,
        }
        for actors in counts:
            rates = []
            for r in range(runs):
                dst = work / f"out_{actors}_{r}"
                dst.mkdir()
                items = [{"src": str(p), "dst": str(dst / p.name)} for p in pics]
                t = time.perf_counter()
                ds = ray.data.from_items(items, override_num_blocks=N)
                rows = list(bw_ray.stylize_dataset(ds, options, actors=actors).iter_rows())
                seconds = time.perf_counter() - t
                assert all(r["status"] == "written" for r in rows), rows
                assert len(os.listdir(dst)) == N
                rates.append(N / seconds)
                shutil.rmtree(dst)
            shown = ", ".join(f"{x:.2f}" for x in rates)
            print(
                f"{actors} actor(s): {statistics.median(rates):.2f} pictures/s median "
                f"({shown}); {statistics.median(rates) / actors:.2f} per actor"
            )
        ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
