#!/usr/bin/env python3
"""Cut the transformation network into the segments brushwork runs tile by tile (issue #12).

    python3 -m pip install -r python-export/requirements.txt
    python3 python-export/tiling.py   # writes models/tiled_fp32.bundle, tiled_fp16.bundle,
                                      # tiled_multistyle26.bundle, tiled_trunk.bundle

Why: the network is fully convolutional, but each of its 13 conditional instance norms
normalises with the mean and variance of its input over the *whole* picture. Tiles that each
compute their own statistics show seams and colour shifts (see tiling_study.py). So the network
is cut at every norm: a segment ends where a norm's statistics are needed; brushwork runs it
tile by tile (each tile with a halo that covers the segment's receptive field), sums the
statistics of every tile's own region in float64, and only then runs the next segment, which
takes the finished mean and variance as inputs. The statistics are exact, not estimated.

The segments come from the committed fp32 and fp16 graphs (models/style_transform_fp32.onnx,
style_transform_fp16.onnx), the fp32 graph's trunk that OpenVINO runs
(models/style_transform_trunk.onnx, whose inputs are the norms' scales and shifts: its header
lists them as `norm_params`, each segment those it takes as `params`) and the 26-preset network
(models/multistyle26.onnx, given the float transformers' 8-bit NHWC pixels), with the norms'
means and variances turned from computed tensors into inputs. Every tensor that crosses a cut is float32 (the fp16 segments cast
at their edges), so brushwork keeps one kind of buffer.

A plan is a list of stages, in order, each a segment run over every tile; each output is kept
(in fp16, until the last stage that reads it) or summed into a norm's statistics, or both. A
residual block's sum is computed by the segment after it. The arbitrary network has two plans,
fastest first, and brushwork takes the first that fits the memory budget: `fast` runs every
convolution once and keeps the expand part's full-resolution 8-channel tensor (16 bytes a
pixel); `lean` does not keep it, and runs that convolution again inside the segment that gives
the last one's 3-channel output. The multi-style network's one plan runs its first convolution
(32 channels at full resolution, too large to keep) once for its statistics and again inside
the segment that gives the second.

Each bundle is one file: b"BWTILES1", the header's length (u32, little-endian), the header
(JSON: tensors, norms, segments with their byte ranges, plans, and for the trunk its
`norm_params` with their channels), then the segments' ONNX bytes.
The script checks, with onnxruntime, that every plan run tile by tile gives the untiled output.
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
from onnx import TensorProto, helper, numpy_helper, shape_inference
from PIL import Image

import norm_params

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
MAGIC = b"BWTILES1"
QUARTER = 4  # the network's stride: tiles are laid out on the 1/4-resolution grid
EMBEDDING = "style_embedding"


def norms(model: onnx.ModelProto) -> list[dict]:
    """Each instance norm, in graph order: its input, its mean and variance tensors, channels.
    The arbitrary network computes them as `.../moments/mean_prequant` (GlobalAveragePool in the
    published graph, ReduceMean in the float variants), the multi-style one with ReduceMean
    (`.../norm/ReduceMean_output_0`)."""
    producer = {o: n for n in model.graph.node for o in n.output}
    inits = {i.name: i for i in model.graph.initializer}
    found = []
    for n in model.graph.node:
        out = n.output[0]
        if n.op_type in ("GlobalAveragePool", "ReduceMean") and out.endswith("moments/mean_prequant"):
            variance = out[: -len("mean_prequant")] + "variance_prequant"
        elif n.op_type == "ReduceMean" and out.endswith("/norm/ReduceMean_output_0"):
            variance = out[: -len("ReduceMean_output_0")] + "ReduceMean_1_output_0"
        else:
            continue
        conv = producer[n.input[0]]
        assert conv.op_type == "Conv", conv.op_type
        found.append({"input": n.input[0], "mean": out, "variance": variance,
                      "channels": inits[conv.input[1]].dims[0]})
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


def with_u8_nhwc_io(model: onnx.ModelProto) -> onnx.ModelProto:
    """The multi-style network with the arbitrary one's pixels: uint8 NHWC in and out, rounded as
    brushwork rounds (clip to 0..1, * 255, + 0.5, truncate), so one executor serves both."""
    m = copy.deepcopy(model)
    g = m.graph
    for n in g.node:
        n.input[:] = ["content_nchw" if x == "content_image" else x for x in n.input]
        n.output[:] = ["stylized_nchw" if x == "stylized_image" else x for x in n.output]
    pre = [helper.make_node("Cast", ["content_image"], ["content_cast"], to=TensorProto.FLOAT),
           helper.make_node("Div", ["content_cast", "u8_max"], ["content_float"]),
           helper.make_node("Transpose", ["content_float"], ["content_nchw"], perm=[0, 3, 1, 2])]
    post = [helper.make_node("Transpose", ["stylized_nchw"], ["stylized_nhwc"], perm=[0, 2, 3, 1]),
            helper.make_node("Clip", ["stylized_nhwc", "zero_f32", "one_f32"], ["stylized_clipped"]),
            helper.make_node("Mul", ["stylized_clipped", "u8_max"], ["stylized_scaled"]),
            helper.make_node("Add", ["stylized_scaled", "half_f32"], ["stylized_rounded"]),
            helper.make_node("Cast", ["stylized_rounded"], ["stylized_image"], to=TensorProto.UINT8)]
    nodes = pre + list(g.node) + post
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend([numpy_helper.from_array(np.array(v, np.float32), k) for k, v in
                          (("u8_max", 255), ("zero_f32", 0), ("one_f32", 1), ("half_f32", 0.5))])
    content = next(i for i in g.input if i.name == "content_image")
    content.CopyFrom(helper.make_tensor_value_info("content_image", TensorProto.UINT8, [1, "h", "w", 3]))
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("stylized_image", TensorProto.UINT8, [1, "h", "w", 3]))
    del g.value_info[:]
    onnx.checker.check_model(m)
    return m


class Segments:
    """Collects the segments of a bundle and the stages that run them."""

    def __init__(self, model: onnx.ModelProto, params=None):
        self.stats = norms(model)
        self.fx = fixed(model, self.stats)
        self.types = elem_types(model)
        self.x = [s["input"] for s in self.stats]
        self.channels = {s["input"]: s["channels"] for s in self.stats}
        self.channels.update({s[k]: s["channels"] for s in self.stats for k in ("mean", "variance")})
        self.stat_names = {s[k] for s in self.stats for k in ("mean", "variance")}
        styles = {i.name: i for i in model.graph.input if i.name != "content_image"}
        # The trunk (python-export/norm_params.py) takes the norms' scales and shifts, which
        # brushwork computes from the embedding with `params` (norm_params.bin, unpacked):
        # the header lists them with their channels, each segment those it takes.
        self.params = {name: int(w.shape[0]) for name, w, _ in params or []}
        self.embedding_len = int(params[0][1].shape[1]) if params else 0
        for name, channels in self.params.items():
            dims = [d.dim_value for d in styles[name].type.tensor_type.shape.dim]
            assert dims == [1, channels, 1, 1], (name, dims, channels)
        if self.params:
            assert set(styles) == set(self.params), set(styles) ^ set(self.params)
            self.style = EMBEDDING
        else:
            (self.style,) = styles
        self.segments: dict[str, dict] = {}
        self.blobs: list[bytes] = []

    def stage(self, name: str, inputs: list[str], outputs: list[tuple[str, int | None, bool]], halo: int) -> dict:
        """A stage: segment `name` (cut here the first time) and how its outputs are used:
        (tensor, norm whose statistics it gives, kept). `halo`: how many 1/4-resolution pixels
        each side of a tile the outputs depend on (their receptive field through the reflect
        pads, rounded up)."""
        if name not in self.segments:
            m = segment(self.fx, self.types, inputs, [o for o, _, _ in outputs], self.channels,
                        self.stat_names, name)
            data = m.SerializeToString()
            given = [i.name for i in m.graph.input if i.name not in inputs]
            self.segments[name] = {
                "inputs": inputs, "outputs": [o for o, _, _ in outputs], "halo": halo,
                "stat_inputs": [i for i in given if i in self.stat_names],
                "embedding": self.style in given,
                "bytes": len(data)}
            if self.params:
                self.segments[name]["params"] = [i for i in given if i in self.params]
            assert set(given) <= self.stat_names | set(self.params) | {self.style}, given
            self.blobs.append(data)
        return {"segment": name, "outputs": [{"tensor": o, "stats": n, "keep": keep} for o, n, keep in outputs]}

    def bundle(self, model: onnx.ModelProto, variant: str, scale: dict[str, int],
               plans: list[tuple[str, list[dict]]]) -> tuple[dict, list[bytes]]:
        offset = 0
        for name, data in zip(list(self.segments), self.blobs):
            self.segments[name]["offset"] = offset
            offset += len(data)
        if self.params:
            style_shape = [1, 1, 1, self.embedding_len]
        else:
            style = next(i for i in model.graph.input if i.name == self.style)
            style_shape = [d.dim_value for d in style.type.tensor_type.shape.dim]
        header = {
            "variant": variant,
            "pixels": "u8",
            "style_input": self.style,
            "style_shape": style_shape,
            "tensors": {t: {"channels": self.channels.get(t, 3), "scale": s} for t, s in scale.items()},
            "norms": [{"input": s["input"], "mean": s["mean"], "variance": s["variance"],
                       "channels": s["channels"]} for s in self.stats],
            "segments": self.segments,
            "plans": [{"name": name, "stages": stages} for name, stages in plans],
        }
        if self.params:
            # Computed from the embedding by models/norm_params.bin.
            header["norm_params"] = [{"name": n, "channels": c} for n, c in self.params.items()]
        return header, self.blobs


def build(model: onnx.ModelProto, variant: str, params=None) -> tuple[dict, list[bytes]]:
    """The arbitrary network (13 norms): contract (no norm) to 1/4 resolution, five residual
    blocks, expand. A residual block's sum is formed by the segment after it, which reads both
    of its terms: one pass fewer. `params`: for the trunk, norm_params.bin unpacked."""
    seg = Segments(model, params)
    x = seg.x
    assert len(x) == 13, len(x)
    by_output = {o: n for n in model.graph.node for o in n.output}
    contract = by_output["transformer/residual/residual1/MirrorPad"].input[0]
    blocks = [f"transformer/residual/residual{b}/add_prequant" for b in range(1, 6)]
    seg.channels.update({contract: 32, **{b: 32 for b in blocks}})
    common = [seg.stage("contract", ["content_image"], [(contract, None, True)], 2),
              seg.stage("block1.conv1", [contract], [(x[0], 0, True)], 1),
              seg.stage("block1.conv2", [x[0]], [(x[1], 1, True)], 1)]
    before = contract
    for b in range(1, 5):
        n1, n2 = 2 * b, 2 * b + 1
        common.append(seg.stage(f"block{b + 1}.conv1", [before, x[n1 - 1]],
                                [(blocks[b - 1], None, True), (x[n1], n1, True)], 1))
        common.append(seg.stage(f"block{b + 1}.conv2", [x[n1]], [(x[n2], n2, True)], 1))
        before = blocks[b - 1]
    common.append(seg.stage("expand1", [before, x[9]], [(x[10], 10, True)], 1))
    # fast: the expand part's full-resolution 8-channel tensor is kept (16 bytes a pixel);
    # lean: it is not, and the segment that gives the last convolution computes it again.
    fast = common + [seg.stage("expand2", [x[10]], [(x[11], 11, True)], 1),
                     seg.stage("expand3", [x[11]], [(x[12], 12, True)], 1),
                     seg.stage("picture", [x[12]], [("stylized_image", None, True)], 0)]
    lean = common + [seg.stage("expand2", [x[10]], [(x[11], 11, False)], 1),
                     seg.stage("expand3.from_expand1", [x[10]], [(x[12], 12, True)], 2),
                     seg.stage("picture", [x[12]], [("stylized_image", None, True)], 0)]
    scale = {contract: 4, **{b: 4 for b in blocks}, **{t: 4 for t in x[:10]},
             x[10]: 2, x[11]: 1, x[12]: 1, "content_image": 1, "stylized_image": 1}
    return seg.bundle(model, variant, scale, [("fast", fast), ("lean", lean)])


def build_multistyle(model: onnx.ModelProto) -> tuple[dict, list[bytes]]:
    """The multi-style network (18 norms): three norms in the contract part, the first at full
    resolution with 32 channels (too large to keep: it runs once for its statistics and again
    in the segment that gives the second, whose half-resolution output is kept), six residual
    blocks, expand."""
    model = with_u8_nhwc_io(model)
    seg = Segments(model)
    x = seg.x
    assert len(x) == 18, len(x)
    adds = ["/Add_output_0"] + [f"/Add_{k}_output_0" for k in range(1, 6)]
    seg.channels.update({a: 32 for a in adds})
    stages = [seg.stage("contract1", ["content_image"], [(x[0], 0, False)], 1),
              seg.stage("contract2", ["content_image"], [(x[1], 1, True)], 2),
              seg.stage("contract3", [x[1]], [(x[2], 2, True)], 1),
              seg.stage("block1.conv1", [x[2]], [(x[3], 3, True)], 1),
              seg.stage("block1.conv2", [x[3]], [(x[4], 4, True)], 1)]
    before = x[2]
    for b in range(1, 6):
        n1, n2 = 3 + 2 * b, 4 + 2 * b
        stages.append(seg.stage(f"block{b + 1}.conv1", [before, x[n1 - 1]],
                                [(adds[b - 1], None, True), (x[n1], n1, True)], 1))
        stages.append(seg.stage(f"block{b + 1}.conv2", [x[n1]], [(x[n2], n2, True)], 1))
        before = adds[b - 1]
    stages += [seg.stage("expand1", [before, x[14]], [(x[15], 15, True)], 1),
               seg.stage("expand2", [x[15]], [(x[16], 16, True)], 1),
               seg.stage("expand3", [x[16]], [(x[17], 17, True)], 1),
               seg.stage("picture", [x[17]], [("stylized_image", None, True)], 0)]
    scale = {x[0]: 1, x[1]: 2, **{t: 4 for t in x[2:15]}, **{a: 4 for a in adds},
             x[15]: 2, x[16]: 1, x[17]: 1, "content_image": 1, "stylized_image": 1}
    return seg.bundle(model, "multistyle", scale, [("lean", stages)])


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


def run_tiled(header: dict, models: dict[str, bytes], plan: dict, content: np.ndarray,
              emb: np.ndarray, tile_q: int, params: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """What brushwork does (src/stylizer/tiled/executor.rs), in numpy: the reference for its tests.
    `params`: the trunk's norm inputs for the style (norm_params.feed), for a trunk bundle."""
    sessions = {k: session(v) for k, v in models.items()}
    hq, wq = content.shape[1] // QUARTER, content.shape[2] // QUARTER
    tensors = header["tensors"]
    buffers = {"content_image": content}
    known: dict[str, np.ndarray] = {}
    params = params or {}
    picture = None
    for stage in plan["stages"]:
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
                feed.update({k: params[k] for k in seg.get("params", [])})
                if seg["embedding"]:
                    feed[header["style_input"]] = emb
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


def example_photo() -> np.ndarray:
    """The checks' picture: an example photo at 720x544 with sensor noise, as NHWC uint8."""
    im = Image.open(ROOT / "examples" / "content" / "picabo_lava.jpg").convert("RGB").resize((720, 544))
    x = np.asarray(im).astype(np.float32) + np.random.default_rng(1).normal(0, 6, (544, 720, 3))
    return np.clip(x, 0, 255).astype(np.uint8)[None]


def towers_embedding() -> np.ndarray:
    """The built-in style `towers`, shaped as the transformer's style input."""
    embedding = json.loads((ROOT / "styles" / "towers.style.json").read_text())["embedding"]
    return np.array(embedding, dtype=np.float32).reshape(1, 1, 1, 100)


def check(header: dict, models: dict[str, bytes], untiled) -> None:
    """The tiled run against the untiled network on an example photo with sensor noise.
    `untiled(content, style) -> picture` runs the whole network."""
    content = example_photo()
    if header["style_input"] == "style_weights":
        style = np.zeros(26, np.float32)
        style[[3, 12]] = 0.5
    else:
        style = towers_embedding()
    params = None
    if "norm_params" in header:
        params = norm_params.feed(norm_params.unpack((MODELS / "norm_params.bin").read_bytes()), style)
    ref = untiled(content, style)
    for plan in header["plans"]:
        out = run_tiled(header, models, plan, content, style, tile_q=40, params=params)
        d = np.abs(out.astype(np.float64) - ref.astype(np.float64))
        what = f"{header['variant']}, plan {plan['name']}"
        print(f"  {what}: 720x544 in 160 px tiles vs untiled: mean {d.mean():.4f}/255, max {d.max():.0f}")
        if d.mean() > 0.1 or d.max() > 2:
            sys.exit(f"{what}: tiled output differs from untiled")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-check", action="store_true", help="write the bundles without checking them")
    args = ap.parse_args()
    for variant in ("fp32", "fp16", "multistyle", "trunk"):
        if variant == "trunk":
            # What OpenVINO runs (python-export/norm_params.py writes the trunk): its tiles take
            # the norms' scales and shifts in f32, as the untiled trunk does, not computed in
            # the graph (in bf16, that rounded their weights to 8 bits of mantissa).
            path = MODELS / "style_transform_trunk.onnx"
            params = norm_params.unpack((MODELS / "norm_params.bin").read_bytes())
            header, blobs = build(onnx.load(path), variant, params)
            out = MODELS / "tiled_trunk.bundle"

            def untiled(content, emb, sess=session(path.read_bytes()), params=params):
                return sess.run(None, dict(norm_params.feed(params, emb), content_image=content))[0]
        elif variant == "multistyle":
            path = MODELS / "multistyle26.onnx"
            header, blobs = build_multistyle(onnx.load(path))
            out = MODELS / "tiled_multistyle26.bundle"

            def untiled(content, weights, sess=session(path.read_bytes())):
                nchw = (content.astype(np.float32) / 255).transpose(0, 3, 1, 2)
                y = sess.run(None, {"content_image": nchw, "style_weights": weights})[0]
                return (np.clip(y, 0, 1).transpose(0, 2, 3, 1) * 255 + 0.5).astype(np.uint8)
        else:
            path = MODELS / f"style_transform_{variant}.onnx"
            header, blobs = build(onnx.load(path), variant)
            out = MODELS / f"tiled_{variant}.bundle"

            def untiled(content, emb, sess=session(path.read_bytes())):
                return sess.run(None, {"content_image": content, "style_embedding": emb})[0]
        data = pack(header, blobs)
        out.write_bytes(data)
        print(f"wrote {out.relative_to(ROOT)}: {len(header['segments'])} segments, {len(data) / 1e6:.2f} MB")
        if not args.no_check:
            check(*unpack(data), untiled)


if __name__ == "__main__":
    main()
