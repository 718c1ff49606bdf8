#!/usr/bin/env bash
# Start-up benchmark: the real release window under Xvfb, N runs; prints the
# time from process start to the drawn attract screen and the resident memory
# (targets: <= 1.5 s, <= 300 MB). Models are loaded (and checked) within it.
# usage: bash scripts/bench-startup.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_cargo
ensure_packages "${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}" xvfb xauth
LIFECERT_CARGO_PROFILE=release ensure_models
cargo build --release --locked --bin lifecert
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ffmpeg -loglevel error -y -f lavfi -i color=gray:s=640x480 -frames:v 1 "$work/camera.png"
for _ in $(seq "${1:-5}"); do
  rm -rf "$work/data"
  LIFECERT__STORAGE__DATA_DIR="$work/data" LIFECERT__AUDIO__VOLUME=0 \
  LIFECERT__CAMERA__DEVICE="replay:$work/camera.png" \
    xvfb-run -a -s '-screen 0 1280x800x24' target/release/lifecert --bench-startup 2>/dev/null
done
