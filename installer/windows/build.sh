#!/usr/bin/env bash
# Cross-builds lifecert.exe for 64-bit Windows (x86_64-pc-windows-gnu, mingw-w64)
# and packs it with NSIS into target/windows/lifecert-setup-<version>.exe.
#
#   installer/windows/build.sh [--smoke]        (from anywhere)
#
# Steps: rustup target add x86_64-pc-windows-gnu (when that fails the script
# prints "skipping the Windows build: <reason>" and exits 0); apt-installs
# gcc-mingw-w64-x86-64 and nsis when missing; builds the models (models/build.sh,
# cached); cargo build --release --locked; stages the installer's files under
# target/windows/stage; makensis; prints the paths and sizes.
#
# --smoke  also runs the result under wine64 (apt-installs wine64 and wine when
#          missing): `lifecert.exe --version` and `check-config`, then a silent
#          install, an upgrade that must keep an edited kiosk.toml, `status`
#          with the installed exe, a silent uninstall that must keep the data,
#          and a reinstall + `uninstall.exe /S /PURGE` that must remove it.
#          Every Rust exe needs bcryptprimitives.dll!ProcessPrng, which wine 8
#          lacks, so a small shim DLL is built into target/windows/smoke/ and
#          copied next to the exe under test. It is never put in the installer.
#          With xvfb and fonts-noto-cjk, the installed kiosk also opens its
#          window for 8 s, with Noto standing in for C:\Windows\Fonts\msyh.ttc;
#          with target/demo-face (scripts/demo/make_demo_face.sh), `compare`
#          runs the face models from the install folder.
#          Each run uses a throw-away WINEPREFIX.
# Exit status: 0 built (or skipped), 1 a step or a smoke check failed, 2 usage.
set -euo pipefail

SMOKE=0
for arg in "$@"; do
  case $arg in
    --smoke) SMOKE=1 ;;
    -h | --help)
      awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *)
      echo "build.sh: unknown argument $arg (usage: installer/windows/build.sh [--smoke])" >&2
      exit 2
      ;;
  esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
# shellcheck source-path=SCRIPTDIR/../..
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

TARGET=x86_64-pc-windows-gnu
OUT=$ROOT/target/windows
STAGE=$OUT/stage
T0=$SECONDS

say() { echo "==> $*"; }
die() {
  echo "build.sh: error: $*" >&2
  exit 1
}
skip() {
  echo "skipping the Windows build: $*"
  exit 0
}
size_of() { du -h "$1" | cut -f1; }

# ---- toolchain: the Windows standard library comes from rustup, or we skip
ensure_cargo || skip "cargo is not installed"
command -v rustup >/dev/null 2>&1 ||
  skip "rustup is not installed, so the $TARGET standard library cannot be added"
say "rustup target add $TARGET"
if ! log=$(rustup target add "$TARGET" 2>&1); then
  skip "\`rustup target add $TARGET\` failed: $(printf '%s\n' "$log" | tail -n 1)"
fi
ensure_packages gcc-mingw-w64-x86-64 nsis
command -v x86_64-w64-mingw32-gcc >/dev/null || die "x86_64-w64-mingw32-gcc not found after installing gcc-mingw-w64-x86-64"
command -v makensis >/dev/null || die "makensis not found after installing nsis"

# ---- version from Cargo.toml (cargo pkgid: path+file:///…#lifecert@0.1.0)
pkgid=$(cargo pkgid -p lifecert --offline 2>/dev/null || cargo pkgid -p lifecert)
VERSION=${pkgid##*[#@]}
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "cannot read the version from cargo pkgid ($pkgid)"
base=${BASH_REMATCH[0]}
VERSION4=$base.0 # VIProductVersion wants four numbers
SETUP=$OUT/lifecert-setup-$VERSION.exe

# ---- models (built and checked by models/build.sh; cached per machine)
say "models"
ensure_models

# ---- the exe
say "cargo build --release --locked --target $TARGET -p lifecert"
t=$SECONDS
cargo build --release --locked --target "$TARGET" -p lifecert
BUILD_SECS=$((SECONDS - t))
EXE=$ROOT/target/$TARGET/release/lifecert.exe
[ -f "$EXE" ] || die "cargo did not produce $EXE"

# ---- stage exactly what the installer ships
say "staging $STAGE"
rm -rf "$STAGE"
mkdir -p "$STAGE/models/licenses" "$STAGE/assets"
# Stripped: the release profile keeps the symbol table (about 17 MB of 70).
if command -v x86_64-w64-mingw32-strip >/dev/null; then
  x86_64-w64-mingw32-strip -o "$STAGE/lifecert.exe" "$EXE"
else
  echo "warning: x86_64-w64-mingw32-strip not found (binutils-mingw-w64-x86-64); shipping the unstripped exe" >&2
  cp "$EXE" "$STAGE/lifecert.exe"
fi
cp installer/windows/license.txt "$STAGE/license.txt"
mapfile -t model_files < <(grep -o '"file": *"[^"]*"' models/manifest.json | sed 's/.*"\([^"]*\)"$/\1/')
[ ${#model_files[@]} -gt 0 ] || die "models/manifest.json lists no model files"
for f in "${model_files[@]}"; do
  [ -f "models/$f" ] || die "models/$f (listed in models/manifest.json) is missing: run bash models/build.sh"
  cp "models/$f" "$STAGE/models/"
done
cp models/manifest.json models/MODELS.md "$STAGE/models/"
cp models/licenses/* "$STAGE/models/licenses/"
cp -r assets/voice "$STAGE/assets/voice"
# The Windows default config: kiosk.toml with the Media Foundation camera,
# CRLF line endings for Notepad.
grep -q '^device = "v4l:0"$' kiosk.toml || die 'kiosk.toml no longer has the line device = "v4l:0"; update build.sh'
{
  echo "# Installed by the lifecert Windows installer as %ProgramData%\\lifecert\\kiosk.toml."
  echo "# An upgrade never overwrites this file; it writes the new defaults to kiosk.toml.new."
  echo "#"
  sed 's/^device = "v4l:0"$/device = "msmf:0"/' kiosk.toml
} | sed 's/$/\r/' >"$STAGE/kiosk.toml"

# ---- the installer
say "makensis"
t=$SECONDS
makensis -V2 -INPUTCHARSET UTF8 \
  "-DVERSION=$VERSION" "-DVERSION4=$VERSION4" "-DSTAGE=$STAGE" "-DOUTFILE=$SETUP" \
  installer/windows/lifecert.nsi
NSIS_SECS=$((SECONDS - t))
[ -f "$SETUP" ] || die "makensis did not produce $SETUP"

echo
echo "Windows build done in $((SECONDS - T0)) s (cargo $BUILD_SECS s, makensis $NSIS_SECS s)"
echo "  exe:       $EXE ($(size_of "$EXE"), $(stat -c %s "$EXE") bytes)"
echo "             $(file -b "$EXE")"
echo "  shipped:   $STAGE/lifecert.exe, stripped ($(size_of "$STAGE/lifecert.exe"), $(stat -c %s "$STAGE/lifecert.exe") bytes)"
echo "  installer: $SETUP ($(size_of "$SETUP"), $(stat -c %s "$SETUP") bytes)"
echo "  staged:    $STAGE ($(du -sh "$STAGE" | cut -f1))"

[ "$SMOKE" -eq 1 ] || exit 0

# ===================================================================== smoke
say "smoke test under wine"
ensure_packages wine64 wine
WINE=$(command -v wine64 || echo /usr/lib/wine/wine64)
WINESERVER=$(command -v wineserver || echo /usr/lib/wine/wineserver)
[ -x "$WINE" ] || die "wine64 not found (looked for wine64 on PATH and $WINE)"
[ -x "$WINESERVER" ] || die "wineserver not found"

SMOKE_DIR=$OUT/smoke
mkdir -p "$SMOKE_DIR"
# Wine 8 has no bcryptprimitives.dll!ProcessPrng (Rust >= 1.78 std needs it);
# forward it to advapi32's SystemFunction036 (RtlGenRandom). Test use only.
cat >"$SMOKE_DIR/bcp.c" <<'EOF'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID, ULONG);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE d, SIZE_T n) {
  while (n) {
    ULONG k = n > 0x10000000 ? 0x10000000 : (ULONG)n;
    if (!SystemFunction036(d, k)) return FALSE;
    d += k;
    n -= k;
  }
  return TRUE;
}
EOF
x86_64-w64-mingw32-gcc -shared -O2 -o "$SMOKE_DIR/bcryptprimitives.dll" "$SMOKE_DIR/bcp.c" -ladvapi32
cp "$STAGE/lifecert.exe" "$SMOKE_DIR/lifecert.exe"

PREFIX=$(mktemp -d /tmp/lifecert-wine.XXXXXX)
cleanup() {
  WINEPREFIX=$PREFIX "$WINESERVER" -k >/dev/null 2>&1 || true
  rm -rf "$PREFIX"
  rm -f "$SMOKE_DIR/lifecert.exe" # 50 MB; the staged exe is the same file
}
trap cleanup EXIT
export WINEPREFIX=$PREFIX WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
w() { "$WINE" "$@"; }
C=$PREFIX/drive_c
PF="$C/Program Files/lifecert"
PD=$C/ProgramData/lifecert
pass=0
fail=0
check() { # check <description> <command...>
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then
    echo "  ok   $what"
    pass=$((pass + 1))
  else
    echo "  FAIL $what"
    fail=$((fail + 1))
  fi
}
reg_has() { w reg query "$1" /v "$2" 2>/dev/null | grep -q "$2"; }
no() { ! "$@"; }
# Something besides the config (the database, logs) in the data folder.
has_data() {
  local f
  for f in "$1"/*; do
    case ${f##*/} in
      kiosk.toml | kiosk.toml.new) ;;
      *) [ -e "$f" ] && return 0 ;;
    esac
  done
  return 1
}
names() { # the names in a folder, on one line
  local f list=()
  for f in "$1"/*; do [ -e "$f" ] && list+=("${f##*/}"); done
  echo "${list[*]}"
}
task_file() { ls "$C"/windows/system32/[Tt]asks/lifecert-kiosk 2>/dev/null; }
autostart_present() { [ -n "$(task_file)" ] || reg_has 'HKLM\Software\Microsoft\Windows\CurrentVersion\Run' lifecert; }

say "wine prefix $PREFIX (first start takes a few seconds)"
w wineboot -i >/dev/null 2>&1 || true
"$WINESERVER" -w

echo "-- the exe"
out=$(w "$SMOKE_DIR/lifecert.exe" --version 2>&1 | tr -d '\r') || true
echo "  lifecert.exe --version: $out"
check "--version prints lifecert $VERSION" grep -qx "lifecert $VERSION" <<<"$out"
cfg_win=$(winepath -w "$STAGE/kiosk.toml" 2>/dev/null || echo "Z:${STAGE//\//\\}\\kiosk.toml")
set +e
cc=$(w "$SMOKE_DIR/lifecert.exe" check-config "$cfg_win" 2>&1 | tr -d '\r')
cc_rc=$?
set -e
echo "  check-config (exit $cc_rc): $(grep -c . <<<"$cc") lines; $(grep -m1 '^device = ' <<<"$cc")"
check "check-config accepts the shipped kiosk.toml" test "$cc_rc" -eq 0
check "the shipped config uses the msmf:0 camera" grep -qx 'device = "msmf:0"' <<<"$cc"
set +e
bad=$(LIFECERT__PERIPHERALS__PRINTER__PORT=COM12 w "$SMOKE_DIR/lifecert.exe" check-config "$cfg_win" 2>&1 | tr -d '\r')
set -e
check "a COM12 printer port is accepted" grep -qx 'port = "COM12"' <<<"$bad"

echo "-- silent install"
t=$SECONDS
w "$SETUP" /S
"$WINESERVER" -w
echo "  installed in $((SECONDS - t)) s"
check "lifecert.exe in Program Files" test -f "$PF/lifecert.exe"
check "uninstall.exe in Program Files" test -f "$PF/uninstall.exe"
# shellcheck disable=SC2016 # expanded by the inner bash
check "models/manifest.json and every model" bash -c 'for f in "$@"; do test -f "$0/models/$f" || exit 1; done; test -f "$0/models/manifest.json"' "$PF" "${model_files[@]}"
check "model licences" test -n "$(ls "$PF/models/licenses" 2>/dev/null)"
check "voice assets" test -f "$PF/assets/voice/zh-CN/MANIFEST.tsv"
check "no shim DLL in the installer" test ! -e "$PF/bcryptprimitives.dll"
check "kiosk.toml in ProgramData" test -f "$PD/kiosk.toml"
check "Start menu folder" test -d "$C/ProgramData/Microsoft/Windows/Start Menu/Programs/lifecert"
UNINST='HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\lifecert'
check "Add/Remove Programs DisplayVersion" reg_has "$UNINST" DisplayVersion
check "Add/Remove Programs EstimatedSize" reg_has "$UNINST" EstimatedSize
est=$(w reg query "$UNINST" /v EstimatedSize 2>/dev/null | tr -d '\r' | awk '/EstimatedSize/ { print $NF }') || true
echo "  EstimatedSize = $((${est:-0})) KB"
if [ -n "$(task_file)" ]; then
  echo "  auto-start: scheduled task lifecert-kiosk"
else
  echo "  auto-start: $(reg_has 'HKLM\Software\Microsoft\Windows\CurrentVersion\Run' lifecert && echo 'HKLM Run key (task fallback)' || echo none)"
fi
check "auto-start registered" autostart_present

echo "-- upgrade keeps an edited kiosk.toml"
echo '# smoke-edit' >>"$PD/kiosk.toml"
w "$SETUP" /S
"$WINESERVER" -w
check "edited kiosk.toml kept" grep -q '^# smoke-edit' "$PD/kiosk.toml"
check "new defaults written to kiosk.toml.new" test -f "$PD/kiosk.toml.new"

echo "-- the installed exe (shim copied in for the test only)"
cp "$SMOKE_DIR/bcryptprimitives.dll" "$PF/"
set +e
st=$(w "$PF/lifecert.exe" --config 'C:\ProgramData\lifecert\kiosk.toml' status 2>&1 | tr -d '\r')
st_rc=$?
set -e
printf '%s\n' "$st" | sed 's/\x1b\[[0-9;]*m//g' | sed -n '1,12s/^/  | /p'
echo "  status exit code $st_rc; data folder: $(names "$PD")"
check "status created its data under %ProgramData%\\lifecert" has_data "$PD"
if [ -f target/demo-face/enrol/enrol_1.png ] && [ -f target/demo-face/enrol/enrol_2.png ]; then
  set +e
  cmp_out=$(cd target/demo-face/enrol && w "$PF/lifecert.exe" compare enrol_1.png enrol_2.png 2>&1 | tr -d '\r')
  cmp_rc=$?
  set -e
  echo "  compare (models from the install folder, exit $cmp_rc): $cmp_out"
  check "compare finds the installed models and matches the demo face" grep -q 'same person' <<<"$cmp_out"
else
  echo "  (no target/demo-face: compare skipped; make it with bash scripts/demo/make_demo_face.sh target/demo-face)"
fi
NOTO=/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
ensure_packages xvfb xauth || true
if command -v xvfb-run >/dev/null && [ -f "$NOTO" ]; then
  # Stand-in for Microsoft YaHei: found through %SystemRoot%\Fonts\msyh.ttc.
  cp "$NOTO" "$C/windows/Fonts/msyh.ttc"
  set +e
  gui=$(timeout 180 xvfb-run -a -s '-screen 0 1280x800x24' "$WINE" "$PF/lifecert.exe" \
    --config 'C:\ProgramData\lifecert\kiosk.toml' --windowed --quit-after 8 2>&1 | tr -d '\r')
  gui_rc=$?
  set -e
  # shellcheck disable=SC2001 # multi-line text
  sed 's/\x1b\[[0-9;]*m//g' <<<"$gui" | grep -E 'CJK font|screen|kiosk stopped|ERROR' | sed 's/^/  | /' || true
  check "the kiosk window ran 8 s and closed cleanly (exit $gui_rc)" test "$gui_rc" -eq 0
  check "the CJK font came from %SystemRoot%\\Fonts\\msyh.ttc" grep -q 'Fonts\\msyh.ttc' <<<"$gui"
  rm -f "$C/windows/Fonts/msyh.ttc"
else
  echo "  (no xvfb-run or no $NOTO: the window check is skipped)"
fi
rm -f "$PF/bcryptprimitives.dll"

echo "-- silent uninstall keeps the data"
w "$PF/uninstall.exe" /S
"$WINESERVER" -w
check "program files removed" test ! -e "$PF"
check "Start menu folder removed" test ! -e "$C/ProgramData/Microsoft/Windows/Start Menu/Programs/lifecert"
check "Add/Remove Programs entry removed" no reg_has "$UNINST" DisplayVersion
check "auto-start removed" no autostart_present
check "kiosk.toml kept" test -f "$PD/kiosk.toml"
check "data kept" has_data "$PD"

echo "-- reinstall, then uninstall /PURGE removes the data"
w "$SETUP" /S /NOAUTOSTART
"$WINESERVER" -w
check "/NOAUTOSTART registers no auto-start" no autostart_present
w "$PF/uninstall.exe" /S /PURGE
"$WINESERVER" -w
check "program files removed" test ! -e "$PF"
check "data removed with /PURGE" test ! -e "$PD"

echo
echo "wine smoke: $pass passed, $fail failed ($(wine --version 2>/dev/null || echo wine))"
[ "$fail" -eq 0 ] || exit 1
