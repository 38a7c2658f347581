#!/usr/bin/env bash
# Measures the figures of the README's "Large pictures" section (issue 12) with a built
# brushwork: peak memory and time of `brushwork stylize` on print-size pictures, tiled, side by
# side with an untiled 1920x1080 run, and the tiled output's difference from the untiled one.
#
#   scripts/large-pictures.sh [-b BRUSHWORK] [-d DEVICE] [-r ROUNDS] [-s SIZES] OUTDIR
#
#   -b  the binary (default: target/release/brushwork)
#   -d  --device for every run (default: cpu)
#   -r  rounds (default: 3); each round runs every size, so they are compared side by side
#   -s  tiled sizes (default: "6000x4000 8000x6000")
#
# The pictures are mosaics of the example photos with sensor-like noise (python-export's venv
# makes them: numpy and Pillow). Peak RSS comes from /usr/bin/time -v; the stylize time is the
# `stylize` part of the -v line (decode and encode are reported beside it). Fidelity: 3000x3000
# and 4096x4096, tiled (default budget) against untiled (--memory-budget 64GiB), mean absolute
# difference over the image and over the pixels within 4 px of a tile border.
# Writes OUTDIR/runs.tsv and OUTDIR/figures.md.
set -euo pipefail
bin=target/release/brushwork device=cpu rounds=3 sizes="6000x4000 8000x6000"
while getopts b:d:r:s: opt; do
  case $opt in
    b) bin=$OPTARG ;; d) device=$OPTARG ;; r) rounds=$OPTARG ;; s) sizes=$OPTARG ;; *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
out=${1:?usage: scripts/large-pictures.sh [-b BIN] [-d DEVICE] [-r ROUNDS] [-s SIZES] OUTDIR}
py=${PYTHON:-python3}
mkdir -p "$out/pictures"
"$py" - "$out/pictures" 1920x1080 3000x3000 4096x4096 $sizes <<'EOF'
import sys
from pathlib import Path
import numpy as np
from PIL import Image
root = Path.cwd()
photos = ["coast_guard_boat.jpg", "picabo_lava.jpg", "colva_beach_sq.jpg", "golden_gate_sq.jpg"]
for size in sys.argv[2:]:
    w, h = map(int, size.split("x"))
    path = Path(sys.argv[1]) / f"{size}.jpg"
    if path.exists():
        continue
    canvas = Image.new("RGB", (w, h))
    for i, name in enumerate(photos):
        im = Image.open(root / "examples" / "content" / name).convert("RGB")
        canvas.paste(im.resize((w // 2, h // 2), Image.LANCZOS), ((i % 2) * (w // 2), (i // 2) * (h // 2)))
    x = np.asarray(canvas).astype(np.float32)
    x += np.random.default_rng(1).normal(0, 6, x.shape)
    Image.fromarray(np.clip(x, 0, 255).astype(np.uint8)).save(path, quality=92)
EOF

run() { # SIZE LABEL [ARGS...]: one stylize run, a row of runs.tsv
  local size=$1 label=$2; shift 2
  local log="$out/$label.log"
  /usr/bin/time -v "$bin" stylize --device "$device" -s towers -v "$@" \
    "$out/pictures/$size.jpg" -o "$out/$label.png" >"$log" 2>&1
  local rss ms tiling
  rss=$(awk -F': ' '/Maximum resident/ {print int($2 / 1024)}' "$log")
  ms=$(sed -n 's/.*(decode \([0-9]*\), stylize \([0-9]*\), encode \([0-9]*\)).*/\1\t\2\t\3/p' "$log")
  tiling=$(grep -o 'untiled\|in [0-9]* tiles of [0-9x]* px' "$log" | head -1)
  printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$size" "$rss" "$ms" "$tiling" >>"$out/runs.tsv"
}

printf 'round\tsize\tpeak_rss_mb\tdecode_ms\tstylize_ms\tencode_ms\ttiling\n' >"$out/runs.tsv"
for round in $(seq "$rounds"); do
  echo "round $round" >&2
  run 1920x1080 "r$round-1920x1080"
  for s in $sizes; do run "$s" "r$round-$s"; done
done
for s in 3000x3000 4096x4096; do
  round=fidelity
  run "$s" "tiled-$s"
  run "$s" "untiled-$s" --memory-budget 64GiB
done

"$py" - "$out" <<'EOF'
import csv, statistics, sys
from pathlib import Path
import numpy as np
from PIL import Image
out = Path(sys.argv[1])
rows = list(csv.DictReader(open(out / "runs.tsv"), delimiter="\t"))
timed = [r for r in rows if r["round"] != "fidelity"]
base = None
lines = ["| picture | megapixels | how | peak RSS (MB) | stylize (ms) | ms per MP | vs 1920x1080 | decode / encode (ms) |",
         "|---|---|---|---|---|---|---|---|"]
for size in dict.fromkeys(r["size"] for r in timed):
    rs = [r for r in timed if r["size"] == size]
    w, h = map(int, size.split("x"))
    mp = w * h / 1e6
    ms = statistics.median(float(r["stylize_ms"]) for r in rs)
    per = ms / mp
    base = base or per
    rss = statistics.median(float(r["peak_rss_mb"]) for r in rs)
    dec = statistics.median(float(r["decode_ms"]) for r in rs)
    enc = statistics.median(float(r["encode_ms"]) for r in rs)
    lines.append(f"| {size} | {mp:.1f} | {rs[0]['tiling']} | {rss:.0f} | {ms:.0f} | {per:.0f} | {per / base:.2f}x | {dec:.0f} / {enc:.0f} |")
lines += ["", "| picture | tiled vs untiled, mean abs | within 4 px of a tile border | max | peak RSS tiled / untiled (MB) |", "|---|---|---|---|---|"]
for size in ("3000x3000", "4096x4096"):
    a = np.asarray(Image.open(out / f"tiled-{size}.png")).astype(np.float64)
    b = np.asarray(Image.open(out / f"untiled-{size}.png")).astype(np.float64)
    d = np.abs(a - b)
    tile = 256
    border = np.zeros(d.shape[:2], bool)
    for t in range(tile, d.shape[1], tile):
        border[:, t - 4:t + 4] = True
    for t in range(tile, d.shape[0], tile):
        border[t - 4:t + 4, :] = True
    rss = {r["size"] + r["tiling"][:3]: r["peak_rss_mb"] for r in rows if r["round"] == "fidelity" and r["size"] == size}
    lines.append(f"| {size} | {d.mean():.3f}/255 | {d[border].mean():.3f}/255 | {d.max():.0f}/255 | "
                 f"{rss.get(size + 'in ', '?')} / {rss.get(size + 'unt', '?')} |")
(out / "figures.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
