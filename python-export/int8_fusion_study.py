#!/usr/bin/env python3
"""Why ONNX Runtime's CPU provider runs the published int8 transformer in float, and what making
its convolutions integer kernels gives (issue #9, deliverable 1). Writes the rewritten graphs to
--out and prints, for each: ORT's fused node counts, the difference from the published model on
the golden images, and the time per frame beside the published int8 and the fp32 graphs.

    python3 -m pip install -r python-export/requirements.txt
    python3 python-export/int8_fusion_study.py [--out /tmp/int8]

What the published graph is: every activation goes Pad (float) -> QuantizeLinear (int8, signed
zero points) -> DequantizeLinear -> Conv (per-channel int8 weights) -> QuantizeLinear -> ...
ONNX Runtime's x86 selector for QDQ convolutions takes uint8 activations only, and its
int8->uint8 conversion applies to single-consumer Q->DQ pairs, which this graph's branches are
not: so no convolution fuses (41 Conv stay float). The rewrites here keep every scale and shift
zero points by exactly 128 where the type becomes uint8 (bit-exact), and give each convolution
its own int32 bias with scale input_scale x weight_scale (the residual convolutions share one
all-zero bias whose scale is arbitrary):

  * conv-inputs: only the tensors that feed a convolution become uint8;
  * conv-io: also the convolutions' outputs (what the fused kernel needs);
  * all: every activation.
"""
from __future__ import annotations

import argparse
import collections
import json
import statistics
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = ROOT / "models" / "style_transform.onnx"
FP32 = ROOT / "models" / "style_transform_fp32.onnx"
DATA = ROOT / "tests" / "data"


def rewrite(mode: str) -> onnx.ModelProto:
    m = onnx.load(PUBLISHED)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    consumers = collections.defaultdict(list)
    for n in g.node:
        for i in n.input:
            consumers[i].append(n)

    def feeds_conv(q) -> bool:
        return any(d.op_type == "DequantizeLinear"
                   and any(c.op_type == "Conv" and c.input[0] == d.output[0] for c in consumers[d.output[0]])
                   for d in consumers[q.output[0]])

    def from_conv(q) -> bool:
        p = producer.get(q.input[0])
        return p is not None and p.op_type == "Conv"

    def only_dequantized(q) -> bool:  # every consumer a DequantizeLinear with a zero point
        return all(d.op_type == "DequantizeLinear" and len(d.input) == 3 for d in consumers[q.output[0]])

    chosen = [q for q in g.node if q.op_type == "QuantizeLinear" and len(q.input) == 3 and only_dequantized(q) and (
        mode == "all" or feeds_conv(q) or (mode == "conv-io" and from_conv(q)))]
    for k, q in enumerate(chosen):
        zero = numpy_helper.to_array(inits[q.input[2]])
        name = f"zero_point_u8_{k}"
        g.initializer.append(numpy_helper.from_array((zero.astype(np.int16) + 128).astype(np.uint8), name))
        q.input[2] = name
        for d in consumers[q.output[0]]:
            d.input[2] = name
    for n in list(g.node):
        if n.op_type != "Conv" or len(n.input) < 3:
            continue
        b, x, w = producer.get(n.input[2]), producer.get(n.input[0]), producer.get(n.input[1])
        if not all(p is not None and p.op_type == "DequantizeLinear" for p in (b, x, w)):
            continue
        arr = lambda t: numpy_helper.to_array(inits[t]).astype(np.float64)  # noqa: E731
        bias = arr(b.input[0]) * arr(b.input[1])
        scale = np.broadcast_to((arr(x.input[1]) * arr(w.input[1])).astype(np.float32), bias.shape).copy()
        q = np.round(bias / scale.astype(np.float64)).astype(np.int32)
        name = n.name + "_bias"
        g.initializer.extend([numpy_helper.from_array(q, name + "_q"), numpy_helper.from_array(scale, name + "_scale"),
                              numpy_helper.from_array(np.zeros(q.shape, np.int32), name + "_zero")])
        g.node.insert(list(g.node).index(n), onnx.helper.make_node(
            "DequantizeLinear", [name + "_q", name + "_scale", name + "_zero"], [name + "_dq"], name=name + "_dequant", axis=0))
        n.input[2] = name + "_dq"
    onnx.checker.check_model(m)
    return m


def session(path: Path, optimized: Path | None = None) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.log_severity_level = 3
    if optimized:
        so.optimized_model_filepath = str(optimized)
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def fused_counts(path: Path, out: Path) -> str:
    optimized = out / (path.stem + "_ort_optimized.onnx")
    session(path, optimized)
    c = collections.Counter(n.op_type for n in onnx.load(optimized).graph.node)
    return f"QLinearConv {c['QLinearConv']}, Conv {c['Conv']}, QLinearMul {c['QLinearMul']}, QLinearAdd {c['QLinearAdd']}"


def stylize(sess: ort.InferenceSession, rgb: np.ndarray, emb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    padded = np.pad(rgb, ((0, -h % 4), (0, -w % 4), (0, 0)), mode="reflect")
    out = sess.run(None, {"content_image": (padded.astype(np.float32) / 255)[None], "style_embedding": emb})[0]
    return np.clip(np.round(out[0, :h, :w] * 255), 0, 255)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/int8"))
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    golden = json.loads((DATA / "golden.json").read_text())
    emb = np.array(golden["style_embedding"], np.float32).reshape(1, 1, 1, 100)
    paths = {"published": PUBLISHED}
    for mode in ("conv-inputs", "conv-io", "all"):
        paths[mode] = args.out / f"style_transform_{mode}.onnx"
        onnx.save(rewrite(mode), paths[mode])

    published = session(PUBLISHED)
    print("| graph | ORT's optimised graph | mean abs vs published, per golden case (/255, worst channel) |\n|---|---|---|")
    for name, path in paths.items():
        s = session(path)
        diffs = []
        for case in golden["cases"]:
            rgb = np.asarray(Image.open(DATA / case["content"]).convert("RGB"))
            d = np.abs(stylize(s, rgb, emb) - stylize(published, rgb, emb)).mean(axis=(0, 1)).max()
            diffs.append(f"{case['content']} {d:.3f}")
        print(f"| {name} | {fused_counts(path, args.out)} | {'; '.join(diffs)} |")

    sessions = {k: session(p) for k, p in paths.items()} | {"fp32": session(FP32)}
    print(f"\n| size | " + " | ".join(f"{k} ms" for k in sessions) + " |\n|---|" + "---|" * len(sessions))
    for h, w in ((384, 384), (480, 640)):
        xf = np.random.default_rng(1).random((1, h, w, 3), dtype=np.float32)
        xu = (xf * 255).astype(np.uint8)
        times = {k: [] for k in sessions}
        for r in range(args.runs + 1):  # alternating, the first round a warm-up
            for k, s in sessions.items():
                x = xu if k == "fp32" else xf
                t = time.perf_counter()
                s.run(None, {"content_image": x, "style_embedding": emb})
                if r:
                    times[k].append((time.perf_counter() - t) * 1e3)
        print(f"| {w}x{h} | " + " | ".join(f"{statistics.median(v):.1f}" for v in times.values()) + " |")


if __name__ == "__main__":
    main()
