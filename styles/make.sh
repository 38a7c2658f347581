#!/usr/bin/env bash
# Regenerates the built-in styles from the paintings in examples/styles/ with brushwork's own
# `embed` command and the built-in models. Run from the repository root:  bash styles/make.sh
set -euo pipefail
cargo build --release --quiet
bw=target/release/brushwork
while read -r name painting; do
  "$bw" embed "examples/styles/$painting" --name "$name" -o "styles/$name.style.json"
done <<'LIST'
towers towers_1916_sq.jpg
clouds-over-bor clouds-over-bor-1940_sq.jpg
black-zigzag black_zigzag.jpg
red-texture red_texture_sq.jpg
bricks bricks_sq.jpg
zigzag-colorful zigzag_colorful.jpg
LIST
echo "built-in styles written to styles/ (rebuild brushwork to embed them)"
