#!/usr/bin/env python3
"""Cut the transformation network into the segments brushwork runs tile by tile (issue #12).

    python3 -m pip install -r python-export/requirements.txt
    python3 python-export/tiling.py          # writes models/tiled_fp32.bundle, tiled_fp16.bundle

Why: the network is fully convolutional, but each of its 13 conditional instance norms
normalises with the mean and variance of its input over the *whole* picture. Tiles that each
compute their own statistics show seams and colour shifts (see tiling_study.py). So the network
is cut at every norm: a segment ends where a norm's statistics are needed; brushwork runs it
tile by tile (each tile with a halo that covers the segment's receptive field), sums the
statistics of every tile's own region in float64, and only then runs the next segment, which
takes the finished mean and variance as inputs. The statistics are exact, not estimated.

The segments come from the committed fp32 and fp16 graphs (models/style_transform_fp32.onnx,
style_transform_fp16.onnx), with the norms' `moments/mean` and `moments/variance` turned from
computed tensors into inputs. Every tensor that crosses a cut is float32 (the fp16 segments cast
at their edges), so brushwork keeps one kind of buffer.

The stages, in order, each a segment run over every tile; each output is kept (in fp16, until
the last stage that reads it) or summed into a norm's statistics, or both. Every convolution
runs once, except the expand part's second one: the full-resolution 8-channel tensor it gives
is not kept (it would be the largest buffer, 16 bytes a pixel); it runs once for its norm's
statistics and again inside the segment that gives the last convolution's 3-channel output,
which is kept. A residual block's sum is computed by the segment after it.

Each bundle is one file: b"BWTILES1", the header's length (u32, little-endian), the header
(JSON: tensors, norms, segments with their byte ranges, stages), then the segments' ONNX bytes.
The script checks, with onnxruntime, that the stages run tile by tile give the untiled output.
"""
from __future__ import annotations

import argparse
import copy
import json
import struct
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, shape_inference
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
MAGIC = b"BWTILES1"
QUARTER = 4  # the network's stride: tiles are laid out on the 1/4-resolution grid


def norms(model: onnx.ModelProto) -> list[dict]:
    """Each instance norm, in graph order: its input, its mean and variance tensors, channels."""
    producer = {o: n for n in model.graph.node for o in n.output}
    inits = {i.name: i for i in model.graph.initializer}
    found = []
    for n in model.graph.node:
        if n.op_type == "GlobalAveragePool" and n.output[0].endswith("moments/mean_prequant"):
            x = n.input[0]
            conv = producer[x]
            assert conv.op_type == "Conv", conv.op_type
            base = n.output[0][: -len("mean_prequant")]
            found.append({"input": x, "mean": n.output[0], "variance": base + "variance_prequant",
                          "channels": inits[conv.input[1]].dims[0]})
    assert len(found) == 13, len(found)
    return found


def fixed(model: onnx.ModelProto, stats: list[dict]) -> onnx.ModelProto:
    """The network with each norm's mean and variance given, not computed."""
    m = copy.deepcopy(model)
    given = {s[k] for s in stats for k in ("mean", "variance")}
    kept = [n for n in m.graph.node if n.output[0] not in given]
    del m.graph.node[:]
    m.graph.node.extend(kept)
    return m


def elem_types(model: onnx.ModelProto) -> dict[str, int]:
    inferred = shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in
             list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)}
    types.update({i.name: i.data_type for i in model.graph.initializer})
    return types


def segment(model: onnx.ModelProto, types: dict[str, int], inputs: list[str], outputs: list[str],
            channels: dict[str, int], stat_names: set[str], name: str) -> onnx.ModelProto:
    """The nodes between `inputs` (and any statistics or the embedding they need) and `outputs`,
    as a model whose cut tensors are float32 [1, C, h, w] and statistics float32 [1, C, 1, 1]."""
    producer = {o: n for n in model.graph.node for o in n.output}
    inits = {i.name: i for i in model.graph.initializer}
    graph_inputs = {i.name: i for i in model.graph.input}
    graph_outputs = {o.name: o for o in model.graph.output}
    stop = set(inputs) | stat_names | set(graph_inputs)
    nodes, seen, used_inputs, todo = [], set(), [], list(outputs)
    while todo:
        t = todo.pop()
        if t in seen or t in inits or t == "":
            continue
        seen.add(t)
        if t in stop:
            used_inputs.append(t)
            continue
        n = producer[t]
        if id(n) not in {id(x) for x in nodes}:
            nodes.append(n)
            todo.extend(n.input)
    for must in inputs:
        if must not in used_inputs:
            sys.exit(f"segment {name}: {must} is not on the path to {outputs}")
    order = {id(n): i for i, n in enumerate(model.graph.node)}
    nodes = [copy.deepcopy(n) for n in sorted(nodes, key=lambda n: order[id(n)])]
    pre, post, ins, outs = [], [], [], []
    for t in sorted(used_inputs, key=lambda t: (t not in inputs, inputs.index(t) if t in inputs else 0, t)):
        if t in graph_inputs:
            ins.append(copy.deepcopy(graph_inputs[t]))
            continue
        shape = [1, channels[t], 1, 1] if t not in inputs else [1, channels[t], "h", "w"]
        ins.append(helper.make_tensor_value_info(t, TensorProto.FLOAT, shape))
        if types.get(t, TensorProto.FLOAT) != TensorProto.FLOAT:
            for n in nodes:
                n.input[:] = [t + "__cast" if x == t else x for x in n.input]
            pre.append(helper.make_node("Cast", [t], [t + "__cast"], to=types[t]))
    for output in outputs:
        if output in graph_outputs:
            outs.append(copy.deepcopy(graph_outputs[output]))
            continue
        outs.append(helper.make_tensor_value_info(output, TensorProto.FLOAT, [1, channels[output], "h", "w"]))
        if types.get(output, TensorProto.FLOAT) != TensorProto.FLOAT:
            for n in nodes:
                n.output[:] = [output + "__cast" if x == output else x for x in n.output]
                n.input[:] = [output + "__cast" if x == output else x for x in n.input]
            post.append(helper.make_node("Cast", [output + "__cast"], [output], to=TensorProto.FLOAT))
    used = {x for n in nodes for x in n.input}
    graph = helper.make_graph(pre + nodes + post, name, ins, outs,
                              [copy.deepcopy(inits[i]) for i in sorted(used) if i in inits])
    m = helper.make_model(graph, opset_imports=model.opset_import, ir_version=model.ir_version)
    m.producer_name = "brushwork python-export/tiling.py"
    onnx.checker.check_model(m)
    return m


def cut_points(model: onnx.ModelProto) -> dict:
    """The tensors kept between segments besides the norms' inputs."""
    by_output = {o: n for n in model.graph.node for o in n.output}
    contract = by_output["transformer/residual/residual1/MirrorPad"].input[0]
    blocks = [f"transformer/residual/residual{b}/add_prequant" for b in range(1, 6)]
    for b in blocks:
        assert b in by_output, b
    return {"contract": contract, "blocks": blocks}


def build(model: onnx.ModelProto, variant: str) -> tuple[dict, list[bytes]]:
    stats = norms(model)
    cuts = cut_points(model)
    fx = fixed(model, stats)
    types = elem_types(model)
    x = [s["input"] for s in stats]
    channels = {s["input"]: s["channels"] for s in stats}
    channels.update({s[k]: s["channels"] for s in stats for k in ("mean", "variance")})
    stat_names = {s[k] for s in stats for k in ("mean", "variance")}
    channels[cuts["contract"]] = 32
    channels.update({b: 32 for b in cuts["blocks"]})
    # Where each tensor lives: the downsampling factor of the padded picture.
    scale = {cuts["contract"]: 4, **{b: 4 for b in cuts["blocks"]}, **{t: 4 for t in x[:10]},
             x[10]: 2, x[11]: 1, x[12]: 1, "content_image": 1, "stylized_image": 1}

    segments: dict[str, dict] = {}
    blobs: list[bytes] = []
    stages: list[dict] = []

    def stage(name: str, inputs: list[str], outputs: list[tuple[str, int | None, bool]], halo: int):
        """A segment and how its outputs are used: (tensor, norm whose statistics it gives, kept)."""
        m = segment(fx, types, inputs, [o for o, _, _ in outputs], channels, stat_names, name)
        data = m.SerializeToString()
        segments[name] = {"inputs": inputs, "outputs": [o for o, _, _ in outputs], "halo": halo,
                          "stat_inputs": [i.name for i in m.graph.input
                                          if i.name not in inputs and i.name != "style_embedding"],
                          "embedding": any(i.name == "style_embedding" for i in m.graph.input),
                          "bytes": len(data)}
        blobs.append(data)
        stages.append({"segment": name,
                       "outputs": [{"tensor": o, "stats": n, "keep": keep} for o, n, keep in outputs]})

    # Halo: how many 1/4-resolution pixels each side of a tile the segment's outputs depend on
    # (their receptive field through the reflect pads, rounded up). A residual block's sum is
    # computed by the segment after it, which reads both of its terms: one pass fewer.
    stage("contract", ["content_image"], [(cuts["contract"], None, True)], 2)
    stage("block1.conv1", [cuts["contract"]], [(x[0], 0, True)], 1)
    stage("block1.conv2", [x[0]], [(x[1], 1, True)], 1)
    before = cuts["contract"]
    for b in range(1, 5):
        n1, n2 = 2 * b, 2 * b + 1
        stage(f"block{b + 1}.conv1", [before, x[n1 - 1]], [(cuts["blocks"][b - 1], None, True), (x[n1], n1, True)], 1)
        stage(f"block{b + 1}.conv2", [x[n1]], [(x[n2], n2, True)], 1)
        before = cuts["blocks"][b - 1]
    stage("expand1", [before, x[9]], [(x[10], 10, True)], 1)
    stage("expand2", [x[10]], [(x[11], 11, False)], 1)
    stage("expand3", [x[10]], [(x[12], 12, True)], 2)
    stage("picture", [x[12]], [("stylized_image", None, True)], 0)
    offset = 0
    for name, data in zip(list(segments), blobs):
        segments[name]["offset"] = offset
        offset += len(data)

    pixels = "u8" if model.graph.input[0].type.tensor_type.elem_type == TensorProto.UINT8 else "f32"
    header = {
        "variant": variant,
        "pixels": pixels,
        "tensors": {t: {"channels": channels.get(t, 3), "scale": s} for t, s in scale.items()},
        "norms": [{"input": s["input"], "mean": s["mean"], "variance": s["variance"],
                   "channels": s["channels"]} for s in stats],
        "segments": segments,
        "stages": stages,
    }
    return header, blobs


def pack(header: dict, blobs: list[bytes]) -> bytes:
    h = json.dumps(header, indent=1).encode()
    return MAGIC + struct.pack("<I", len(h)) + h + b"".join(blobs)


def unpack(data: bytes) -> tuple[dict, dict[str, bytes]]:
    assert data[:8] == MAGIC
    (n,) = struct.unpack("<I", data[8:12])
    header = json.loads(data[12:12 + n])
    base = 12 + n
    return header, {k: data[base + s["offset"]: base + s["offset"] + s["bytes"]]
                    for k, s in header["segments"].items()}


def session(data: bytes) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.log_severity_level = 3
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])


def run_tiled(header: dict, models: dict[str, bytes], content: np.ndarray, emb: np.ndarray,
              tile_q: int) -> np.ndarray:
    """What brushwork does (src/stylizer/tiled.rs), in numpy: the reference for its tests."""
    sessions = {k: session(v) for k, v in models.items()}
    hq, wq = content.shape[1] // QUARTER, content.shape[2] // QUARTER
    tensors = header["tensors"]
    buffers = {"content_image": content}
    known: dict[str, np.ndarray] = {}
    picture = None
    for stage in header["stages"]:
        seg = header["segments"][stage["segment"]]
        sess = sessions[stage["segment"]]
        halo = seg["halo"]
        kept: dict[str, np.ndarray] = {}
        sums: dict[int, np.ndarray] = {}
        for y0 in range(0, hq, tile_q):
            for x0 in range(0, wq, tile_q):
                y1, x1 = min(y0 + tile_q, hq), min(x0 + tile_q, wq)
                a0, b0 = max(0, y0 - halo), max(0, x0 - halo)
                a1, b1 = min(hq, y1 + halo), min(wq, x1 + halo)
                feed = {k: known[k] for k in seg["stat_inputs"]}
                if seg["embedding"]:
                    feed["style_embedding"] = emb
                for name in seg["inputs"]:
                    f = QUARTER // tensors[name]["scale"]
                    buf = buffers[name]
                    feed[name] = (buf[:, a0 * f:a1 * f, b0 * f:b1 * f] if name == "content_image"
                                  else buf[:, :, a0 * f:a1 * f, b0 * f:b1 * f])
                for out, o in zip(stage["outputs"], sess.run(seg["outputs"], feed)):
                    target = out["tensor"]
                    if target == "stylized_image":
                        if picture is None:
                            picture = np.zeros(content.shape, o.dtype)
                        picture[:, y0 * 4:y1 * 4, x0 * 4:x1 * 4] = \
                            o[:, (y0 - a0) * 4:(y1 - a0) * 4, (x0 - b0) * 4:(x1 - b0) * 4]
                        continue
                    f = QUARTER // tensors[target]["scale"]
                    v = o[:, :, (y0 - a0) * f:(y1 - a0) * f, (x0 - b0) * f:(x1 - b0) * f]
                    if out["keep"]:
                        if target not in kept:
                            kept[target] = np.zeros((1, tensors[target]["channels"], hq * f, wq * f), np.float16)
                        kept[target][:, :, y0 * f:y1 * f, x0 * f:x1 * f] = v
                    if out["stats"] is not None:
                        v = v.astype(np.float64)
                        a = np.stack([v.sum(axis=(0, 2, 3)), (v * v).sum(axis=(0, 2, 3))])
                        sums[out["stats"]] = sums[out["stats"]] + a if out["stats"] in sums else a
        for n, total in sums.items():
            norm = header["norms"][n]
            count = content.shape[1] * content.shape[2] // (header["tensors"][norm["input"]]["scale"] ** 2)
            mean = total[0] / count
            known[norm["mean"]] = mean.reshape(1, -1, 1, 1).astype(np.float32)
            known[norm["variance"]] = np.maximum(total[1] / count - mean * mean, 0).reshape(1, -1, 1, 1).astype(np.float32)
        buffers.update({k: v.astype(np.float32) for k, v in kept.items()})
    return picture


def check(model_path: Path, header: dict, models: dict[str, bytes]) -> None:
    """The tiled run against the untiled network on an example photo with sensor noise."""
    im = Image.open(ROOT / "examples" / "content" / "picabo_lava.jpg").convert("RGB").resize((720, 544))
    x = np.asarray(im).astype(np.float32) + np.random.default_rng(1).normal(0, 6, (544, 720, 3))
    content = np.clip(x, 0, 255).astype(np.uint8)[None]
    style = json.loads((ROOT / "styles" / "towers.style.json").read_text())["embedding"]
    emb = np.array(style, dtype=np.float32).reshape(1, 1, 1, 100)
    ref = session(model_path.read_bytes()).run(None, {"content_image": content, "style_embedding": emb})[0]
    out = run_tiled(header, models, content, emb, tile_q=40)
    d = np.abs(out.astype(np.float64) - ref.astype(np.float64))
    print(f"  {header['variant']}: 720x544 in 160 px tiles vs untiled: mean {d.mean():.4f}/255, max {d.max():.0f}")
    if d.mean() > 0.1 or d.max() > 8:
        sys.exit(f"{header['variant']}: tiled output differs from untiled")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-check", action="store_true", help="write the bundles without checking them")
    args = ap.parse_args()
    for variant in ("fp32", "fp16"):
        path = MODELS / f"style_transform_{variant}.onnx"
        header, blobs = build(onnx.load(path), variant)
        data = pack(header, blobs)
        out = MODELS / f"tiled_{variant}.bundle"
        out.write_bytes(data)
        print(f"wrote {out.relative_to(ROOT)}: {len(header['segments'])} segments, {len(data) / 1e6:.2f} MB")
        if not args.no_check:
            check(path, *unpack(data))


if __name__ == "__main__":
    main()
