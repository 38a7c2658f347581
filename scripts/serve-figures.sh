#!/usr/bin/env bash
# The figures of the README's `serve` section, on this machine:
#   1. load: 500 POST /v1/stylize of a 384x384 photo from 16 clients (scripts/serve_load.py),
#      for the default pool, an overloaded one (--queue 4) and --workers 2; ROUNDS rounds,
#      the configurations alternating so that they are measured side by side;
#   2. webcam: the page in Chromium with a fake 640x480 camera, JPEG and raw, SECONDS each
#      (the browser test with BRUSHWORK_WEBCAM_FIGURES).
# Usage: scripts/serve-figures.sh [-r ROUNDS] [-s SECONDS] OUT_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3
seconds=20
while getopts "r:s:" o; do
  case $o in
    r) rounds=$OPTARG ;;
    s) seconds=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
out=${1:?usage: scripts/serve-figures.sh [-r ROUNDS] [-s SECONDS] OUT_DIR}
mkdir -p "$out"
cargo build --release --quiet
bin=target/release/brushwork
ffmpeg -v error -y -i examples/content/coast_guard_boat.jpg -vf "scale=384:-1,crop=384:384" \
  -q:v 3 "$out/photo384.jpg"

for round in $(seq "$rounds"); do
  for cfg in "default" "--queue 4" "--workers 2"; do
    args=()
    [[ $cfg != default ]] && read -ra args <<<"$cfg"
    "$bin" serve --bind 127.0.0.1:0 --device cpu "${args[@]}" >"$out/url" 2>"$out/server.log" &
    pid=$!
    for _ in $(seq 100); do [[ -s $out/url ]] && break; sleep 0.1; done
    echo "== round $round: $cfg" | tee -a "$out/load.txt"
    python3 scripts/serve_load.py --url "$(head -1 "$out/url")" --pid "$pid" \
      --photo "$out/photo384.jpg" --requests 500 --clients 16 | tee -a "$out/load.txt"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    : >"$out/url"
  done
done

BRUSHWORK_WEBCAM_FIGURES=$seconds cargo test --release --quiet --test integration \
  serve_page_stylizes_a_fake_webcam_in_chromium 2>&1 | grep "webcam figures" | tee "$out/webcam.txt"
