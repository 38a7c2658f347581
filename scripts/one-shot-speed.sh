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
    rounds=${2:-}
    shift 2 || true
fi
if [[ $# -lt 2 || ! $rounds =~ ^[1-9][0-9]*$ ]]; then
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
photo=$1
shift
cache=${BRUSHWORK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/brushwork}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Runs a command and records, in $out/runs, LABEL and the milliseconds it took; a failure
# ends the script with the command's error.
timed() {
    local label=$1 start end
    shift
    start=$(date +%s%N)
    if ! "$@" >/dev/null 2>"$out/stderr"; then
        echo "failed: $* ($(cat "$out/stderr"))" >&2
        exit 1
    fi
    end=$(date +%s%N)
    echo "$label $(((end - start) / 1000000))" >>"$out/runs"
}

for ((round = 0; round < rounds; round++)); do
    index=0
    for bin in "$@"; do
        rm -rf "$cache"/openvino-*-compiled
        timed "$index first" "$bin" stylize "$photo" -s towers -o "$out/a.png"
        timed "$index seen" "$bin" stylize "$photo" -s towers -o "$out/a.png"
        timed "$index cpu" "$bin" stylize "$photo" -s towers -o "$out/b.png" --device cpu
        index=$((index + 1))
    done
done
python3 - "$out/runs" "$@" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    index, what, ms = line.split()
    runs[int(index), what].append(int(ms))
print(f"{len(runs[0, 'first'])} rounds, medians:")
for i, name in enumerate(sys.argv[2:]):
    first, seen, cpu = (statistics.median(runs[i, w]) for w in ("first", "seen", "cpu"))
    print(f"{name}: first time {first:.0f} ms, seen before {seen:.0f} ms, --device cpu {cpu:.0f} ms;"
          f" speed-up {cpu / first:.2f}x first time, {cpu / seen:.2f}x seen before")
PY
