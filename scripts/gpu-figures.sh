#!/usr/bin/env bash
# The GPU figures of the README, measured in one run on a GPU host, written as markdown.
#
#   ORT_DYLIB_PATH=/path/to/onnxruntime-gpu/capi/libonnxruntime.so.1.31.1 \
#   LD_LIBRARY_PATH=/path/to/cuda-and-cudnn/lib \
#   scripts/gpu-figures.sh [BRUSHWORK_BIN] > gpu-figures.md
#
# BRUSHWORK_BIN is a brushwork built with `cargo build --release --features cuda` (default:
# target/release/brushwork). Needs python3 with numpy and Pillow for the picture checks.
# What it does, each step printed as it goes (to stderr):
#   1. the GPU test: fp16 and fp32 on the golden images within 2/255 of the float goldens,
#      and --precision int8 refused in one line with exit 2;
#   2. `bench` at 1280x720, 1920x1080 and 3840x2160 in fp16 and fp32;
#   3. `live` on a 1920x1080 pattern, every frame, headless: fps and latency;
#   4. a whole `stylize` process of a 384x384 photo, and of a 6000x4000 (24 MP) one;
# and prints the table. Exits 1 if a check fails (the table still says which).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/brushwork}
RUNS=${RUNS:-5}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
say() { echo "gpu-figures: $*" >&2; }
failed=0

[ -x "$BIN" ] || { say "no brushwork at $BIN (build it with --features cuda)"; exit 2; }
GPU=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)
[ -n "$GPU" ] || { say "nvidia-smi finds no GPU"; exit 2; }
say "GPU: $GPU"
"$BIN" info >&2 || true

median() { python3 -c 'import sys,statistics as s; v=[float(x) for x in sys.stdin.read().split()]; print(f"{s.median(v):.3g}" if v else "n/a")'; }
# Seconds a command takes, median of $RUNS runs after one warm-up.
timed() {
  "$@" >/dev/null 2>&1
  for _ in $(seq "$RUNS"); do
    local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo fail; return; }; t1=$(date +%s.%N)
    python3 -c "print($t1 - $t0)"
  done | median
}

# 1. The GPU test, as `cuda_matches_cpu_on_the_golden_images` holds it (tests/integration/util.rs,
# `matches_golden`): each case of tests/data/golden.json, each channel's mean abs difference from
# the float golden at most 2/255. Run here from the script because a GPU host need not have
# Rust's toolchain to build the test.
tests_line=""
for p in fp16 fp32; do
  worst=$(python3 - "$BIN" "$p" "$WORK" <<'PY'
import json, subprocess, sys
import numpy as np
from PIL import Image
bin_, precision, work = sys.argv[1:4]
golden = json.load(open("tests/data/golden.json"))
worst = 0.0
for case in golden["cases"]:
    out = f"{work}/{precision}-{case['expected_float']}"
    done = subprocess.run([bin_, "stylize", f"tests/data/{case['content']}", "--style",
                           f"tests/data/{golden['style']}", "-o", out, "--device", "cuda",
                           "--precision", precision], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"gpu-figures: cuda {precision} {case['content']}: {done.stderr.strip()}", file=sys.stderr)
        print("fail")
        sys.exit()
    a, b = (np.asarray(Image.open(f).convert("RGB")).astype(np.int32)
            for f in (out, f"tests/data/{case['expected_float']}"))
    d = float(np.abs(a - b).mean(axis=(0, 1)).max())
    print(f"gpu-figures: cuda {precision} {case['content']}: worst channel {d:.3f}/255", file=sys.stderr)
    worst = max(worst, d)
print(f"fail: {worst:.3f}" if worst > 2 else f"{worst:.3f}")
PY
)
  [[ $worst == fail* ]] && failed=1
  tests_line+="$p: worst channel mean $worst/255; "
done
"$BIN" stylize tests/data/content_384x384.png --style towers -o "$WORK/int8.png" --device cuda --precision int8 2>"$WORK/err"
rc=$?; lines=$(wc -l <"$WORK/err")
if [ $rc -eq 2 ] && [ "$lines" -eq 1 ]; then tests_line+="int8: refused in one line (exit 2)"; else failed=1; tests_line+="int8: exit $rc, $lines lines"; fi
say "$tests_line"

# 2. bench.
bench_rows=""
for p in fp16 fp32; do
  json=$("$BIN" bench --device cuda --precision "$p" --sizes 1280x720,1920x1080,3840x2160 --runs 20 --cold-runs 0 --json 2>>"$WORK/bench.err") || failed=1
  bench_rows+=$(echo "$json" | python3 -c '
import json, sys
for line in sys.stdin:
    if line.startswith("{"):
        d = json.loads(line)
        ms = d["frame_ms_median"]
        print("| {}×{} {} frame | {:.2f} ms ({:.0f} fps) | first frame {:.0f} ms |".format(
            d["width"], d["height"], d["precision"], ms, 1000 / ms, d["first_frame_ms"]))')$'\n'
done

# 3. live.
live=$("$BIN" live --device cuda --style towers --source pattern --size 1920x1080 --headless --unpaced --every-frame --frames ${LIVE_FRAMES:-300} --json 2>/dev/null | tail -1 \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print("{:.1f} fps, latency median {:.0f} ms, inference {:.1f} ms".format(d["fps"], d["latency_ms_median"], d["infer_ms_median"]))') || { live=fail; failed=1; }
stand_in=$("$BIN" live --device cuda --stand-in-network --style towers --source pattern --size 1920x1080 --headless --unpaced --every-frame --frames ${LIVE_FRAMES:-300} --json 2>/dev/null | tail -1 \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); print("{:.1f} ms CPU a frame".format(d["cpu_ms_per_frame"]))') || stand_in=fail

# 4. one-shot processes.
python3 - "$WORK" <<'PY'
import sys
from PIL import Image
im = Image.open("examples/content/coast_guard_boat.jpg").convert("RGB")
im.resize((384, 384)).save(f"{sys.argv[1]}/384.png")
im.resize((6000, 4000), Image.BICUBIC).save(f"{sys.argv[1]}/24mp.jpg", quality=92)
PY
one=$(timed "$BIN" stylize "$WORK/384.png" --style towers -o "$WORK/o384.png" --device cuda)
big=$(RUNS=3 timed "$BIN" stylize "$WORK/24mp.jpg" --style towers -o "$WORK/o24.jpg" --device cuda)
tiling=$("$BIN" stylize "$WORK/24mp.jpg" --style towers -o "$WORK/o24.jpg" --device cuda -v 2>&1 | grep -o -E 'untiled|in [0-9]+ tiles[^(]*' | head -1)

cat <<MD
GPU: **$GPU** ($(date -u +%Y-%m-%d), \`scripts/gpu-figures.sh\`, medians)

| what | figure | note |
|---|---|---|
| GPU test | ${tests_line} | |
${bench_rows}| \`live\` 1920×1080, every frame | ${live} | pipeline alone (stand-in network): ${stand_in} |
| one 384×384 \`stylize\`, whole process | ${one} s | |
| 6000×4000 photo, whole process | ${big} s | ${tiling} |
MD
exit $failed
