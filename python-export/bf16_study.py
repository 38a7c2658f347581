"""How far OpenVINO's bf16 is from fp32, and what keeping parts of the network in f32 buys.

    python3 -m pip install -r python-export/requirements.txt
    python3 python-export/bf16_study.py

brushwork's default on a CPU with AVX-512 BF16 or AMX runs `models/style_transform_fp32.onnx`
on OpenVINO with INFERENCE_PRECISION_HINT=bf16. This script runs the same graph on OpenVINO in
f32 (the reference) and in bf16 on a set of pictures chosen to be hard for bf16: the example
photos, a nearly flat sky (a gradient with sigma 0.6 noise), line art, a flat grey picture with
one red square, against the example paintings and two high-contrast synthetic ones. It prints
per-picture mean absolute differences (of 255).

It also measures:
- what pinning parts of the network to f32 buys (OpenVINO keeps nodes marked with the
  `precise` runtime attribute in their precision; ONNX cannot carry it, so the graph is saved as
  OpenVINO IR and the attribute added to the chosen layers): the instance norms (statistics,
  per-channel arithmetic and the normalisation), then also the first and last layers;
- how sensitive the fp32 network itself is on each picture: the change in its output when a
  tenth of the pixels move by one level (what re-saving a photo does), to set bf16's error
  beside a change nobody can see in the input.

Measured on an Intel Xeon with AMX, 2 threads, 640x480 (the README's bf16 paragraph):
see the README, section OpenVINO. `ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 python3 ...` there holds
OpenVINO's bf16 convolutions to the kernels of a CPU with AVX-512 BF16 but no AMX (AMD Zen 4),
whose figures the README gives beside AMX's.
"""

import glob
import os
import re
import tempfile
import time

import numpy as np
import onnxruntime as ort
import openvino as ov
from PIL import Image, ImageDraw

import norm_params

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
H, W = 480, 640
core = ov.Core()


def contents():
    rng = np.random.default_rng(7)
    out = {}
    for p in sorted(glob.glob(f"{ROOT}/examples/content/*.jpg")):
        im = Image.open(p).convert("RGB").resize((W, H), Image.LANCZOS)
        out[os.path.basename(p)] = np.asarray(im)
    y = np.linspace(0, 1, H)[:, None]
    sky = np.stack([90 + 100 * y, 140 + 80 * y, 230 + 20 * y], 2) * np.ones((H, W, 1))
    out["flat sky (noise 0.6)"] = np.clip(sky + rng.normal(0, 0.6, sky.shape), 0, 255).astype(np.uint8)
    im = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(im)
    for _ in range(12):
        d.line([tuple(rng.integers((W, H))), tuple(rng.integers((W, H)))], fill="black", width=2)
    for k in range(5):
        d.ellipse([k * 80 + 10, 100, k * 80 + 70, 160], outline="black", width=2)
    out["line art"] = np.asarray(im)
    grey = np.full((H, W, 3), 128, np.uint8)
    grey[150:200, 200:260] = [200, 30, 30]
    out["grey, one red square"] = grey
    return out


def styles():
    predict = ort.InferenceSession(f"{ROOT}/models/style_predict.onnx")

    def embed(im):
        a = np.asarray(im.convert("RGB").resize((256, 256), Image.LANCZOS), np.float32)[None] / 255
        return predict.run(None, {"style_image": a})[0].astype(np.float32)

    out = {}
    for p in sorted(glob.glob(f"{ROOT}/examples/styles/*.jpg")):
        out[os.path.basename(p)] = embed(Image.open(p))
    i = np.arange(256)
    board = ((i[:, None] // 32 + i[None, :] // 32) % 2 * 255).astype(np.uint8)
    out["checkerboard"] = embed(Image.fromarray(np.repeat(board[:, :, None], 3, 2)))
    stripes = np.zeros((256, 256, 3), np.uint8)
    stripes[:, (i // 16) % 2 == 0] = [255, 220, 0]
    out["yellow stripes"] = embed(Image.fromarray(stripes))
    return out


def ir_with_pins(xml, names):
    """The IR text with the `precise` attribute on every layer named in `names`."""
    pinned = '\t<rt_info>\n\t\t\t\t<attribute name="precise" version="0" />\n\t\t\t</rt_info>\n\t\t</layer>'
    parts = []
    for chunk in re.split(r"(?<=</layer>)", xml):
        m = re.search(r'<layer id="\d+" name="([^"]*)"', chunk)
        parts.append(chunk.replace("</layer>", pinned) if m and m.group(1) in names else chunk)
    return "".join(parts)


class Trunk:
    """What brushwork runs on OpenVINO: models/style_transform_trunk.onnx, fed the norms' scales
    and shifts computed in f32 from models/norm_params.bin (see python-export/norm_params.py)."""

    def __init__(self, precision, height=H, width=W):
        self.params = norm_params.unpack(open(f"{ROOT}/models/norm_params.bin", "rb").read())
        m = core.read_model(f"{ROOT}/models/style_transform_trunk.onnx")
        m.reshape({"content_image": [1, height, width, 3]})
        config = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": "2"}
        self.net = core.compile_model(m, "CPU", config)

    def __call__(self, picture, style):
        inputs = norm_params.feed(self.params, style)
        return self.net(dict(inputs, content_image=picture[None]))[0][0].astype(np.int16)


def main():
    tmp = tempfile.mkdtemp()
    model = core.read_model(f"{ROOT}/models/style_transform_fp32.onnx")
    ov.save_model(model, f"{tmp}/t.xml", compress_to_fp16=False)
    xml = open(f"{tmp}/t.xml").read()
    weights = ov.Tensor(np.fromfile(f"{tmp}/t.bin", dtype=np.uint8))
    names = [op.get_friendly_name() for op in model.get_ordered_ops()]
    norms = {n for n in names if "/StyleNorm/" in n}
    for op in model.get_ordered_ops():  # the normalisation itself: x * scale + shift
        if "batchnorm/mul_1" in op.get_friendly_name():
            for t in op.output(0).get_target_inputs():
                norms.add(t.get_node().get_friendly_name())
    ends = {
        n
        for n in names
        if n.startswith(("transformer/contract/conv1", "transformer/expand/conv3", "stylized_", "content_"))
        or n == "transformer/contract/MirrorPad"
    }

    def compiled(pins, precision):
        m = core.read_model(model=ir_with_pins(xml, pins).encode(), weights=weights)
        m.reshape({"content_image": [1, H, W, 3]})
        config = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}
        return core.compile_model(m, "CPU", config)

    def run(net, picture, style):
        if isinstance(net, Trunk):
            return net(picture, style)
        return net({"content_image": picture[None], "style_embedding": style})[0][0].astype(np.int16)

    pictures, paintings = contents(), styles()
    reference = compiled(set(), "f32")
    refs = {(c, s): run(reference, pictures[c], paintings[s]) for c in pictures for s in paintings}

    print(f"{len(pictures)} pictures x {len(paintings)} paintings at {W}x{H}, mean abs difference from OpenVINO f32 (of 255)\n")
    variants = [
        ("bf16, the trunk with the norms' scales and shifts in f32 (brushwork's default)", "trunk"),
        ("bf16, the whole fp32 graph", set()),
        ("bf16, instance norms pinned to f32", norms),
        ("bf16, norms + first and last layers pinned", norms | ends),
        ("every layer pinned (the CPU plugin still runs pads and resizes in bf16)", set(names)),
    ]
    for label, pins in variants:
        net = Trunk("bf16") if pins == "trunk" else compiled(pins, "bf16")
        rows = {}
        for (c, s), ref in refs.items():
            rows.setdefault(c, []).append(np.abs(run(net, pictures[c], paintings[s]) - ref).mean())
        times = []
        for _ in range(9):
            t = time.perf_counter()
            run(net, pictures["line art"], paintings["checkerboard"])
            times.append(time.perf_counter() - t)
        photos = [v for c, vs in rows.items() if c.endswith(".jpg") for v in vs]
        print(f"{label}: {np.median(times) * 1e3:.0f} ms a frame")
        print(f"  photos: median {np.median(photos):.2f}, worst {max(photos):.2f}")
        for c, vs in rows.items():
            if not c.endswith(".jpg"):
                print(f"  {c}: median {np.median(vs):.2f}, worst {max(vs):.2f}")

    f32 = ort.InferenceSession(f"{ROOT}/models/style_transform_fp32.onnx")
    times = []
    for _ in range(9):
        t = time.perf_counter()
        f32.run(None, {"content_image": pictures["line art"][None], "style_embedding": paintings["checkerboard"]})
        times.append(time.perf_counter() - t)
    print(f"\nONNX Runtime fp32 (--device cpu): {np.median(times) * 1e3:.0f} ms a frame")

    print("\nThe fp32 network's own sensitivity: output change when 10% of the pixels move by one level")
    rng = np.random.default_rng(1)
    for c, picture in pictures.items():
        step = (rng.random(picture.shape) < 0.1) * rng.choice([-1, 1], picture.shape)
        moved = np.clip(picture.astype(np.int16) + step, 0, 255).astype(np.uint8)
        d = [np.abs(run(reference, moved, paintings[s]) - refs[(c, s)]).mean() for s in paintings]
        print(f"  {c}: median {np.median(d):.2f}, worst {max(d):.2f}")


if __name__ == "__main__":
    main()
