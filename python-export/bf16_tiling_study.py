#!/usr/bin/env python3
"""Where tiled and untiled bf16 pictures part (issue #21), measured on OpenVINO.

    python3 -m pip install -r python-export/requirements.txt
    python3 python-export/bf16_tiling_study.py

In bf16 a tiled picture was 0.5/255 from the untiled one, where fp32 tiles are 0.04/255 from
theirs. This script finds out which steps make the difference. It runs what brushwork runs on
OpenVINO (INFERENCE_PRECISION_HINT=bf16, 2 threads): untiled, the fp32 graph's trunk
(models/style_transform_trunk.onnx, fed the norms' scales and shifts computed in f32:
python-export/norm_params.py); tiled, the trunk's segments (models/tiled_trunk.bundle, run as
`tiling.run_tiled` does). On a 720x544 example photo with sensor noise it prints mean / max
absolute differences (of 255) between:

  1. the trunk's segments tile by tile (160 px tiles) and over the whole picture as one
     window: what tiling itself adds;
  2. the segments as one window and the trunk compiled for the picture's size: what cutting
     the graph at its norms changes;
  3. tiled and untiled, as brushwork runs them;
  4. the fp32 graph's segments (models/tiled_fp32.bundle, which make the norms' scales and
     shifts in the graph, in bf16: what brushwork ran before) and the trunk;
  5. the whole fp32 graph compiled for the picture's size and for any size (a dynamic shape):
     what compiling one graph two ways changes;
  6. each of them and OpenVINO f32;
  7. the segments with every tensor between them rounded to bf16, as the trunk stores it, and
     the trunk: whether the f32 tensors at the cuts are what makes the difference;
  8. on a CPU with AMX, the trunk again in a second process with oneDNN held to AVX-512 BF16
     (below): how far two bf16 CPUs' untiled pictures are from each other.

Then it measures what running untiled pictures through the segments as one window would cost
at 1920x1080 (the only way to make both paths the same computation): compile and inference
time, and peak memory, against the trunk.

On a CPU with AMX, `ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 python3 ...` holds OpenVINO's bf16
convolutions to the kernels a CPU with AVX-512 BF16 but no AMX (AMD Zen 4) runs; the README
gives those figures beside AMX's (section OpenVINO).
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import openvino as ov
from PIL import Image

import norm_params
import tiling
from bf16_study import Trunk

ROOT = tiling.ROOT
CONFIG = {"INFERENCE_PRECISION_HINT": "bf16", "INFERENCE_NUM_THREADS": "2", "PERFORMANCE_HINT": "LATENCY"}
core = ov.Core()
timing = {"compile": 0.0, "infer": 0.0}
loaded: dict = {}


class Segment:
    """A segment on OpenVINO, compiled for each window shape it is given (as brushwork does)."""

    def __init__(self, data: bytes, precision: str):
        self.model = core.read_model(model=data, weights=b"")
        self.config = dict(CONFIG, INFERENCE_PRECISION_HINT=precision)
        self.compiled: dict = {}

    def run(self, outputs, feed):
        key = tuple(sorted((k, v.shape) for k, v in feed.items()))
        if key not in self.compiled:
            t = time.perf_counter()
            model = self.model.clone()
            model.reshape({k: ov.PartialShape(list(v.shape)) for k, v in feed.items()})
            compiled = core.compile_model(model, "CPU", self.config)
            self.compiled[key] = (compiled, compiled.create_infer_request())
            timing["compile"] += time.perf_counter() - t
        compiled, request = self.compiled[key]
        t = time.perf_counter()
        request.infer(feed)
        out = [request.get_tensor(compiled.output(o)).data.copy() for o in outputs]
        timing["infer"] += time.perf_counter() - t
        return out


class Rounded:
    """A segment whose outputs, but the picture, are rounded to bf16: the trunk keeps its
    convolutions' outputs in bf16, where the segments pass theirs on in f32."""

    def __init__(self, segment: Segment):
        self.segment = segment

    def run(self, outputs, feed):
        out = self.segment.run(outputs, feed)
        return [o if name == "stylized_image" else to_bf16(o) for name, o in zip(outputs, out)]


def segments(content, embedding, precision, tile_q, bundle="trunk", round_cuts=False):
    """The picture run through a bundle's segments: `trunk` (what brushwork runs on OpenVINO,
    fed the norms' scales and shifts computed in f32) or `fp32` (the fp32 graph's, which make
    them from the embedding in the graph: what brushwork ran before). `round_cuts`: every
    tensor passed between segments rounded to bf16 (see `Rounded`)."""
    header, models = tiling.unpack((ROOT / "models" / f"tiled_{bundle}.bundle").read_bytes())
    params = None
    if bundle == "trunk":
        params = norm_params.feed(norm_params.unpack((ROOT / "models" / "norm_params.bin").read_bytes()), embedding)
    original = tiling.session
    def session(data):
        if (data, precision) not in loaded:
            loaded[data, precision] = Segment(data, precision)
        return Rounded(loaded[data, precision]) if round_cuts else loaded[data, precision]

    tiling.session = session
    try:
        return tiling.run_tiled(header, models, header["plans"][0], content, embedding, tile_q, params)
    finally:
        tiling.session = original


def to_bf16(x: np.ndarray) -> np.ndarray:
    """f32 rounded to the nearest bf16 (ties to even), kept in f32."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)


def other_kernels() -> np.ndarray | None:
    """The untiled trunk in bf16, run in a second process with oneDNN held to the kernels of a
    CPU with AVX-512 BF16 and no AMX (AMD Zen 4). None on a CPU without AMX, where the cap
    would change nothing."""
    if "amx_bf16" not in Path("/proc/cpuinfo").read_text():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "trunk.npy"
        env = dict(os.environ, ONEDNN_MAX_CPU_ISA="AVX512_CORE_BF16")
        subprocess.run([sys.executable, __file__, "--trunk-to", str(out)], env=env, check=True)
        return np.load(out)


def whole(content, embedding, precision, static=True):
    model = core.read_model(str(ROOT / "models" / "style_transform_fp32.onnx"))
    if static:
        model.reshape({"content_image": list(content.shape)})
    t = time.perf_counter()
    compiled = core.compile_model(model, "CPU", dict(CONFIG, INFERENCE_PRECISION_HINT=precision))
    compile_s = time.perf_counter() - t
    request = compiled.create_infer_request()
    times = []
    for _ in range(3):
        t = time.perf_counter()
        request.infer({"content_image": content, "style_embedding": embedding})
        times.append(time.perf_counter() - t)
    return request.get_output_tensor(0).data.copy(), compile_s, float(np.median(times))


def apart(a, b) -> str:
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return f"{d.mean():.4f} / {d.max():.0f}"


def main() -> None:
    if sys.argv[1:2] == ["--trunk-to"]:  # the second process of `other_kernels`
        content = tiling.example_photo()
        np.save(sys.argv[2], Trunk("bf16", 544, 720)(content[0], tiling.towers_embedding())[None])
        return
    embedding = tiling.towers_embedding()
    content = tiling.example_photo()

    big = np.asarray(Image.open(ROOT / "examples" / "content" / "coast_guard_boat.jpg")
                     .convert("RGB").resize((1920, 1080)))[None]
    t = time.perf_counter()
    trunk = Trunk("bf16", 1080, 1920)
    compile_s = time.perf_counter() - t
    times = []
    for _ in range(4):
        t = time.perf_counter()
        trunk(big[0], embedding)
        times.append(time.perf_counter() - t)
    infer_s = float(np.median(times[1:]))
    rss_whole = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    del trunk
    timing.update(compile=0.0, infer=0.0)
    segments(big, embedding, "bf16", 10**6)
    compiled_s = timing["compile"]
    timing.update(infer=0.0)
    segments(big, embedding, "bf16", 10**6)
    print("1920x1080 in bf16, untiled:")
    print(f"  the trunk (what brushwork runs): compile {compile_s * 1e3:.0f} ms, inference {infer_s * 1e3:.0f} ms (median of 3),"
          f" peak RSS {rss_whole:.0f} MB")
    print(f"  segments as one window: compile {compiled_s * 1e3:.0f} ms, inference {timing['infer'] * 1e3:.0f} ms"
          f" (the second run, without the statistics, which numpy sums), peak RSS"
          f" {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")

    loaded.clear()

    f32 = whole(content, embedding, "f32")[0]
    pictures = {
        "bf16 trunk segments in 160 px tiles (brushwork's tiled run)": segments(content, embedding, "bf16", 40),
        "bf16 trunk segments as one window": segments(content, embedding, "bf16", 10**6),
        "bf16 trunk (brushwork's untiled run)": Trunk("bf16", 544, 720)(content[0], embedding)[None],
        "bf16 fp32 graph's segments in 160 px tiles (brushwork before)":
            segments(content, embedding, "bf16", 40, bundle="fp32"),
        "bf16 whole graph, static shape": whole(content, embedding, "bf16")[0],
        "bf16 whole graph, dynamic shape": whole(content, embedding, "bf16", static=False)[0],
        "f32 trunk segments in 160 px tiles": segments(content, embedding, "f32", 40),
    }
    f32_tiles = pictures.pop("f32 trunk segments in 160 px tiles")
    rounded = segments(content, embedding, "bf16", 40, round_cuts=True)
    elsewhere = other_kernels()
    names = list(pictures)
    print("\n720x544, mean / max absolute difference (of 255):")
    for a, b in [(0, 1), (1, 2), (0, 2), (3, 2), (4, 5)]:
        print(f"  {names[a]} vs {names[b]}: {apart(pictures[names[a]], pictures[names[b]])}")
    print(f"  bf16 trunk segments in tiles, the tensors between them rounded to bf16, vs {names[2]}:"
          f" {apart(rounded, pictures[names[2]])}; vs f32 whole graph: {apart(rounded, f32)}")
    if elsewhere is None:
        print("  (no AMX here: no other bf16 kernels to hold oneDNN to)")
    else:
        print(f"  {names[2]} vs the same on AVX-512 BF16 kernels (ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16):"
              f" {apart(pictures[names[2]], elsewhere)}")
    print(f"  f32 trunk segments in tiles vs f32 whole graph: {apart(f32_tiles, f32)}")
    for name in names:
        print(f"  {name} vs f32 whole graph: {apart(pictures[name], f32)}")


if __name__ == "__main__":
    main()
