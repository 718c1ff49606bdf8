#!/usr/bin/env bash
# Runs the kiosk on its embedded defaults (installs what it needs first).
#
# Starts a local lifecert-server (SQLite, TLS with a throw-away CA, the demo
# roster: one person per outcome, listed in the README) and registers the kiosk
# with it (scripts/local_server.sh; state in target/local). When this machine
# has no camera (/dev/video0) and none is configured, the kiosk uses a replay
# camera showing a synthetic face made from scikit-image's public-domain
# astronaut photo, enrolled for the demo person 110105195203150013 on the kiosk
# and on the server, so a whole certification can be tried. Extra arguments go
# to lifecert (e.g. --windowed). With --config FILE the kiosk uses that file's
# server instead and no local server is started.
#
# Unless ports are configured, a simulated ID card reader and receipt printer
# run on ptys (scripts/local_devices.sh): at the ID screen, lay the demo card
# with `echo place > target/local/devices/reader.cmd`; printed receipts appear
# decoded in target/local/devices/printer.out.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/local_server.sh
. scripts/local_devices.sh
ensure_cargo
ensure_packages "${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}"
LIFECERT_CARGO_PROFILE=release ensure_models
build_shipped
bin=target/release/lifecert
if [[ " $* " != *" --config "* ]] && [ -z "${LIFECERT__SERVER__URL:-}" ]; then
  trap 'local_server_stop; local_devices_stop' EXIT
  local_server_start target/release
  local_devices_start "$bin" "$PWD/target/local/devices"
  if [ -z "${LIFECERT__CAMERA__DEVICE:-}" ] && [ ! -e /dev/video0 ]; then
    echo "==> no camera here: demo replay camera with the synthetic astronaut face"
    local_demo_face target/release
    export LIFECERT__CAMERA__DEVICE="replay:$PWD/target/demo-face/clip"
  fi
fi
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "note: no DISPLAY; to try it headless: xvfb-run -s '-screen 0 1280x800x24' bash scripts/run.sh" >&2
fi
"$bin" "$@"
