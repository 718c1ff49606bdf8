#!/usr/bin/env bash
# Proves that the synthetic demo face (scripts/demo/make_demo_face.sh) passes
# the real liveness + match session: enrols a template from OUT/enrol/*.png,
# then runs `lifecert verify` on OUT/clip for
#   - every single action and every ordered pair of two different actions,
#     each from several start points of the looping clip (the kiosk's replay
#     camera may be anywhere in the loop when a session starts);
#   - the default random plan for seeds 0..SEEDS-1 on the clip as written.
# Prints a pass matrix; exits 0 only when every run passed.
#
# usage: scripts/demo/check_demo_face.sh [--lifecert BIN] [--out DIR]
#                                        [--offsets "0 11 22 ..."] [--seeds N]
# Environment: LIFECERT__VISION__MODELS_DIR etc. are passed through to lifecert.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LIFECERT="$ROOT/target/debug/lifecert"
OUT="$ROOT/target/demo-face"
OFFSETS=""
SEEDS=10
while [ $# -gt 0 ]; do
  case "$1" in
    --lifecert) LIFECERT=${2:?}; shift 2 ;;
    --out) OUT=${2:?}; shift 2 ;;
    --offsets) OFFSETS=${2:?}; shift 2 ;;
    --seeds) SEEDS=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ -x "$LIFECERT" ] || { echo "no lifecert binary at $LIFECERT (use --lifecert)" >&2; exit 2; }
[ -d "$OUT/clip" ] || { echo "no $OUT/clip: run scripts/demo/make_demo_face.sh first" >&2; exit 2; }
cd "$ROOT"   # lifecert finds ./models from here

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$LIFECERT" enroll-template "$OUT"/enrol/*.png -o "$WORK/template.json" >/dev/null

frames=("$OUT"/clip/*.png)
total=${#frames[@]}
# cycle length from the timeline (frames until the first label repeats its start)
cycle=$(awk -F, 'NR==2{first=$3} NR>2 && $3==first && prev!=first {print NR-2; exit} {prev=$3}' "$OUT/timeline.csv")
[ -n "$cycle" ] || cycle=$total
if [ -z "$OFFSETS" ]; then
  OFFSETS=$(seq 0 5 $((cycle - 1)) | tr '\n' ' ')
fi

# a copy of the clip that starts at frame $1 (symlinks, replayed with --loop)
rotated() {
  local off=$1 dir="$WORK/rot$1" i j=0
  if [ ! -d "$dir" ]; then
    mkdir "$dir"
    for ((i = off; i < total; i++)); do ln -s "${frames[$i]}" "$dir/$(printf %05d $j).png"; j=$((j + 1)); done
    for ((i = 0; i < off; i++)); do ln -s "${frames[$i]}" "$dir/$(printf %05d $j).png"; j=$((j + 1)); done
  fi
  echo "$dir"
}

ACTIONS=(blink open_mouth turn_left turn_right raise_head lower_head)
fail=0
runs=0
declare -a failures=()

run() { # label, then verify arguments
  local label=$1; shift
  runs=$((runs + 1))
  local out
  if out=$("$LIFECERT" verify --template "$WORK/template.json" "$@" --json 2>&1); then
    echo "$out" >>"$WORK/passed.jsonl"
    return 0
  fi
  fail=$((fail + 1))
  failures+=("$label: $(echo "$out" | tr -d '\n' | cut -c1-300)")
  return 1
}

echo "clip: $total frames, cycle $cycle frames; start offsets: $OFFSETS"
echo
printf '%-12s' "first\\second"
printf ' %-11s' single "${ACTIONS[@]}"
echo
for a in "${ACTIONS[@]}"; do
  printf '%-12s' "$a"
  for b in "" "${ACTIONS[@]}"; do
    if [ "$a" = "$b" ]; then printf ' %-11s' "-"; continue; fi
    ch=$a${b:+,$b}
    ok=0 n=0
    for off in $OFFSETS; do
      n=$((n + 1))
      if run "$ch @$off" --input "$(rotated "$off")" --loop --challenges "$ch"; then ok=$((ok + 1)); fi
    done
    printf ' %-11s' "$ok/$n"
  done
  echo
done
echo
printf 'default random plan, seeds 0..%d, clip as written: ' $((SEEDS - 1))
ok=0
for ((s = 0; s < SEEDS; s++)); do
  if run "seed $s" --input "$OUT/clip" --seed "$s"; then ok=$((ok + 1)); fi
done
echo "$ok/$SEEDS passed"
# timing margins of the passed runs (camera time; the engine's per-action
# clock, which pauses on quality problems, is at most this)
python3 - "$WORK/passed.jsonl" <<'PY' || true
import json, sys
acts, fin, dist = [], [], []
for line in open(sys.argv[1]):
    r = json.loads(line)
    fin.append(r["liveness"]["finished_s"])
    dist.append(r["matching"]["distance"])
    for a in r["liveness"]["actions"]:
        acts.append((a["done_s"] - a["prompted_s"], a["action"]))
acts.sort()
print(f"passed runs: {len(fin)}; longest prompt-to-done {acts[-1][0]:.1f} s ({acts[-1][1]}), "
      f"median {acts[len(acts) // 2][0]:.1f} s (limit 5 s per action); "
      f"latest finish {max(fin):.1f} s (limit 20 s); match distance {min(dist):.3f}-{max(dist):.3f} (threshold 0.5)")
PY
echo
if [ "$fail" -gt 0 ]; then
  echo "FAILED runs ($fail of $runs):"
  printf '  %s\n' "${failures[@]}"
  exit 1
fi
echo "all $runs runs passed"
