#!/usr/bin/env bash
# Start-up benchmark: the real release window under Xvfb, N runs; prints the
# time from process start to the drawn attract screen and the resident memory
# (targets: <= 1.5 s, <= 300 MB). Models are loaded (and checked) within it.
# The kiosk is registered with a local lifecert-server (scripts/local_server.sh).
# usage: bash scripts/bench-startup.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/local_server.sh
ensure_cargo
ensure_packages "${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}" xvfb xauth
LIFECERT_CARGO_PROFILE=release ensure_models
build_shipped
work=$(mktemp -d)
LIFECERT_LOCAL_DIR="$work/local"
LIFECERT_LOCAL_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export LIFECERT_LOCAL_DIR LIFECERT_LOCAL_PORT
trap 'local_server_stop; rm -rf "$work"' EXIT
local_server_start target/release >/dev/null
ffmpeg -loglevel error -y -f lavfi -i color=gray:s=640x480 -frames:v 1 "$work/camera.png"
for _ in $(seq "${1:-5}"); do
  LIFECERT__AUDIO__VOLUME=0 \
  LIFECERT__CAMERA__DEVICE="replay:$work/camera.png" \
    xvfb-run -a -s '-screen 0 1280x800x24' target/release/lifecert --bench-startup 2>/dev/null
done
