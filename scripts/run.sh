#!/usr/bin/env bash
# Runs the kiosk on its embedded defaults (installs what the build needs first).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_cargo
ensure_packages "${BUILD_PACKAGES[@]}"
LIFECERT_CARGO_PROFILE=release ensure_models
exec cargo run --release --locked --bin lifecert -- "$@"
