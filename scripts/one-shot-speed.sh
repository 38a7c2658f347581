#!/usr/bin/env bash
# Whole `brushwork stylize` processes, the way a user who stylizes one photo at a time runs
# them (issue 21): for each binary given, the default path on a picture size OpenVINO has not
# compiled before (its compiled-model cache cleared first), the same size again, and
# `--device cpu`. The runs take turns, so that a busy machine slows them alike; the script
# prints each median and the speed-ups over that binary's own `--device cpu`.
#
#   scripts/one-shot-speed.sh [-n ROUNDS] PHOTO BINARY [BINARY...]
#   scripts/one-shot-speed.sh photo_1080p.png target/release/brushwork
#   scripts/one-shot-speed.sh -n 11 photo.png /tmp/before/brushwork target/release/brushwork
set -euo pipefail

rounds=11
if [[ ${1:-} == -n ]]; then
    rounds=$2
    shift 2
fi
if [[ $# -lt 2 ]]; then
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
photo=$1
shift
cache=${BRUSHWORK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/brushwork}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Milliseconds one command takes; a failure ends the script.
ms() {
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>"$out/stderr" || { echo "failed: $* ($(cat "$out/stderr"))" >&2; exit 1; }
    end=$(date +%s%N)
    echo $(((end - start) / 1000000))
}

for ((round = 0; round < rounds; round++)); do
    index=0
    for bin in "$@"; do
        rm -rf "$cache"/openvino-*-compiled
        echo "$index first $(ms "$bin" stylize "$photo" -s towers -o "$out/a.png")"
        echo "$index seen $(ms "$bin" stylize "$photo" -s towers -o "$out/a.png")"
        echo "$index cpu $(ms "$bin" stylize "$photo" -s towers -o "$out/b.png" --device cpu)"
        index=$((index + 1))
    done
done | python3 -c '
import collections, statistics, sys
bins = sys.argv[1:]
runs = collections.defaultdict(list)
for line in sys.stdin:
    index, what, ms = line.split()
    runs[int(index), what].append(int(ms))
first_runs = runs[0, "first"]
print(f"{len(first_runs)} rounds, medians:")
for i, name in enumerate(bins):
    m = {w: statistics.median(runs[i, w]) for w in ("first", "seen", "cpu")}
    first, seen, cpu = m["first"], m["seen"], m["cpu"]
    print(f"{name}: first time {first:.0f} ms, seen before {seen:.0f} ms, --device cpu {cpu:.0f} ms;"
          f" speed-up {cpu / first:.2f}x first time, {cpu / seen:.2f}x seen before")
' "$@"
