#!/usr/bin/env bash
# Measures the figures of the README's speed tables on one device, with a built brushwork.
#
#   scripts/figures.sh [-b BRUSHWORK] [-d DEVICE] [-p PRECISIONS] [-s SIZES] [-r ROUNDS]
#                      [-f FRAMES] OUTDIR
#
#   -b  the binary (default: target/release/brushwork)
#   -d  --device for every run (default: auto)
#   -p  precisions, space-separated (default: "int8 fp32 fp16")
#   -s  bench sizes (default: 384x384,1280x720,1920x1080,3840x2160)
#   -r  rounds (default: 3); each round runs every precision, so they are compared side by side
#   -f  frames of the live run (default: 300)
#
# Per round and precision: `brushwork bench` (each size in a fresh process: median frame time
# of 7, fps, first-frame latency from session creation on, which includes TensorRT's engine
# build when its cache is cold), then `brushwork live --headless` on the synthetic 1280x720
# source, unpaced, for end-to-end fps. Writes OUTDIR/bench.jsonl, OUTDIR/live.jsonl and
# OUTDIR/figures.md (medians over rounds).
set -euo pipefail
bin=target/release/brushwork device=auto precisions="int8 fp32 fp16"
sizes=384x384,1280x720,1920x1080,3840x2160 rounds=3 frames=300
while getopts b:d:p:s:r:f: opt; do
  case $opt in
    b) bin=$OPTARG ;; d) device=$OPTARG ;; p) precisions=$OPTARG ;;
    s) sizes=$OPTARG ;; r) rounds=$OPTARG ;; f) frames=$OPTARG ;; *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
out=${1:?usage: scripts/figures.sh [-b BIN] [-d DEVICE] [-p PRECISIONS] [-s SIZES] [-r ROUNDS] [-f FRAMES] OUTDIR}
mkdir -p "$out"
: >"$out/bench.jsonl"
: >"$out/live.jsonl"
"$bin" info --device "$device" >"$out/info.txt" 2>&1 || true
for round in $(seq "$rounds"); do
  for p in $precisions; do
    echo "round $round: $p" >&2
    "$bin" bench --device "$device" --precision "$p" --sizes "$sizes" --runs 7 \
      --cold-runs 0 --json | sed "s/^{/{\"round\":$round,/" >>"$out/bench.jsonl"
    "$bin" live --device "$device" --precision "$p" --style towers --source pattern \
      --size 1280x720 --headless --unpaced --frames "$frames" --json |
      sed "s/^{/{\"round\":$round,\"precision\":\"$p\",/" >>"$out/live.jsonl"
  done
done
python3 - "$out" <<'PY'
import json, statistics, sys
from collections import defaultdict
out = sys.argv[1]
med = statistics.median
bench, live = defaultdict(list), defaultdict(list)
for line in open(f"{out}/bench.jsonl"):
    r = json.loads(line)
    bench[(r["device"], r["precision"], r["width"], r["height"])].append(r)
for line in open(f"{out}/live.jsonl"):
    r = json.loads(line)
    live[r["precision"]].append(r)
rows = ["| device | precision | size | frame ms (median of rounds) | fps | first frame ms | peak RSS MB | rounds |",
        "|---|---|---|---|---|---|---|---|"]
for (dev, p, w, h), rs in bench.items():
    ms = med(r["frame_ms_median"] for r in rs)
    rows.append(f"| {dev} | {p} | {w}x{h} | {ms:.2f} | {1e3 / ms:.1f} | "
                f"{med(r['first_frame_ms'] for r in rs):.0f} | {med(r['peak_rss_mb'] for r in rs):.0f} | {len(rs)} |")
rows += ["", "| precision | live 1280x720 fps | inference ms | latency median ms | latency p95 ms | rounds |",
         "|---|---|---|---|---|---|"]
for p, rs in live.items():
    rows.append(f"| {p} | {med(r['fps'] for r in rs):.1f} | {med(r['infer_ms_median'] for r in rs):.2f} | "
                f"{med(r['latency_ms_median'] for r in rs):.1f} | {med(r['latency_ms_p95'] for r in rs):.1f} | {len(rs)} |")
open(f"{out}/figures.md", "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
