#!/usr/bin/env bash
# Builds the synthetic demo face (enrolment stills + a looping 10 fps clip of
# all six liveness actions) from scikit-image's public-domain astronaut photo.
# Creates/updates a venv outside the repo, then runs make_demo_face.py.
#
# usage: scripts/demo/make_demo_face.sh [OUT_DIR] [--cycles N] [--no-mp4]
#        (default OUT_DIR: target/demo-face, which git ignores)
# Environment: LIFECERT_DEMO_VENV (default ~/.cache/lifecert/demo-venv),
#              LIFECERT_DEMO_PYTHON (python3 used to create the venv).
# Then: scripts/demo/check_demo_face.sh proves the clip passes `lifecert verify`.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${LIFECERT_DEMO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/lifecert/demo-venv}
PY=${LIFECERT_DEMO_PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
  if ! "$PY" -m venv "$VENV" 2>/dev/null; then
    echo "==> python3 -m venv failed; installing python3-venv" >&2
    . "$ROOT/scripts/lib.sh"
    ensure_packages python3-venv
    "$PY" -m venv "$VENV"
  fi
fi
stamp="$VENV/.demo-requirements"
if ! cmp -s "$HERE/requirements.txt" "$stamp" 2>/dev/null; then
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
  cp "$HERE/requirements.txt" "$stamp"
fi
cd "$ROOT"
exec "$VENV/bin/python" "$HERE/make_demo_face.py" "$@"
