#!/usr/bin/env python3
"""An int8 transformer whose convolutions ONNX Runtime's CPU provider runs as integer kernels,
with the published model's quantisation parameters and inputs/outputs, measured beside it.

    python3 -m pip install -r python-export/requirements.txt
    python3 python-export/int8_fused.py [--out /tmp/int8/style_transform.onnx] [--float-convs ...]

The published graph (models/style_transform.onnx) quantises every activation to signed int8;
ONNX Runtime's x86 QDQ convolution selector takes unsigned activations only, so all but one of
its 42 convolutions run in float. The rewrite here:

  * every activation QuantizeLinear/DequantizeLinear pair becomes uint8 with zero point z + 128
    and the same scale (bit-exact), and so does the variance epsilon constant that is added to
    uint8 activations;
  * the residual convolutions share one all-zero bias whose scale is not input x weight scale,
    which the fused kernels require: each gets its own zero int32 bias with that scale (exact,
    the bias is zero). Every other bias already has that scale; nothing is re-rounded;
  * the convolutions named by --float-convs stay float as in the published graph. By default
    these are the three full-resolution ones (3->8 channels 9x9, 16->8 3x3, 8->3 9x9): with
    so few channels the integer kernels are slower than float on them. Where such a convolution
    reads a reflect-padded copy of an already quantised tensor, the Quantize/Dequantize pair in
    front of it is dropped: the values are on the quantisation grid, so the pair is an identity.
    The first one keeps its pair (the input image is not on the grid): as in the published
    graph, a Transpose between Q and DQ keeps ONNX Runtime from fusing it.

What still differs from the published model, and why (printed per golden case below): the
published graph computes each convolution in float32 (dequantised input x dequantised weights,
summed by MLAS) and rounds the result, while an integer kernel sums exactly in int32 and
rescales with a float32 multiplier. The two round differently wherever the exact value lies
within ~1e-5 of a step of a rounding tie (either can be the wrong one there): 0-10 elements per
convolution per picture. The network amplifies such a one-step difference: it spreads through
the following convolutions, and once it moves a per-channel instance-norm statistic (mean,
variance, 1/sqrt, each quantised to int8) across that statistic's own rounding tie, a whole
channel shifts, and the output moves by about 5/255 on average. Whether a picture is hit is a
matter of where the rounding errors land, not of the quantisation parameters (all kept): the
published model itself moves by 1/255 on one golden picture when ONNX Runtime's QDQ fusions are
switched off (printed as "published, ORT_ENABLE_BASIC").
"""
from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export import load_rgb, stylize  # noqa: E402  (the golden vectors' own pre/post-processing)

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = ROOT / "models" / "style_transform.onnx"
FP32 = ROOT / "models" / "style_transform_fp32.onnx"
DATA = ROOT / "tests" / "data"
THREADS = 2
# The three convolutions that run at the picture's full resolution.
FULL_RES_CONVS = ("transformer/contract/conv1/Relu_prequant",
                  "transformer/expand/conv2/conv/Conv2D_prequant",
                  "transformer/expand/conv3/conv/Conv2D_prequant")
FUSED_OPS = ("QLinearConv", "Conv", "QLinearMul", "QLinearAdd", "QLinearGlobalAveragePool", "QLinearSigmoid")


# ---------------------------------------------------------------------------------------------
# The rewrite
# ---------------------------------------------------------------------------------------------

def consumers_of(graph: onnx.GraphProto) -> dict[str, list[onnx.NodeProto]]:
    out = collections.defaultdict(list)
    for n in graph.node:
        for i in n.input:
            out[i].append(n)
    return out


def rewrite(model: onnx.ModelProto, float_convs: tuple[str, ...]) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    arr = lambda name: numpy_helper.to_array(inits[name])  # noqa: E731
    producer = {o: n for n in g.node for o in n.output}
    added: list[onnx.TensorProto] = []
    shifted: dict[str, str] = {}

    def to_u8(name: str) -> str:
        """uint8 copy of an int8 initializer, shifted by 128."""
        if name not in shifted:
            shifted[name] = name + "_u8"
            added.append(numpy_helper.from_array((arr(name).astype(np.int16) + 128).astype(np.uint8), shifted[name]))
        return shifted[name]

    def on_grid(tensor: str, q: onnx.NodeProto) -> bool:
        """Whether every value of `tensor` is a copy of a value dequantised with q's own scale and
        zero point (reflect Pad, nearest Resize): then q followed by its DequantizeLinear is exact."""
        p = producer.get(tensor)
        while p is not None and (p.op_type == "Pad" or (p.op_type == "Resize" and any(
                a.name == "mode" and a.s == b"nearest" for a in p.attribute))):
            p = producer.get(p.input[0])
        return (p is not None and p.op_type == "DequantizeLinear"
                and np.array_equal(arr(p.input[1]), arr(q.input[1]))
                and np.array_equal(arr(p.input[2]), arr(q.input[2])))

    # 1. Float convolutions: drop the Q->DQ pair in front of those whose input is already on the
    #    grid (a padded copy of a quantised tensor); the others keep it.
    keep_float = [n for n in g.node if n.op_type == "Conv" and n.name in float_convs]
    assert len(keep_float) == len(float_convs), f"unknown convolution among {float_convs}"
    consumers = consumers_of(g)
    dropped = set()
    for conv in keep_float:
        dq = producer[conv.input[0]]
        q = producer.get(dq.input[0])
        if (q is not None and q.op_type == "QuantizeLinear" and on_grid(q.input[0], q)
                and len(consumers[q.output[0]]) == 1 and len(consumers[dq.output[0]]) == 1):
            conv.input[0] = q.input[0]
            dropped |= {q.name, dq.name}
    nodes = [n for n in g.node if n.name not in dropped]
    del g.node[:]
    g.node.extend(nodes)

    # 2. Activations to uint8: each QuantizeLinear and the DequantizeLinears that read its output
    #    (directly or through Reshape/Transpose) get the zero point z + 128.
    consumers = consumers_of(g)
    float_names = {c.name for c in keep_float}
    for q in g.node:
        if q.op_type != "QuantizeLinear":
            continue
        dqs, stack = [], [q.output[0]]
        while stack:
            for c in consumers[stack.pop()]:
                if c.op_type == "DequantizeLinear":
                    dqs.append(c)
                elif c.op_type in ("Reshape", "Transpose"):
                    stack.append(c.output[0])
                else:
                    raise SystemExit(f"{q.name} feeds {c.op_type}: not a QDQ pair")
        if any(c.name in float_names for d in dqs for c in consumers[d.output[0]]):
            continue  # the input of a float convolution that keeps its pair: leave it as published
        q.input[2] = to_u8(q.input[2])
        for d in dqs:
            d.input[2] = q.input[2]
    for d in g.node:  # the variance epsilon: an int8 constant with a scalar scale, added to uint8 tensors
        if (d.op_type == "DequantizeLinear" and d.input[0] in inits and arr(d.input[0]).dtype == np.int8
                and arr(d.input[1]).ndim == 0):
            d.input[0], d.input[2] = to_u8(d.input[0]), to_u8(d.input[2])

    # 3. Each integer convolution needs a bias of scale input_scale x weight_scale.
    for conv in list(g.node):
        if conv.op_type != "Conv" or conv.name in float_names:
            continue
        x, w, b = (producer[i] for i in conv.input)
        want = (arr(x.input[1]) * arr(w.input[1])).astype(np.float32)
        if np.array_equal(arr(b.input[1]), want):
            continue
        assert not arr(b.input[0]).any(), f"{conv.name}: non-zero bias with another scale"
        name = conv.name + "/bias"
        added += [numpy_helper.from_array(np.zeros(want.shape, np.int32), name + "_int32"),
                  numpy_helper.from_array(want, name + "_scale")]
        g.node.insert(list(g.node).index(conv), helper.make_node(
            "DequantizeLinear", [name + "_int32", name + "_scale", name + "_int32"], [name + "_dequant"],
            name=name + "_dequant", axis=0))
        conv.input[2] = name + "_dequant"

    g.initializer.extend(added)
    used = {i for n in g.node for i in n.input}
    kept = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(kept)
    m.doc_string = model.doc_string + "; activations uint8 (zero points +128), convolutions fused by ONNX Runtime"
    m.metadata_props.add(key="brushwork.variant", value="int8 fused: python-export/int8_fused.py")
    onnx.checker.check_model(m)
    return m


# ---------------------------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------------------------

def session(model, optimized: Path | None = None, profile: str | None = None,
            level: ort.GraphOptimizationLevel = ort.GraphOptimizationLevel.ORT_ENABLE_ALL) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    so.log_severity_level = 3
    so.graph_optimization_level = level
    if optimized:
        so.optimized_model_filepath = str(optimized)
    if profile:
        so.enable_profiling = True
        so.profile_file_prefix = profile
    src = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def feeds(sess: ort.InferenceSession, h: int, w: int, emb: np.ndarray) -> dict:
    x = np.random.default_rng(1).random((1, h, w, 3), dtype=np.float32)
    if "uint8" in sess.get_inputs()[0].type:  # the fp32 graph takes and gives pixels
        x = (x * 255).astype(np.uint8)
    return {"content_image": x, "style_embedding": emb}


def fused_counts(model, tmp: Path) -> str:
    path = tmp / "ort_optimized.onnx"
    session(model, optimized=path)
    c = collections.Counter(n.op_type for n in onnx.load(path).graph.node)
    return ", ".join(f"{op} {c[op]}" for op in FUSED_OPS if c[op])


def op_profile(model, tmp: Path, emb: np.ndarray, runs: int = 4, top: int = 6) -> str:
    """ms per run by op type at 640x480, the first (warm-up) run left out."""
    sess = session(model, profile=str(tmp / "profile"))
    f = feeds(sess, 480, 640, emb)
    for _ in range(runs + 1):
        sess.run(None, f)
    events = json.loads(Path(sess.end_profiling()).read_text())
    first = min((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    per_op = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] > first["ts"] + first["dur"]:
            per_op[e["args"]["op_name"]] += e["dur"] / 1e3 / runs
    total = sum(per_op.values())
    return f"{total:.1f} ms in kernels: " + ", ".join(f"{op} {ms:.1f}" for op, ms in per_op.most_common(top))


def with_probes(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, onnx.NodeProto]]:
    """Every QuantizeLinear output also dequantised into a graph output. The quantised tensors
    and their consumers are untouched, so ONNX Runtime fuses as without the probes (checked)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    qs = {}
    for n in list(m.graph.node):
        if n.op_type == "QuantizeLinear":
            m.graph.node.append(helper.make_node("DequantizeLinear", [n.output[0], n.input[1], n.input[2]],
                                                 ["probe:" + n.name], name="probe:" + n.name))
            m.graph.output.append(onnx.ValueInfoProto(name="probe:" + n.name))
            qs[n.name] = n
    return m, qs


def upstream_quantizers(graph: onnx.GraphProto) -> dict[str, set[str]]:
    """For each QuantizeLinear: the QuantizeLinears whose tensors its computation reads."""
    producer = {o: n for n in graph.node for o in n.output}
    result = {}
    for q in graph.node:
        if q.op_type != "QuantizeLinear":
            continue
        found, stack, seen = set(), [q.input[0]], set()
        while stack:
            t = stack.pop()
            p = producer.get(t)
            if p is None or t in seen:
                continue
            seen.add(t)
            if p.op_type == "QuantizeLinear":
                found.add(p.name)
            else:
                stack.extend(p.input)
        result[q.name] = found
    return result


def exact_conv(graph: onnx.GraphProto, q: onnx.NodeProto, ref: dict, var: dict) -> str:
    """Where a convolution's rounded output differs although its input does not: how far the
    exact (int64 sum, float64 scale) value is from a rounding tie, and which side is right."""
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    conv = producer[q.input[0]]
    relu = conv.op_type == "Relu"
    if relu:
        conv = producer[conv.input[0]]
    x_dq, w_dq, b_dq = (producer[i] for i in conv.input)
    src = producer[x_dq.input[0]]
    while src.op_type != "QuantizeLinear":
        src = producer[src.input[0]]
    sx, sy = float(inits[x_dq.input[1]]), float(inits[q.input[1]])
    weights = inits[w_dq.input[0]].astype(np.int64)
    sw = inits[w_dq.input[1]].astype(np.float64)
    bias = inits[b_dq.input[0]].astype(np.int64)
    bias_ok = np.array_equal(inits[b_dq.input[1]], (np.float32(sx) * inits[w_dq.input[1]]).astype(np.float32))
    x = np.rint(ref["probe:" + src.name] / sx).astype(np.int64)  # q - zero point
    if x.shape[-1] == weights.shape[1] and x.shape[1] != weights.shape[1]:
        x = x.transpose(0, 3, 1, 2)  # the image, quantised before its NHWC->NCHW transpose
    stride = next(a.ints[0] for a in conv.attribute if a.name == "strides")
    k = weights.shape[2]
    a, b = ref["probe:" + q.name], var["probe:" + q.name]
    far, right = 0.0, 0
    where = np.argwhere(a != b)
    for _, o, i, j in where:
        acc = int((x[0, :, i * stride:i * stride + k, j * stride:j * stride + k] * weights[o]).sum())
        v = (acc + (bias[o] if bias_ok else 0)) * sx * sw[o] / sy
        v = max(v, 0.0) if relu else v
        far = max(far, abs(abs(v - np.floor(v)) - 0.5))
        right += int(np.rint(v)) == int(np.rint(b[0, o, i, j] / sy))
    return f"exact value within {far:.1e} step of a tie; integer kernel correctly rounded in {right}/{len(where)}"


def divergence(published: onnx.ModelProto, variant: onnx.ModelProto, rgb: np.ndarray, emb: np.ndarray) -> list[str]:
    """Where the variant's quantised tensors first differ from the published model's."""
    pm, pqs = with_probes(published)
    vm, _ = with_probes(variant)
    h, w = rgb.shape[:2]
    x = np.pad((rgb.astype(np.float32) / np.float32(255))[None], ((0, 0), (0, -h % 4), (0, -w % 4), (0, 0)),
               mode="reflect")
    f = {"content_image": x, "style_embedding": emb}
    ps, vs = session(pm), session(vm)
    ref = dict(zip([o.name for o in ps.get_outputs()], ps.run(None, f)))
    var = dict(zip([o.name for o in vs.get_outputs()], vs.run(None, f)))
    for model, probed in ((published, ref), (variant, var)):
        plain = session(model).run(["stylized_image"], f)[0]
        assert np.array_equal(plain, probed["stylized_image"]), "the probes changed a model's output"
    ups = upstream_quantizers(published.graph)
    producer = {o: n for n in published.graph.node for o in n.output}
    memo: dict[str, bool] = {}

    def same(q: str) -> bool:  # a pair the variant dropped is an identity: same iff its inputs are
        if q not in memo:
            key = "probe:" + q
            memo[q] = (np.array_equal(ref[key], var[key]) if key in var else all(same(u) for u in ups[q]))
        return memo[q]

    lines, first_stat = [], None
    for name, q in pqs.items():
        if "probe:" + name not in var or same(name):
            continue
        shape = ref["probe:" + name].shape
        if first_stat is None and len(shape) == 4 and shape[2] == shape[3] == 1:
            first_stat = name
        if all(same(u) for u in ups[name]):  # the difference enters here
            op = producer[q.input[0]]
            op = producer[op.input[0]] if op.op_type == "Relu" else op
            n = int((ref["probe:" + name] != var["probe:" + name]).sum())
            note = exact_conv(published.graph, q, ref, var) if op.op_type == "Conv" else ""
            lines.append(f"    enters at {op.op_type} {op.name}: {n} element(s) one step apart"
                         + (f"; {note}" if note else ""))
    differing = sum(not same(q) for q in pqs if "probe:" + q in var)
    lines.append(f"    {differing} of {len(pqs)} quantised tensors differ; first per-channel statistic that "
                 f"differs: {first_stat or 'none'}")
    if first_stat and producer[pqs[first_stat].input[0]].op_type == "GlobalAveragePool":
        lines.append("      " + statistic_flip(published.graph, pqs[first_stat], ref, var))
    return lines


def statistic_flip(graph: onnx.GraphProto, q: onnx.NodeProto, ref: dict, var: dict) -> str:
    """The exact (pre-rounding) value of a channel mean that rounds differently in the two models."""
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    dq = producer[producer[q.input[0]].input[0]]  # GlobalAveragePool <- DequantizeLinear
    src = producer[dq.input[0]]
    s_in, s_out = float(inits[dq.input[1]]), float(inits[q.input[1]])
    cells = []
    for ch in np.argwhere(ref["probe:" + q.name].reshape(-1) != var["probe:" + q.name].reshape(-1)).ravel():
        exact = [np.rint(v["probe:" + src.name][0, ch] / s_in).mean() * s_in / s_out for v in (ref, var)]
        moved = int((ref["probe:" + src.name][0, ch] != var["probe:" + src.name][0, ch]).sum())
        cells.append(f"channel {ch}: {moved} input element(s) differ, exact value {exact[0]:.6f} (published) vs "
                     f"{exact[1]:.6f} (variant) steps from the zero point")
    return "; ".join(cells)


def mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    """Worst channel's mean absolute difference, in 1/255 steps."""
    return float(np.abs(a.astype(np.int32) - b.astype(np.int32)).mean(axis=(0, 1)).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/int8/style_transform.onnx"))
    ap.add_argument("--float-convs", nargs="*", default=list(FULL_RES_CONVS),
                    help="convolutions left in float (default: the three at full resolution; none: all integer)")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.parent

    golden = json.loads((DATA / "golden.json").read_text())
    emb = np.array(golden["style_embedding"], np.float32).reshape(1, 1, 1, 100)
    published = onnx.load(PUBLISHED)
    variant = rewrite(published, tuple(args.float_convs))
    onnx.save(variant, args.out)
    print(f"wrote {args.out} ({len(args.float_convs)} convolution(s) left in float)")
    models = {"published int8": published, "variant": variant}
    if args.float_convs:  # for comparison: every convolution integer
        models["all-integer variant"] = rewrite(published, ())
    models["fp32 graph"] = FP32

    print("\nORT's optimised graph (ORT_ENABLE_ALL):")
    for name, model in models.items():
        print(f"  {name}: {fused_counts(model, tmp)}")
    print(f"\nper-op profile, 640x480, {THREADS} threads (ms per run):")
    for name, model in models.items():
        print(f"  {name}: {op_profile(model, tmp, emb)}")

    print("\nmean abs difference /255 (worst channel): vs golden expected png | vs the published model in ORT")
    sessions = {k: session(m) for k, m in models.items()}
    basic = session(published, level=ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
    ok = True
    for case in golden["cases"]:
        rgb = load_rgb(DATA / case["content"])
        expected = load_rgb(DATA / case["expected"])
        ref = stylize(sessions["published int8"], rgb, emb)
        cells = []
        for k in models:
            if k in ("published int8", "fp32 graph"):
                continue
            out = stylize(sessions[k], rgb, emb)
            d_gold, d_pub = mean_abs(out, expected), mean_abs(out, ref)
            ok &= k != "variant" or max(d_gold, d_pub) <= 1.0
            cells.append(f"{k} {d_gold:.3f} | {d_pub:.3f}")
        print(f"  {case['content']}: published vs golden {mean_abs(ref, expected):.3f}; published, ORT_ENABLE_BASIC "
              f"{mean_abs(stylize(basic, rgb, emb), expected):.3f} | {mean_abs(stylize(basic, rgb, emb), ref):.3f}; "
              + "; ".join(cells))
        for k in ("variant", "all-integer variant"):
            if k in models:
                print(f"   {k}:")
                print("\n".join(divergence(published, models[k], rgb, emb)))
    print(f"  variant within 1/255 of the published model on every golden case: {'yes' if ok else 'NO'}")

    print(f"\nmedian ms of {args.runs} runs after 1 warm-up, {THREADS} threads, models alternating:")
    print("  size     " + "".join(f"{k:>22}" for k in sessions))
    for h, w in ((384, 384), (480, 640)):
        inputs = {k: feeds(s, h, w, emb) for k, s in sessions.items()}
        times = {k: [] for k in sessions}
        for r in range(args.runs + 1):
            for k, s in sessions.items():
                t = time.perf_counter()
                s.run(None, inputs[k])
                if r:
                    times[k].append((time.perf_counter() - t) * 1e3)
        print(f"  {w}x{h}  " + "".join(f"{statistics.median(v):>22.1f}" for v in times.values()))


if __name__ == "__main__":
    main()
