#!/usr/bin/env python3
"""The float transformer's instance-norm moments as ReduceMean (what export.py writes) against
GlobalAveragePool (the published graph's op), side by side in one process on the CPU engines:
ONNX Runtime's CPU provider and, where installed, OpenVINO (fp32, and bf16 where the CPU has it).

    python3 python-export/moments_check.py [--runs 8] [--threads 2]

The pooled variant is made here from models/style_transform_fp32.onnx by the inverse rewrite.
Prints, per engine and size, the median ms of each and the mean/max difference of their
pictures (1/255 steps). The runs alternate, so the machine's drift hits both alike.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path

import numpy as np
import onnx
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "style_transform_fp32.onnx"
PHOTO = ROOT / "examples" / "content" / "coast_guard_boat.jpg"
SIZES = ((640, 480), (1920, 1080))


def pooled(model: onnx.ModelProto) -> onnx.ModelProto:
    """ReduceMean over H and W back to GlobalAveragePool."""
    model = copy.deepcopy(model)
    for n in model.graph.node:
        if n.op_type == "ReduceMean" and n.output[0].endswith(
                ("moments/mean_prequant", "moments/variance_prequant")):
            n.op_type = "GlobalAveragePool"
            del n.attribute[:]
    return model


def runners(models: dict[str, bytes], threads: int):
    """(engine, {variant: run(image) -> output})"""
    import onnxruntime as ort

    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    sessions = {k: ort.InferenceSession(b, o, providers=["CPUExecutionProvider"]) for k, b in models.items()}
    yield "onnxruntime cpu fp32", {
        k: (lambda img, emb, s=s: s.run(None, {"content_image": img, "style_embedding": emb})[0])
        for k, s in sessions.items()}
    try:
        import openvino as ov
    except ImportError:
        print("openvino is not installed: its rows are left out")
        return
    core = ov.Core()
    flags = open("/proc/cpuinfo").read()
    precisions = ["f32"] + (["bf16"] if " avx512_bf16" in flags or " amx_bf16" in flags else [])
    for precision in precisions:
        compiled = {}
        for k, b in models.items():
            m = core.read_model(b, b"")
            compiled[k] = core.compile_model(m, "CPU", {
                "INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY",
                "INFERENCE_NUM_THREADS": threads})
        yield f"openvino {precision}", {
            k: (lambda img, emb, c=c: c([img, emb])[c.outputs[0]]) for k, c in compiled.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    reduce_mean = onnx.load(str(MODEL))
    models = {"ReduceMean": reduce_mean.SerializeToString(),
              "GlobalAveragePool": pooled(reduce_mean).SerializeToString()}
    assert models["ReduceMean"] != models["GlobalAveragePool"], "no ReduceMean moments in the model"
    embedding = (np.random.default_rng(0).normal(size=(1, 1, 1, 100)) * 0.5).astype(np.float32)
    photo = Image.open(PHOTO).convert("RGB")
    for engine, run in runners(models, args.threads):
        for w, h in SIZES:
            img = np.asarray(photo.resize((w, h)))[None]
            times: dict[str, list[float]] = {k: [] for k in run}
            out = {}
            for r in range(args.runs + 1):
                for k in (list(run) if r % 2 else list(run)[::-1]):
                    t = time.perf_counter()
                    out[k] = run[k](img, embedding).astype(np.int32)
                    if r:  # the first run of each is warm-up
                        times[k].append(time.perf_counter() - t)
            d = np.abs(out["ReduceMean"] - out["GlobalAveragePool"])
            ms = {k: statistics.median(v) * 1e3 for k, v in times.items()}
            print(f"{engine:22} {w}x{h}: ReduceMean {ms['ReduceMean']:.1f} ms, GlobalAveragePool "
                  f"{ms['GlobalAveragePool']:.1f} ms (ratio {ms['ReduceMean'] / ms['GlobalAveragePool']:.3f}); "
                  f"pictures differ by mean {d.mean():.4f}, max {d.max()}", flush=True)


if __name__ == "__main__":
    main()
