#!/usr/bin/env bash
# Captures every kiosk screen to docs/screens/*.png from the real release
# binary, full screen under Xvfb with a window manager, against a fresh local
# lifecert-server with the demo roster (scripts/local_server.sh), with a
# replay camera showing the synthetic demo face made from scikit-image's
# public-domain astronaut photo (scripts/demo/), and a simulated ID card
# reader and receipt printer (scripts/local_devices.sh). On the way it
# completes a whole certification (consent → card read → liveness → match →
# success → printed receipt).
#
# usage: bash scripts/screenshots.sh [OUT_DIR]      (default docs/screens)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/local_server.sh
. scripts/local_devices.sh
ensure_cargo
ensure_packages "${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}" xvfb xauth \
  matchbox-window-manager python3-venv
LIFECERT_CARGO_PROFILE=release ensure_models
build_shipped
# A fresh server and kiosk, so the screens start from the demo roster.
LIFECERT_LOCAL_DIR=$(mktemp -d)
LIFECERT_LOCAL_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export LIFECERT_LOCAL_DIR LIFECERT_LOCAL_PORT
trap 'local_server_stop; local_devices_stop; rm -rf "$LIFECERT_LOCAL_DIR"' EXIT
local_server_start target/release
# Simulated card reader and printer (real ports in the environment win).
unset LIFECERT__PERIPHERALS__CARD_READER__PORT LIFECERT__PERIPHERALS__PRINTER__PORT
local_devices_start target/release/lifecert "$LIFECERT_LOCAL_DIR/devices"
echo "==> demo face (astronaut, scikit-image from PyPI)"
local_demo_face target/release
echo "==> screens"
python3 scripts/screenshots.py --binary target/release/lifecert \
  --face target/demo-face --devices "$LIFECERT_LOCAL_DIR/devices" --out "${1:-docs/screens}"
