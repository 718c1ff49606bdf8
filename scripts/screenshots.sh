#!/usr/bin/env bash
# Captures every kiosk screen to docs/screens/*.png from the real release
# binary, full screen under Xvfb with a window manager, in demo mode, with a
# replay camera showing the synthetic demo face made from scikit-image's
# public-domain astronaut photo (scripts/demo/). On the way it completes a
# whole certification (consent → ID → liveness → match → success).
#
# usage: bash scripts/screenshots.sh [OUT_DIR]      (default docs/screens)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_cargo
ensure_packages "${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}" xvfb xauth \
  matchbox-window-manager python3-venv
LIFECERT_CARGO_PROFILE=release ensure_models
cargo build --release --locked --bin lifecert
echo "==> demo face (astronaut, scikit-image from PyPI)"
bash scripts/demo/make_demo_face.sh target/demo-face
echo "==> screens"
python3 scripts/screenshots.py --binary target/release/lifecert \
  --face target/demo-face --out "${1:-docs/screens}"
