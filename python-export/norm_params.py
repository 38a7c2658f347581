#!/usr/bin/env python3
"""Split the fp32 transformer into its trunk and the norms' parameters, for OpenVINO (issue #21).

    python3 -m pip install -r python-export/requirements.txt
    python3 python-export/norm_params.py   # writes models/style_transform_trunk.onnx,
                                           # models/norm_params.bin

The 13 conditional instance norms take their scales and shifts from the style embedding through
26 1x1 convolutions (`style_params/...`): an affine function of the 100 numbers, the same for
every pixel and every frame of a style. Inside the network OpenVINO compiles them with the
rest (about 110 ms of a 430 ms compile at 1080p on 2 cores, for each new picture size) and, in bf16,
rounds their weights to bf16, so every norm's scale is off by up to 2^-9 of itself.

So for OpenVINO the graph is split: `style_transform_trunk.onnx` is the fp32 transformer with
each of those 26 tensors as an input ([1, C, 1, 1], named as in the full graph), and
`norm_params.bin` holds their weights, which brushwork applies in f32, once per style
(src/norm_params.rs). The file: b"BWNORMS1", the header's length (u32, little-endian), the
header (JSON: the embedding's length and, per input, its name, channels and offset in floats),
then float32 little-endian values: for each input, its C x 100 weights (row by row), then its C
biases.

The script checks, with onnxruntime, that the trunk fed the parameters gives the full graph's
output on the example photos.
"""
from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
import onnx
import onnx.utils
import onnxruntime as ort
from onnx import numpy_helper
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
MAGIC = b"BWNORMS1"
EMBEDDING = "style_embedding"


def style_params(model: onnx.ModelProto) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Each 1x1 convolution of the embedding: its output's name, weights (C x E) and biases."""
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    made = {o: n for n in model.graph.node for o in n.output}
    out = []
    for n in model.graph.node:
        if n.op_type != "Conv" or not n.name.startswith("style_params/"):
            continue
        source = made[n.input[0]]
        assert source.op_type == "Reshape" and source.input[0] == EMBEDDING, source
        w = init[n.input[1]]
        assert w.shape[2:] == (1, 1), w.shape
        b = init[n.input[2]] if len(n.input) > 2 else np.zeros(w.shape[0], np.float32)
        out.append((n.output[0], w[:, :, 0, 0].astype(np.float32), b.astype(np.float32)))
    return out


def pack(params, embedding_len: int) -> bytes:
    header = {"embedding": embedding_len, "params": []}
    values = []
    offset = 0
    for name, w, b in params:
        header["params"].append({"name": name, "channels": int(w.shape[0]), "offset": offset})
        values += [w.reshape(-1), b]
        offset += w.size + b.size
    h = json.dumps(header, indent=1).encode()
    return MAGIC + struct.pack("<I", len(h)) + h + np.concatenate(values).astype("<f4").tobytes()


def unpack(data: bytes) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The inverse of `pack`: each input's name, weights (C x E) and biases."""
    assert data[:8] == MAGIC
    (n,) = struct.unpack("<I", data[8:12])
    header = json.loads(data[12:12 + n])
    values = np.frombuffer(data[12 + n:], "<f4")
    e = header["embedding"]
    out = []
    for p in header["params"]:
        c, o = p["channels"], p["offset"]
        out.append((p["name"], values[o:o + c * e].reshape(c, e), values[o + c * e:o + c * e + c]))
    return out


def feed(params, embedding: np.ndarray) -> dict[str, np.ndarray]:
    """The trunk's norm inputs for a style, as brushwork computes them (f64 sums, f32 values)."""
    e = embedding.reshape(-1).astype(np.float64)
    return {name: (w.astype(np.float64) @ e + b).astype(np.float32).reshape(1, -1, 1, 1)
            for name, w, b in params}


def trunk(source: Path, params) -> onnx.ModelProto:
    names = [name for name, _, _ in params]
    model = onnx.load(source)
    extracted = onnx.utils.Extractor(onnx.shape_inference.infer_shapes(model)).extract_model(["content_image"] + names, ["stylized_image"])
    for i in extracted.graph.input:
        if i.name in names:
            dims = i.type.tensor_type.shape.dim
            assert len(dims) == 4 and dims[1].dim_value > 0, i
            for k in (0, 2, 3):
                dims[k].Clear()
                dims[k].dim_value = 1
    # The content input keeps its symbolic height and width.
    for i in extracted.graph.input:
        if i.name == "content_image":
            for k, d in zip((1, 2), ("height", "width")):
                i.type.tensor_type.shape.dim[k].dim_param = d
    extracted.ir_version = model.ir_version
    del extracted.opset_import[:]
    extracted.opset_import.extend(model.opset_import)
    del extracted.metadata_props[:]
    extracted.metadata_props.extend(model.metadata_props)
    extracted.producer_name, extracted.producer_version = model.producer_name, model.producer_version
    extracted.metadata_props.add(key="brushwork.variant",
                                 value="trunk, the norms' scales and shifts as inputs: python-export/norm_params.py")
    onnx.checker.check_model(extracted)
    return extracted


def session(model: bytes) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.log_severity_level = 3
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def check(source: Path, trunk_model: onnx.ModelProto, params) -> None:
    full, cut = session(source.read_bytes()), session(trunk_model.SerializeToString())
    worst = 0.0
    for style in sorted((ROOT / "styles").glob("*.style.json"))[:3]:
        e = np.array(json.loads(style.read_text())["embedding"], np.float32)
        inputs = feed(params, e)
        for photo in sorted((ROOT / "examples" / "content").glob("*.jpg")):
            rgb = np.asarray(Image.open(photo).convert("RGB").resize((320, 240)))[None]
            a = full.run(None, {"content_image": rgb, EMBEDDING: e.reshape(1, 1, 1, -1)})[0]
            b = cut.run(None, dict(inputs, content_image=rgb))[0]
            d = np.abs(a.astype(np.float64) - b.astype(np.float64))
            worst = max(worst, d.mean())
            if d.max() > 1:
                sys.exit(f"{photo.name} with {style.name}: trunk differs from the full graph by {d.max()}")
    print(f"  trunk + parameters vs full graph: worst mean {worst:.4f}/255 (3 styles x 4 photos)")
    if worst > 0.01:
        sys.exit("the trunk does not give the full graph's pictures")


def main() -> None:
    source = MODELS / "style_transform_fp32.onnx"
    params = style_params(onnx.load(source))
    print(f"{len(params)} parameter convolutions, {sum(w.shape[0] for _, w, _ in params)} channels")
    trunk_model = trunk(source, params)
    check(source, trunk_model, params)
    onnx.save(trunk_model, MODELS / "style_transform_trunk.onnx")
    (MODELS / "norm_params.bin").write_bytes(pack(params, params[0][1].shape[1]))
    print("wrote models/style_transform_trunk.onnx, models/norm_params.bin")


if __name__ == "__main__":
    main()
