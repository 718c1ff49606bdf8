#!/usr/bin/env bash
# lifecert-core is the pure domain: it must not depend, even indirectly, on any
# IO crate. Fails naming the offender.
set -euo pipefail
cd "$(dirname "$0")/.."
deps=$(cargo tree -p lifecert-core -e normal --locked --prefix none --format '{p}' | awk '{print $1}' | sort -u)
bad=$(echo "$deps" | grep -Ex 'egui.*|eframe|epaint|winit|glow|rusqlite|libsqlite3-sys|tract.*|nokhwa.*|v4l.*|serialport|rodio|cpal|tokio.*|reqwest|hyper.*|axum.*|sqlx.*|mio' || true)
if [ -n "$bad" ]; then
  echo "error: lifecert-core depends on IO crates (keep IO in the app or adapter crates):" >&2
  echo "$bad" >&2
  exit 1
fi
echo "lifecert-core is pure: $(echo "$deps" | wc -l) crates, none of them IO"
