#!/usr/bin/env bash
# Runs the kiosk on its embedded defaults (installs what it needs first).
#
# With no server configured the kiosk runs in demo mode (演示模式) against
# built-in demo persons (README, "Demo mode"). When this machine has no camera
# (/dev/video0) and none is configured, the demo uses a replay camera showing
# a synthetic face made from scikit-image's public-domain astronaut photo, and
# enrols it for the demo person 110105195203150013, so a whole certification
# can be tried. Extra arguments go to lifecert (e.g. --windowed).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_cargo
ensure_packages "${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}"
LIFECERT_CARGO_PROFILE=release ensure_models
cargo build --release --locked --bin lifecert
bin=target/release/lifecert
if [ -z "${LIFECERT__CAMERA__DEVICE:-}" ] && [ ! -e /dev/video0 ] && [[ " $* " != *" --config "* ]]; then
  echo "==> no camera here: demo replay camera with the synthetic astronaut face"
  ensure_packages python3-venv
  bash scripts/demo/make_demo_face.sh target/demo-face >/dev/null
  export LIFECERT__CAMERA__DEVICE="replay:$PWD/target/demo-face/clip"
  "$bin" enroll-template --id 110105195203150013 target/demo-face/enrol/*.png
fi
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "note: no DISPLAY; to try it headless: xvfb-run -s '-screen 0 1280x800x24' bash scripts/run.sh" >&2
fi
exec "$bin" "$@"
