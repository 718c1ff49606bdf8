#!/usr/bin/env bash
# Captures every kiosk screen to docs/screens/*.png from the real release
# binary, full screen under Xvfb with a window manager, against a fresh local
# lifecert-server with the demo roster (scripts/local_server.sh), with a
# replay camera showing the synthetic demo face made from scikit-image's
# public-domain astronaut photo (scripts/demo/). On the way it completes a
# whole certification (consent → ID → liveness → match → success).
#
# usage: bash scripts/screenshots.sh [OUT_DIR]      (default docs/screens)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/local_server.sh
ensure_cargo
ensure_packages "${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}" xvfb xauth \
  matchbox-window-manager python3-venv
LIFECERT_CARGO_PROFILE=release ensure_models
cargo build --release --locked -p lifecert -p lifecert-server --bins
# A fresh server and kiosk, so the screens start from the demo roster.
LIFECERT_LOCAL_DIR=$(mktemp -d)
LIFECERT_LOCAL_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export LIFECERT_LOCAL_DIR LIFECERT_LOCAL_PORT
trap 'local_server_stop; rm -rf "$LIFECERT_LOCAL_DIR"' EXIT
local_server_start target/release
echo "==> demo face (astronaut, scikit-image from PyPI)"
local_demo_face target/release
echo "==> screens"
python3 scripts/screenshots.py --binary target/release/lifecert \
  --face target/demo-face --out "${1:-docs/screens}"
