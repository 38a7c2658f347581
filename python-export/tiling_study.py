#!/usr/bin/env python3
"""Measures what tiling the transformation network costs in fidelity (issue #12), before any
tiling is built: where the conditional instance norms' statistics come from decides it.

    python3 -m pip install -r python-export/requirements.txt
    python3 python-export/tiling_study.py [--size 3000] [--tile 1000]

The picture is a SIZE x SIZE mosaic of the example photos with +-6 sensor-like noise (fine
texture is where statistics differ between resolutions). The reference is the fp32 graph run
untiled. From the fp32 graph the script derives two graphs (in memory, nothing is written):

  * stats: the same network, giving also each of its 13 norms' mean and variance;
  * fixed: the network with each norm's mean and variance as inputs instead of computed.

and measures, as mean absolute difference from the untiled output (in 1/255):

  1. statistics from a reduced-resolution pass (the picture scaled by 1/2, 1/3, 1/4, 1/6),
     the whole picture then run with them: the cheap way;
  2. exact statistics, the picture run in TILE x TILE tiles with halos of 32, 64 and 96 px,
     and the difference on the pixels within 4 px of a tile border (a seam shows there);
  3. the exact statistics themselves computed in tiles (what bounded memory needs), staged:
     the network is cut (onnx.utils.extract_model on the "fixed" graph) into segments that end
     at each norm's input; a checkpoint at 1/4 resolution (the contract part's output, then each
     residual block's output) is kept whole, each segment runs tile by tile from the latest
     checkpoint with a halo, and each norm's mean and variance are summed in float64 over the
     tiles' own regions before the next segment runs. Segments recompute from the checkpoint
     rather than store their activations, so this is an upper bound on the time.
"""
from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnx.utils
import onnxruntime as ort
from onnx import TensorProto, helper
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
FP32 = ROOT / "models" / "style_transform_fp32.onnx"
PHOTOS = ["coast_guard_boat.jpg", "picabo_lava.jpg", "colva_beach_sq.jpg", "golden_gate_sq.jpg"]


def norm_statistics(model: onnx.ModelProto) -> list[tuple[str, str, int]]:
    """(mean tensor, variance tensor, channels) of each instance norm, in graph order."""
    inits = {i.name: i for i in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}
    found = []
    for n in model.graph.node:
        if n.op_type == "GlobalAveragePool" and n.output[0].endswith("moments/mean_prequant"):
            conv = producer[n.input[0]]
            base = n.output[0][: -len("moments/mean_prequant")]
            found.append((n.output[0], base + "moments/variance_prequant",
                          inits[conv.input[1]].dims[0]))
    return found


def stats_graph(model: onnx.ModelProto, stats) -> onnx.ModelProto:
    m = copy.deepcopy(model)
    for mean, var, c in stats:
        for name in (mean, var):
            m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, c, 1, 1]))
    return m


def fixed_graph(model: onnx.ModelProto, stats) -> onnx.ModelProto:
    m = copy.deepcopy(model)
    given = {name for mean, var, _ in stats for name in (mean, var)}
    for mean, var, c in stats:
        for name in (mean, var):
            m.graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, c, 1, 1]))
    nodes = [n for n in m.graph.node if n.output[0] not in given]
    # Drop what only fed the statistics.
    needed = {o.name for o in m.graph.output}
    alive = []
    for n in reversed(nodes):
        if any(o in needed for o in n.output):
            alive.append(n)
            needed.update(n.input)
    del m.graph.node[:]
    m.graph.node.extend(reversed(alive))
    onnx.checker.check_model(m)
    return m


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.log_severity_level = 3
    so.enable_mem_pattern = False
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


def mosaic(size: int) -> np.ndarray:
    canvas = Image.new("RGB", (size, size))
    half = size // 2
    for i, name in enumerate(PHOTOS):
        im = Image.open(ROOT / "examples" / "content" / name).convert("RGB")
        canvas.paste(im.resize((half, half), Image.LANCZOS), ((i % 2) * half, (i // 2) * half))
    x = np.asarray(canvas).astype(np.float32)
    x += np.random.default_rng(1).normal(0, 6, x.shape)
    return np.clip(x, 0, 255).astype(np.uint8)[None]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=3000, help="side of the square picture (multiple of 4)")
    ap.add_argument("--tile", type=int, default=1000, help="tile side (multiple of 4)")
    args = ap.parse_args()
    n, tile = args.size, args.tile
    model = onnx.load(FP32)
    stats = norm_statistics(model)
    full, with_stats, fixed = session(model), session(stats_graph(model, stats)), session(fixed_graph(model, stats))
    style = json.loads((ROOT / "styles" / "towers.style.json").read_text())["embedding"]
    emb = np.array(style, dtype=np.float32).reshape(1, 1, 1, 100)
    x = mosaic(n)
    names = [name for mean, var, _ in stats for name in (mean, var)]

    t = time.perf_counter()
    ref = full.run(None, {"content_image": x, "style_embedding": emb})[0].astype(np.float64)
    t_untiled = time.perf_counter() - t
    print(f"{n}x{n}, {len(stats)} norms; untiled: {t_untiled:.1f} s")

    def statistics_of(img: np.ndarray) -> dict:
        outs = with_stats.run(None, {"content_image": img, "style_embedding": emb})
        return dict(zip(names, outs[1:]))

    def run_fixed(img: np.ndarray, st: dict) -> np.ndarray:
        return fixed.run(None, {"content_image": img, "style_embedding": emb, **st})[0]

    exact = statistics_of(x)
    print(f"exact statistics given as inputs, untiled: {np.abs(run_fixed(x, exact) - ref).mean():.3f}/255")
    print("\n| statistics from | mean abs difference /255 |\n|---|---|")
    for f in (2, 3, 4, 6):
        side = n // f // 4 * 4
        small = np.asarray(Image.fromarray(x[0]).resize((side, side), Image.BILINEAR))[None]
        d = np.abs(run_fixed(x, statistics_of(small)) - ref).mean()
        print(f"| a pass at 1/{f} size ({side}x{side}) | {d:.2f} |")

    border = np.zeros((n, n), bool)
    for b in range(tile, n, tile):
        border[:, b - 4:b + 4] = True
        border[b - 4:b + 4, :] = True
    print(f"\n| exact statistics, {tile}x{tile} tiles, halo | mean abs /255 | within 4 px of a tile border | time s |\n|---|---|---|---|")
    for halo in (32, 64, 96):
        t = time.perf_counter()
        out = np.zeros_like(ref)
        for y0 in range(0, n, tile):
            for x0 in range(0, n, tile):
                y1, x1 = min(y0 + tile, n), min(x0 + tile, n)
                a0, b0, a1, b1 = max(0, y0 - halo), max(0, x0 - halo), min(n, y1 + halo), min(n, x1 + halo)
                o = run_fixed(x[:, a0:a1, b0:b1], exact)
                out[:, y0:y1, x0:x1] = o[:, y0 - a0:y1 - a0, x0 - b0:x1 - b0]
        dt = time.perf_counter() - t
        d = np.abs(out - ref)
        print(f"| {halo} px | {d.mean():.4f} | {d[0][border].mean():.4f} | {dt:.1f} |")

    t = time.perf_counter()
    out = staged_exact(x, emb, tile, fixed_graph(model, stats), stats)
    dt = time.perf_counter() - t
    d = np.abs(out.astype(np.float64) - ref)
    print(f"\nstatistics computed in {tile}x{tile} tiles (staged, recomputing from 1/4-resolution "
          f"checkpoints): mean abs {d.mean():.4f}/255, within 4 px of a border {d[0][border].mean():.4f}, "
          f"max {d.max():.0f}; {dt:.1f} s including building the segments ({dt / t_untiled:.2f}x untiled)")


CONTRACT_OUTPUT = "Relu__9:0"
BLOCK_OUTPUTS = [f"transformer/residual/residual{b}/add_prequant" for b in range(1, 6)]


def staged_exact(x: np.ndarray, emb: np.ndarray, tile: int, fixed: onnx.ModelProto, stats) -> np.ndarray:
    """The network run tile by tile with its norms' statistics computed tile by tile (method 3)."""
    n, q, tq = x.shape[1], x.shape[1] // 4, tile // 4
    names = [name for mean, var, _ in stats for name in (mean, var)]
    known = {name: np.zeros((1, c, 1, 1), np.float32) for mean, var, c in stats for name in (mean, var)}
    tmp = Path(tempfile.mkdtemp())
    fixed_path = tmp / "fixed.onnx"
    onnx.save(fixed, fixed_path)

    def segment(inputs: list[str], output: str) -> ort.InferenceSession:
        onnx.utils.extract_model(str(fixed_path), str(tmp / "segment.onnx"), inputs, [output])
        return session(onnx.load(tmp / "segment.onnx"))

    def tiles(size: int, step: int, halo: int):
        for y0 in range(0, size, step):
            for x0 in range(0, size, step):
                y1, x1 = min(y0 + step, size), min(x0 + step, size)
                yield y0, x0, y1, x1, max(0, y0 - halo), max(0, x0 - halo), min(size, y1 + halo), min(size, x1 + halo)

    # The contract part has no norm: straight into the 1/4-resolution checkpoint.
    contract = segment(["content_image"], CONTRACT_OUTPUT)
    checkpoint = np.zeros((1, 32, q, q), np.float32)
    for y0, x0, y1, x1, a0, b0, a1, b1 in tiles(n, tile, 16):
        o = contract.run(None, {"content_image": x[:, a0:a1, b0:b1]})[0]
        checkpoint[:, :, y0 // 4:y1 // 4, x0 // 4:x1 // 4] = \
            o[:, :, (y0 - a0) // 4:(y1 - a0) // 4, (x0 - b0) // 4:(x1 - b0) // 4]

    def run(sess, source: str, ckpt: np.ndarray, scale: int, into: np.ndarray | None):
        """Tiles of `sess` from the checkpoint; output at `scale` x 1/4 resolution, written into
        `into`, or summed into a norm's statistics when `into` is None."""
        wanted = {i.name for i in sess.get_inputs()}
        feed = {k: v for k, v in known.items() if k in wanted} | {"style_embedding": emb}
        s1 = s2 = None
        count = 0
        for y0, x0, y1, x1, a0, b0, a1, b1 in tiles(q, tq, 8):
            o = sess.run(None, feed | {source: ckpt[:, :, a0:a1, b0:b1]})[0]
            if o.dtype == np.uint8:  # the picture, NHWC
                into[:, y0 * 4:y1 * 4, x0 * 4:x1 * 4] = o[:, (y0 - a0) * 4:(y1 - a0) * 4, (x0 - b0) * 4:(x1 - b0) * 4]
                continue
            v = o[:, :, (y0 - a0) * scale:(y1 - a0) * scale, (x0 - b0) * scale:(x1 - b0) * scale]
            if into is not None:
                into[:, :, y0 * scale:y1 * scale, x0 * scale:x1 * scale] = v
                continue
            v = v.astype(np.float64)
            a, b = v.sum(axis=(0, 2, 3)), (v * v).sum(axis=(0, 2, 3))
            s1, s2 = (a, b) if s1 is None else (s1 + a, s2 + b)
            count += v.shape[2] * v.shape[3]
        if into is None:
            mean = s1 / count
            return mean.reshape(1, -1, 1, 1).astype(np.float32), (s2 / count - mean * mean).reshape(1, -1, 1, 1).astype(np.float32)

    source = CONTRACT_OUTPUT
    norm = iter(stats)
    for block in BLOCK_OUTPUTS:
        for _ in range(2):
            mean, var, _ = next(norm)
            conv = mean[: -len("StyleNorm/moments/mean_prequant")] + "Conv2D_prequant"
            known[mean], known[var] = run(segment([source, "style_embedding", *names], conv), source, checkpoint, 1, None)
        following = np.zeros_like(checkpoint)
        run(segment([source, "style_embedding", *names], block), source, checkpoint, 1, following)
        checkpoint, source = following, block
    for scale in (2, 4, 4):  # the expand part's norms, at 1/2 and full resolution
        mean, var, _ = next(norm)
        conv = mean[: -len("StyleNorm/moments/mean_prequant")] + "Conv2D_prequant"
        known[mean], known[var] = run(segment([source, "style_embedding", *names], conv), source, checkpoint, scale, None)
    out = np.zeros((1, n, n, 3), np.uint8)
    run(segment([source, "style_embedding", *names], "stylized_image"), source, checkpoint, 4, out)
    return out


if __name__ == "__main__":
    main()
