"""The GPU variants of the transformer, made from the exported int8 graph: dequantized to a
plain float graph (fp32 and fp16), with uint8 pixels in and out so that only bytes cross the
bus, and an fp16 emulation of it for checking on the CPU. Used by export.py, whose docstring
says what each step changes and why."""
from __future__ import annotations

import copy
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

def dequantized(model: onnx.ModelProto) -> onnx.ModelProto:
    """The int8 QDQ transformer as a float graph: weights dequantized, activation Q/DQ removed."""
    model = copy.deepcopy(model)
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    alias: dict[str, str] = {}
    folded: dict[str, onnx.TensorProto] = {}
    kept = []

    def resolve(name: str) -> str:
        while name in alias:
            name = alias[name]
        return name

    for n in g.node:
        if n.op_type == "DequantizeLinear" and n.input[0] in inits:
            q = numpy_helper.to_array(inits[n.input[0]]).astype(np.float64)
            scale = numpy_helper.to_array(inits[n.input[1]]).astype(np.float64)
            zero = (numpy_helper.to_array(inits[n.input[2]]).astype(np.float64)
                    if len(n.input) > 2 and n.input[2] else np.zeros_like(scale))
            if scale.ndim == 1 and scale.size > 1:  # per-channel along `axis`
                axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
                shape = [1] * q.ndim
                shape[axis] = -1
                scale, zero = scale.reshape(shape), zero.reshape(shape)
            folded[n.output[0]] = numpy_helper.from_array(((q - zero) * scale).astype(np.float32), n.output[0])
        elif n.op_type in ("QuantizeLinear", "DequantizeLinear"):
            alias[n.output[0]] = n.input[0]
        else:
            kept.append(n)
    for n in kept:
        n.input[:] = [resolve(x) for x in n.input]
    for out in g.output:
        if out.name in alias:
            kept.append(helper.make_node("Identity", [resolve(out.name)], [out.name]))
    del g.node[:]
    g.node.extend(kept)
    used = {x for n in g.node for x in n.input}
    inits_kept = [i for i in g.initializer if i.name in used and i.name not in folded]
    inits_kept += [t for name, t in folded.items() if name in used]
    del g.initializer[:]
    g.initializer.extend(inits_kept)
    del g.value_info[:]
    return model


def moments_by_reduce_mean(model: onnx.ModelProto) -> onnx.ModelProto:
    """Each instance norm's mean and variance as ReduceMean over H and W instead of
    GlobalAveragePool. The same arithmetic, but cuDNN runs GlobalAveragePool as a pooling
    kernel over the full plane (75 % of the CUDA provider's time at 1080p, 0.58 ms a node),
    where ReduceMean is a fast reduction. The CPU providers run both alike: ONNX Runtime
    within noise, OpenVINO bit for bit (its ONNX reader already turns the pool into ReduceMean)."""
    model = copy.deepcopy(model)
    for n in model.graph.node:
        if n.op_type == "GlobalAveragePool":
            n.op_type = "ReduceMean"
            del n.attribute[:]
            n.attribute.extend([helper.make_attribute("axes", [2, 3]), helper.make_attribute("keepdims", 1)])
    return model


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    """Float initializers to half precision, except Resize's scales (float32 by the spec)."""
    model = copy.deepcopy(model)
    g = model.graph
    keep = {n.input[i] for n in g.node if n.op_type == "Resize" for i in (1, 2) if len(n.input) > i}
    for i, init in enumerate(g.initializer):
        if init.data_type == TensorProto.FLOAT and init.name not in keep:
            a = numpy_helper.to_array(init)
            if np.abs(a).max(initial=0) >= 65504:
                sys.exit(f"{init.name} does not fit in fp16")
            g.initializer[i].CopyFrom(numpy_helper.from_array(a.astype(np.float16), init.name))
    return model


def with_u8_io(model: onnx.ModelProto, half: bool) -> onnx.ModelProto:
    """uint8 content in, uint8 stylized image out: the normalisation and the rounding in the graph."""
    model = copy.deepcopy(model)
    g = model.graph
    compute = TensorProto.FLOAT16 if half else TensorProto.FLOAT
    renamed = {"content_image": "content_float", "stylized_image": "stylized_float"}
    if half:
        renamed["style_embedding"] = "style_embedding_half"
    for n in g.node:
        n.input[:] = [renamed.get(x, x) for x in n.input]
        n.output[:] = [renamed.get(x, x) for x in n.output]
    pre = [helper.make_node("Cast", ["content_image"], ["content_cast"], to=compute),
           helper.make_node("Div", ["content_cast", "u8_max"], ["content_float"])]
    if half:
        pre.append(helper.make_node("Cast", ["style_embedding"], ["style_embedding_half"], to=compute))
    post = [helper.make_node("Cast", ["stylized_float"], ["stylized_f32"], to=TensorProto.FLOAT),
            helper.make_node("Clip", ["stylized_f32", "zero_f32", "one_f32"], ["stylized_clipped"]),
            helper.make_node("Mul", ["stylized_clipped", "u8_max_f32"], ["stylized_scaled"]),
            helper.make_node("Add", ["stylized_scaled", "half_f32"], ["stylized_rounded"]),
            helper.make_node("Cast", ["stylized_rounded"], ["stylized_image"], to=TensorProto.UINT8)]
    nodes = pre + list(g.node) + post
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend([
        numpy_helper.from_array(np.array(255, np.float16 if half else np.float32), "u8_max"),
        numpy_helper.from_array(np.array(0, np.float32), "zero_f32"),
        numpy_helper.from_array(np.array(1, np.float32), "one_f32"),
        numpy_helper.from_array(np.array(255, np.float32), "u8_max_f32"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half_f32"),
    ])
    g.input[0].type.tensor_type.elem_type = TensorProto.UINT8
    g.output[0].type.tensor_type.elem_type = TensorProto.UINT8
    return model


def fp16_emulation(model: onnx.ModelProto) -> onnx.ModelProto:
    """A float32 graph that rounds every weight and every node's output to fp16, as a GPU
    storing activations in half precision would (the CPU runs fp16 graphs in float32)."""
    model = to_fp16(model)
    g = model.graph
    for i, init in enumerate(g.initializer):
        if init.data_type == TensorProto.FLOAT16:
            a = numpy_helper.to_array(init).astype(np.float32)
            g.initializer[i].CopyFrom(numpy_helper.from_array(a, init.name))
    nodes = []
    for n in g.node:
        outputs = list(n.output)
        n.output[:] = [o + "__f32" for o in outputs]
        nodes.append(n)
        for o in outputs:
            nodes.append(helper.make_node("Cast", [o + "__f32"], [o + "__f16"], to=TensorProto.FLOAT16))
            nodes.append(helper.make_node("Cast", [o + "__f16"], [o], to=TensorProto.FLOAT))
    del g.node[:]
    g.node.extend(nodes)
    return with_u8_io(model, half=False)


def export_gpu_variants(exp_t: bytes) -> dict[str, bytes]:
    """style_transform_fp32.onnx and style_transform_fp16.onnx, with uint8 I/O."""
    float_graph = moments_by_reduce_mean(dequantized(onnx.load_from_string(exp_t)))
    variants = {}
    for precision, model in (("fp32", with_u8_io(float_graph, half=False)),
                             ("fp16", with_u8_io(to_fp16(float_graph), half=True))):
        for prop in model.metadata_props:
            if prop.key == "brushwork.role":
                prop.value = "style_transform"
        model.metadata_props.add(key="brushwork.precision", value=precision)
        model.doc_string = (f"Magenta arbitrary image stylization (Ghiasi et al. 2017), int8 weights "
                            f"dequantized, {precision} compute, uint8 I/O, exported for brushwork")
        onnx.checker.check_model(model)
        variants[precision] = model.SerializeToString()
    return variants
