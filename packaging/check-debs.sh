#!/usr/bin/env bash
# Install test of the two Debian packages (lifecert, lifecert-server).
#
# Builds both .debs (cargo-deb) from a release build, checks them statically
# (dpkg-deb), installs them with apt into a fresh Debian 12 root made with
# debootstrap (minbase; the tarball is cached in ~/.cache/lifecert/), checks
# files, owners, permissions, users, conffiles, what the maintainer scripts
# did, `systemd-analyze verify`/`security` on the units and the udev rules;
# then, when systemd-nspawn can boot the root, boots it and proves the units
# really run (server over TLS with the packaged config, the real cage kiosk
# session on wlroots' headless backend and its watchdog restart, the kiosk
# unit's hardening); last an upgrade that must keep an edited conffile,
# remove and purge.
#
# Prints `ok - …` / `not ok - …` / `skip - …` per check and
# `packaging: N passed, M failed, K skipped`,
# exits non-zero on any failure. Needs root (debootstrap, chroot, nspawn) and
# network access to deb.debian.org. Usage: bash packaging/check-debs.sh
#
# Environment:
#   LIFECERT_DEBS_KEEP_ROOT=1  keep the test root (its path is printed)
#   LIFECERT_DEBS_NO_BOOT=1    skip the systemd-nspawn boot self-test
#   LIFECERT_DEBIAN_MIRROR     default http://deb.debian.org/debian
#   LIFECERT_DEBIAN_SECURITY_MIRROR  default: the mirror with its trailing
#                              /debian replaced by /debian-security (as on
#                              deb.debian.org), else http://deb.debian.org/debian-security
#
# shellcheck disable=SC2016  # '$1' in bash -c scripts and dpkg-query formats is meant literally
# shellcheck disable=SC2012  # ls | wc -l over our own models/ and assets/ names
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh disable=SC1091  # followed with shellcheck -x
. scripts/lib.sh

MIRROR=${LIFECERT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
MIRROR=${MIRROR%/}
if [ -n "${LIFECERT_DEBIAN_SECURITY_MIRROR:-}" ]; then
  SECURITY_MIRROR=${LIFECERT_DEBIAN_SECURITY_MIRROR%/}
elif [ "${MIRROR%/debian}" != "$MIRROR" ]; then
  SECURITY_MIRROR=${MIRROR%/debian}/debian-security
else
  SECURITY_MIRROR=http://deb.debian.org/debian-security
fi
CARGO_DEB_VERSION=3.8.0
SUITE=bookworm
CACHE_DIR="$HOME/.cache/lifecert"
BASE_TGZ="$CACHE_DIR/debootstrap-$SUITE-minbase.tgz"
SELFTEST_DIR=packaging/nspawn-selftest
# systemd-analyze security exposure limits, in tenths (9.9 = worst). Measured:
# kiosk 3.6 (no PrivateDevices, GPU JIT), server 1.2.
KIOSK_EXPOSURE_MAX=45
SERVER_EXPOSURE_MAX=25

passed=0
failed=0
skipped=0
ok() { echo "ok - $*"; passed=$((passed + 1)); }
nok() { echo "not ok - $*"; failed=$((failed + 1)); }
skip() { echo "skip - $*"; skipped=$((skipped + 1)); }
# check "description" command...: ok when the command succeeds (output hidden).
check() {
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then ok "$what"; else nok "$what"; fi
}
# expect "description" expected actual
expect() {
  if [ "$2" = "$3" ]; then ok "$1"; else nok "$1 (expected '$2', got '$3')"; fi
}

script_start=$(date +%s)
step_name=""
step_start=$script_start
timings=()
step() {
  local now
  now=$(date +%s)
  if [ -n "$step_name" ]; then timings+=("$(printf '%4ss  %s' $((now - step_start)) "$step_name")"); fi
  step_name=$1
  step_start=$now
  [ -n "$1" ] && echo "==> $1"
  return 0
}

# --- the test root and its cleanup -----------------------------------------
R=""
mounted_in_root() {
  [ -n "$R" ] && awk -v r="$R" '$2 == r || index($2, r "/") == 1 { found = 1 } END { exit !found }' /proc/self/mounts
}
unmount_root() {
  [ -n "$R" ] || return 0
  local m
  # Deepest first.
  while IFS= read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v r="$R" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts | sort -r)
}
checks_started=0
summary_done=0
summary() {
  summary_done=1
  echo "packaging: $passed passed, $failed failed, $skipped skipped"
}
cleanup() {
  local status=$?
  # Died early (set -e, a signal, an exit 1 after a fatal check): count the
  # abort as a failure and still print the summary line.
  if [ "$summary_done" = 0 ] && [ "$status" -ne 0 ] && [ "$checks_started" = 1 ]; then
    nok "the install test stopped early (exit $status) during: ${step_name:-start}"
    summary
  fi
  if [ -n "$R" ] && [ -d "$R" ]; then
    unmount_root
    if mounted_in_root; then
      echo "warning: something is still mounted under $R; not deleting it" >&2
    elif [ "${LIFECERT_DEBS_KEEP_ROOT:-}" = 1 ]; then
      echo "kept the test root: $R"
    else
      rm -rf --one-file-system "$R"
    fi
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# chroot with a clean environment (apt must not see the host's settings).
in_root() {
  local env=(PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
  local v
  for v in http_proxy https_proxy no_proxy; do
    [ -n "${!v:-}" ] && env+=("$v=${!v}")
  done
  chroot "$R" /usr/bin/env -i "${env[@]}" "$@"
}

if [ "$(id -u)" -ne 0 ]; then
  echo "error: the install test needs root (debootstrap, chroot, systemd-nspawn); run it as root" >&2
  exit 2
fi

checks_started=1

# --- 1. tools ----------------------------------------------------------------
step "tools (apt packages, cargo-deb)"
ensure_cargo
ensure_packages "${BUILD_PACKAGES[@]}" debootstrap systemd-container dpkg-dev
# Exactly this version: the [package.metadata.deb] keys and the generated
# maintainer-script fragments checked below are those of cargo-deb 3.8.0.
if [ "$(cargo deb --version 2>/dev/null | awk '{ print $NF }' || true)" != "$CARGO_DEB_VERSION" ]; then
  echo "==> installing cargo-deb $CARGO_DEB_VERSION"
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked
fi
cargo deb --version

# --- 2. models, release build, packages ----------------------------------------
step "models"
ensure_models

step "release build"
build_shipped

step "cargo deb"
rm -f target/debian/lifecert_*.deb target/debian/lifecert-server_*.deb
cargo deb --no-build --locked -p lifecert-server
cargo deb --no-build --locked -p lifecert
KIOSK_DEB=$(ls target/debian/lifecert_*_amd64.deb)
SERVER_DEB=$(ls target/debian/lifecert-server_*_amd64.deb)
VERSION=$(dpkg-deb -f "$KIOSK_DEB" Version)
for deb in "$KIOSK_DEB" "$SERVER_DEB"; do
  echo "$(basename "$deb"): $(du -h "$deb" | cut -f1) ($(stat -c %s "$deb") bytes), Installed-Size $(dpkg-deb -f "$deb" Installed-Size) KiB"
  echo "  Depends: $(dpkg-deb -f "$deb" Depends)"
done

# --- 3. static checks of the .debs -------------------------------------------
step "static checks (dpkg-deb)"
kiosk_list=$(dpkg-deb -c "$KIOSK_DEB" | awk '{ print $1, $2, $6 }')
server_list=$(dpkg-deb -c "$SERVER_DEB" | awk '{ print $1, $2, $6 }')
# has_file LIST "mode owner path"
has_file() { grep -qxF -e "$2" <<<"$1"; }

kiosk_files=(
  "-rwxr-xr-x 0/0 ./usr/bin/lifecert"
  "-rw-r----- 0/0 ./etc/lifecert/kiosk.toml"
  "-rw-r--r-- 0/0 ./usr/lib/systemd/system/lifecert.service"
  "-rw-r--r-- 0/0 ./usr/lib/sysusers.d/lifecert.conf"
  "-rw-r--r-- 0/0 ./usr/lib/tmpfiles.d/lifecert.conf"
  "-rw-r--r-- 0/0 ./usr/lib/systemd/logind.conf.d/70-lifecert-kiosk.conf"
  "-rw-r--r-- 0/0 ./usr/lib/systemd/system.conf.d/70-lifecert-kiosk.conf"
  "-rw-r--r-- 0/0 ./usr/lib/sysctl.d/90-lifecert-kiosk.conf"
  "-rw-r--r-- 0/0 ./usr/share/lifecert/models/manifest.json"
  "-rw-r--r-- 0/0 ./usr/share/doc/lifecert/models/MODELS.md"
  "-rw-r--r-- 0/0 ./usr/share/doc/lifecert/voice/README.md"
  "-rw-r--r-- 0/0 ./usr/share/lifecert/voice/zh-CN/MANIFEST.tsv"
  "-rw-r--r-- 0/0 ./usr/share/doc/lifecert/kiosk.toml.defaults"
  "-rw-r--r-- 0/0 ./usr/share/doc/lifecert/copyright"
)
for f in models/*.onnx; do kiosk_files+=("-rw-r--r-- 0/0 ./usr/share/lifecert/models/$(basename "$f")"); done
for f in models/licenses/*; do kiosk_files+=("-rw-r--r-- 0/0 ./usr/share/doc/lifecert/models/$(basename "$f")"); done
for f in assets/voice/zh-CN/*.ogg; do kiosk_files+=("-rw-r--r-- 0/0 ./usr/share/lifecert/voice/zh-CN/$(basename "$f")"); done
missing=()
for f in "${kiosk_files[@]}"; do has_file "$kiosk_list" "$f" || missing+=("$f"); done
expect "lifecert.deb holds its ${#kiosk_files[@]} expected files with their modes (binary, $(ls models/*.onnx | wc -l) models, manifest, licences, $(ls assets/voice/zh-CN/*.ogg | wc -l) voice clips, units, config)" \
  "" "${missing[*]:-}"
server_files=(
  "-rwxr-xr-x 0/0 ./usr/bin/lifecert-server"
  "-rw-r----- 0/0 ./etc/lifecert/server.toml"
  "-rw-r--r-- 0/0 ./usr/lib/systemd/system/lifecert-server.service"
  "-rw-r--r-- 0/0 ./usr/lib/sysusers.d/lifecert-server.conf"
  "-rw-r--r-- 0/0 ./usr/lib/tmpfiles.d/lifecert-server.conf"
  "-rw-r--r-- 0/0 ./usr/share/doc/lifecert-server/deployment.md"
)
missing=()
for f in "${server_files[@]}"; do has_file "$server_list" "$f" || missing+=("$f"); done
expect "lifecert-server.deb holds its ${#server_files[@]} expected files with their modes" "" "${missing[*]:-}"
expect "every file in both .debs is owned by root (0/0)" "" \
  "$(printf '%s\n%s\n' "$kiosk_list" "$server_list" | awk '$2 != "0/0"')"
expect "lifecert.deb: only /etc/lifecert/kiosk.toml is a conffile" "/etc/lifecert/kiosk.toml" \
  "$(dpkg-deb --ctrl-tarfile "$KIOSK_DEB" | tar -xOf - ./conffiles)"
expect "lifecert-server.deb: only /etc/lifecert/server.toml is a conffile" "/etc/lifecert/server.toml" \
  "$(dpkg-deb --ctrl-tarfile "$SERVER_DEB" | tar -xOf - ./conffiles)"
expect "packaged models match models/manifest.json" \
  "$(cd models && sha256sum -- *.onnx manifest.json)" \
  "$(tmp=$(mktemp -d) && dpkg-deb -x "$KIOSK_DEB" "$tmp" && (cd "$tmp/usr/share/lifecert/models" && sha256sum -- *.onnx manifest.json); rm -rf "$tmp")"

# Depends: the dlopen'd GUI libraries, the session, fonts and certificates.
kiosk_depends=$(dpkg-deb -f "$KIOSK_DEB" Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//')
missing=()
for p in libc6 libasound2 systemd udev cage xwayland seatd libegl1 libegl-mesa0 libgl1 libgl1-mesa-dri \
  libwayland-client0 libwayland-egl1 libxkbcommon0 libxkbcommon-x11-0 libx11-6 libx11-xcb1 libxcb1 \
  libxcursor1 libxi6 libxrender1 fonts-noto-cjk ca-certificates; do
  grep -qx "$p" <<<"$kiosk_depends" || missing+=("$p")
done
expect "lifecert Depends lists the GUI libraries, cage/xwayland/seatd, systemd, udev, fonts-noto-cjk, ca-certificates" "" "${missing[*]:-}"
server_depends=$(dpkg-deb -f "$SERVER_DEB" Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//')
check "lifecert-server Depends on systemd and libc6" bash -c 'grep -qx systemd <<<"$1" && grep -qx libc6 <<<"$1"' _ "$server_depends"

# Maintainer scripts: fragments inserted, valid sh, never a start on install.
for deb in "$KIOSK_DEB" "$SERVER_DEB"; do
  pkg=$(dpkg-deb -f "$deb" Package)
  ctrl=$(mktemp -d)
  dpkg-deb -e "$deb" "$ctrl"
  for s in postinst prerm postrm; do
    check "$pkg $s: valid sh (sh -n)" sh -n "$ctrl/$s"
  done
  expect "$pkg: every #DEBHELPER# token replaced" "" "$(grep -l '^#DEBHELPER#' "$ctrl"/post* "$ctrl"/pre* 2>/dev/null || true)"
  check "$pkg postinst: creates the user (systemd-sysusers)" grep -q 'systemd-sysusers .*'"$pkg"'.conf' "$ctrl/postinst"
  check "$pkg postinst: enables the unit (deb-systemd-helper enable)" grep -q "deb-systemd-helper enable $pkg.service" "$ctrl/postinst"
  check "$pkg postinst: never starts the unit on a fresh install" bash -c '! grep -q "deb-systemd-invoke start\|_dh_action=start" "$1"' _ "$ctrl/postinst"
  check "$pkg postinst: try-restarts a running unit on upgrade" grep -q "deb-systemd-invoke try-restart $pkg.service" "$ctrl/postinst"
  check "$pkg prerm: stops the unit only on remove" grep -q '\[ "$1" = remove \]' "$ctrl/prerm"
  rm -rf "$ctrl"
done

# --- 4. the test root -----------------------------------------------------------
step "test root (debootstrap $SUITE minbase, cached)"
R=$(mktemp -d "${TMPDIR:-/tmp}/lifecert-debs.XXXXXX")
chmod 755 "$R"
if [ -s "$BASE_TGZ" ]; then
  tar -C "$R" -xzf "$BASE_TGZ"
else
  mkdir -p "$CACHE_DIR"
  debootstrap --variant=minbase "$SUITE" "$R" "$MIRROR" >"$R.debootstrap.log" 2>&1 || {
    tail -20 "$R.debootstrap.log" >&2
    rm -f "$R.debootstrap.log"
    echo "error: debootstrap failed (network to $MIRROR?)" >&2
    exit 1
  }
  rm -f "$R.debootstrap.log"
  unmount_root
  tar -C "$R" -czf "$BASE_TGZ.tmp" . && mv "$BASE_TGZ.tmp" "$BASE_TGZ"
fi
cat >"$R/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
cp /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
grep -q localhost "$R/etc/hosts" 2>/dev/null || printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >>"$R/etc/hosts"
mount -t proc proc "$R/proc"

# --- 5. install -------------------------------------------------------------------
step "apt install both packages"
mkdir -p "$R/tmp/debs"
cp "$KIOSK_DEB" "$SERVER_DEB" "$R/tmp/debs/"
install_log="$R/root/install.log"
if in_root sh -c 'apt-get -o Acquire::Retries=3 update -qq && apt-get -o Acquire::Retries=3 install -y --no-install-recommends /tmp/debs/lifecert_*.deb /tmp/debs/lifecert-server_*.deb' >"$install_log" 2>&1; then
  ok "apt-get install ./lifecert_$VERSION ./lifecert-server_$VERSION into a fresh $SUITE root ($(grep -c '^Setting up' "$install_log") packages set up)"
else
  tail -30 "$install_log"
  nok "apt-get install of both packages (log above)"
  exit 1
fi
expect "both packages installed" "install ok installed|install ok installed" \
  "$(in_root dpkg-query -W -f='${Status}|' lifecert lifecert-server | sed 's/|$//')"
check "postinst warned about the demo staff PIN" grep -q 'DEMO staff PIN' "$install_log"
check "postinst said how to start the server (TLS certificate first)" grep -q 'lifecert-server: installed and enabled, not started' "$install_log"

# --- 6. files, owners, permissions, users -------------------------------------------
step "installed files, users, conffiles, maintainer-script effects"
# stat inside the root: the host does not know its users.
st() { in_root stat -c '%a %U:%G %F' "$1" 2>&1 || true; }
expect "/usr/bin/lifecert" "755 root:root regular file" "$(st /usr/bin/lifecert)"
expect "/usr/bin/lifecert-server" "755 root:root regular file" "$(st /usr/bin/lifecert-server)"
expect "/etc/lifecert/kiosk.toml (staff PIN hash: kiosk user only)" "640 root:lifecert regular file" "$(st /etc/lifecert/kiosk.toml)"
expect "/etc/lifecert/server.toml" "640 root:_lifecert regular file" "$(st /etc/lifecert/server.toml)"
expect "/etc/lifecert/tls" "750 root:_lifecert directory" "$(st /etc/lifecert/tls)"
expect "/var/lib/lifecert-kiosk (kiosk data)" "700 lifecert:lifecert directory" "$(st /var/lib/lifecert-kiosk)"
expect "/var/log/lifecert-kiosk (kiosk logs)" "700 lifecert:lifecert directory" "$(st /var/log/lifecert-kiosk)"
expect "/var/lib/lifecert (server data)" "700 _lifecert:_lifecert directory" "$(st /var/lib/lifecert)"
expect "/usr/lib/systemd/system/lifecert.service" "644 root:root regular file" "$(st /usr/lib/systemd/system/lifecert.service)"
expect "/usr/lib/systemd/system/lifecert-server.service" "644 root:root regular file" "$(st /usr/lib/systemd/system/lifecert-server.service)"
expect "models installed (/usr/share/lifecert/models/*.onnx)" "$(ls models/*.onnx | wc -l)" \
  "$(in_root sh -c 'ls /usr/share/lifecert/models/*.onnx | wc -l')"
expect "voice clips installed (/usr/share/lifecert/voice/zh-CN/*.ogg)" "$(ls assets/voice/zh-CN/*.ogg | wc -l)" \
  "$(in_root sh -c 'ls /usr/share/lifecert/voice/zh-CN/*.ogg | wc -l')"
check "fonts-noto-cjk: the kiosk's CJK font is installed" test -f "$R/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
check "cage, Xwayland and seatd installed" test -x "$R/usr/bin/cage" -a -x "$R/usr/bin/Xwayland" -a -x "$R/usr/sbin/seatd"

kiosk_user=$(in_root getent passwd lifecert || true)
expect "user lifecert: home /var/lib/lifecert-kiosk, shell nologin" "/var/lib/lifecert-kiosk:/usr/sbin/nologin" \
  "$(cut -d: -f6,7 <<<"$kiosk_user")"
check "user lifecert is a system user (uid < 1000)" test "$(cut -d: -f3 <<<"$kiosk_user")" -lt 1000
kiosk_groups=" $(in_root id -nG lifecert 2>&1) "
for g in video render audio dialout; do
  case "$kiosk_groups" in *" $g "*) ok "user lifecert in group $g" ;; *) nok "user lifecert in group $g (groups:$kiosk_groups)" ;; esac
done
server_user=$(in_root getent passwd _lifecert || true)
expect "user _lifecert: home /var/lib/lifecert, shell nologin" "/var/lib/lifecert:/usr/sbin/nologin" "$(cut -d: -f6,7 <<<"$server_user")"
check "user _lifecert is a system user (uid < 1000)" test "$(cut -d: -f3 <<<"$server_user")" -lt 1000
check "the kiosk user can read its config and check-config passes" \
  in_root runuser -u lifecert -- lifecert --config /etc/lifecert/kiosk.toml check-config
check "the server user can read its config and check-config passes" \
  in_root runuser -u _lifecert -- lifecert-server --config /etc/lifecert/server.toml check-config
# The installed kiosk finds and loads the packaged models (vision.models_dir):
# `analyze` runs the detector on an image (a screenshot: no face in it).
cp docs/screens/01-attract.png "$R/tmp/no-face.png"
check "the installed kiosk loads the packaged models (lifecert analyze, as lifecert)" \
  bash -c 'chroot "$1" runuser -u lifecert -- lifecert --config /etc/lifecert/kiosk.toml analyze /tmp/no-face.png 2>&1 | grep -q "^1 frames, a face in 0"' _ "$R"
rm -f "$R/tmp/no-face.png"
for f in /etc/lifecert/kiosk.toml /etc/lifecert/server.toml; do
  check "other users cannot read $f" \
    bash -c 'chroot "$1" runuser -u nobody -- cat "$2" 2>&1 | grep -q "Permission denied"' _ "$R" "$f"
done

# Conffiles registered with the packaged checksums.
for pair in lifecert:/etc/lifecert/kiosk.toml:packaging/deb/kiosk.toml lifecert-server:/etc/lifecert/server.toml:packaging/deb/server.toml; do
  IFS=: read -r pkg path src <<<"$pair"
  expect "$pkg conffile $path registered with the packaged md5" " $path $(md5sum <"$src" | cut -d' ' -f1)" \
    "$(in_root dpkg-query -W -f='${Conffiles}' "$pkg" | grep -F " $path " | sed 's/ *$//')"
done

# What the maintainer scripts did.
rules="$R/etc/udev/rules.d/70-lifecert.rules"
check "postinst wrote /etc/udev/rules.d/70-lifecert.rules from the config" grep -q 'Generated by `lifecert udev-rules`' "$rules"
check "no udev rule while the config has no USB ids (advice instead)" \
  bash -c '! grep -q "^SUBSYSTEM" "$1" && grep -q "set \[peripherals.card_reader\] usb_vid and usb_pid" "$1"' _ "$rules"
expect "default target is graphical.target" "graphical.target" "$(basename "$(readlink "$R/etc/systemd/system/default.target")")"
expect "lifecert.service enabled (graphical.target.wants)" "enabled" "$(in_root systemctl is-enabled lifecert.service 2>&1)"
check "graphical.target.wants/lifecert.service link" test -L "$R/etc/systemd/system/graphical.target.wants/lifecert.service"
expect "lifecert-server.service enabled (multi-user.target.wants)" "enabled" "$(in_root systemctl is-enabled lifecert-server.service 2>&1)"
expect "ctrl-alt-del.target masked" "/dev/null" "$(readlink "$R/etc/systemd/system/ctrl-alt-del.target")"
expect "logind drop-in: no autovt gettys, no reserved VT" "NAutoVTs=0 ReserveVT=0" \
  "$(grep -E '^(NAutoVTs|ReserveVT)=' "$R/usr/lib/systemd/logind.conf.d/70-lifecert-kiosk.conf" | tr '\n' ' ' | sed 's/ $//')"
expect "sysctl: kernel.sysrq = 0" "kernel.sysrq = 0" "$(grep -E '^kernel.sysrq' "$R/usr/lib/sysctl.d/90-lifecert-kiosk.conf")"
expect "system.conf drop-in: CtrlAltDelBurstAction=none" "CtrlAltDelBurstAction=none" \
  "$(grep -E '^CtrlAltDelBurstAction' "$R/usr/lib/systemd/system.conf.d/70-lifecert-kiosk.conf")"

# dpkg-reconfigure re-applies the config's permissions and regenerates the
# udev rules from the (edited) config. The edit is kept for the upgrade below.
conf="$R/etc/lifecert/kiosk.toml"
sed -i '/^\[peripherals.card_reader\]/,/^\[/ { s/^usb_vid = ""/usb_vid = "0x1A86"/; s/^usb_pid = ""/usb_pid = "0x7523"/ }' "$conf"
sed -i '/^\[peripherals.printer\]/,/^\[/ { s/^usb_vid = ""/usb_vid = "0x0416"/; s/^usb_pid = ""/usb_pid = "0x5011"/ }' "$conf"
sed -i 's/^site = ""/site = "install-test site"/' "$conf"
chown root:root "$conf"
chmod 0644 "$conf"
check "dpkg-reconfigure lifecert" in_root dpkg-reconfigure -fnoninteractive lifecert
expect "dpkg-reconfigure restored kiosk.toml to 640 root:lifecert" "640 root:lifecert regular file" "$(st /etc/lifecert/kiosk.toml)"
expect "udev rules regenerated: one rule per device" "2" "$(grep -c '^SUBSYSTEM' "$rules" || true)"
check "udev rule: card reader by 1a86:7523 -> /dev/lifecert/card-reader, group dialout" \
  grep -q 'ATTRS{idVendor}=="1a86", ATTRS{idProduct}=="7523", SYMLINK+="lifecert/card-reader", MODE="0660", GROUP="dialout"' "$rules"
check "udev rule: printer by 0416:5011 -> /dev/lifecert/printer" \
  grep -q 'ATTRS{idVendor}=="0416", ATTRS{idProduct}=="5011", SYMLINK+="lifecert/printer"' "$rules"

# A broken config must not break apt: the postinst keeps the previous rules,
# warns, and exits 0 (the unit's check-config stops the kiosk instead).
cp -p "$conf" "$R/root/kiosk.toml.good"
rules_before=$(md5sum <"$rules")
sed -i 's/^fps = 30$/fps = 500/' "$conf"
check "control: the broken kiosk.toml (camera.fps = 500) fails check-config" \
  bash -c '! chroot "$1" lifecert --config /etc/lifecert/kiosk.toml check-config' _ "$R"
reconf_out=$(in_root dpkg-reconfigure -fnoninteractive lifecert 2>&1) && reconf_rc=0 || reconf_rc=$?
expect "dpkg-reconfigure lifecert with a broken config exits 0" "0" "$reconf_rc"
check "postinst with a broken config warns: could not write …70-lifecert.rules" \
  grep -q 'could not write /etc/udev/rules.d/70-lifecert.rules' <<<"$reconf_out"
expect "postinst with a broken config kept the previous udev rules" "$rules_before" "$(md5sum <"$rules")"
check "postinst with a broken config left no 70-lifecert.rules.tmp" test ! -e "$rules.tmp"
cp -p "$R/root/kiosk.toml.good" "$conf"
rm -f "$R/root/kiosk.toml.good"

# --- 7. systemd-analyze and udevadm ---------------------------------------------------
step "systemd-analyze verify/security, udevadm test"
for unit in lifecert.service lifecert-server.service; do
  # verify only warns (exit 0) on unknown keys and bad values: any output fails.
  out=$(in_root systemd-analyze verify "/usr/lib/systemd/system/$unit" 2>&1) && rc=0 || rc=$?
  if [ "$rc" -eq 0 ] && [ -z "$out" ]; then ok "systemd-analyze verify $unit: clean"; else nok "systemd-analyze verify $unit (rc $rc): $out"; fi
done
# A deliberately broken unit must make the verify check fail (the check is real).
printf '[Service]\nExecStart=/usr/bin/lifecert\nPrivateDevicez=yes\n' >"$R/tmp/lifecert-broken.service"
out=$(in_root systemd-analyze verify /tmp/lifecert-broken.service 2>&1 || true)
check "control: systemd-analyze verify reports an unknown key" grep -q PrivateDevicez <<<"$out"
rm -f "$R/tmp/lifecert-broken.service"
for pair in lifecert.service:$KIOSK_EXPOSURE_MAX lifecert-server.service:$SERVER_EXPOSURE_MAX; do
  unit=${pair%%:*}
  max=${pair##*:}
  out=$(in_root systemd-analyze security --offline=yes --threshold="$max" "/usr/lib/systemd/system/$unit" 2>&1) && rc=0 || rc=$?
  exposure=$(grep -o 'Overall exposure level for [^:]*: [0-9.]*' <<<"$out" | awk '{ print $NF }' || true)
  if [ "$rc" -eq 0 ] && [ -n "$exposure" ]; then
    ok "systemd-analyze security $unit: exposure $exposure <= $((max / 10)).$((max % 10))"
  else
    nok "systemd-analyze security $unit: exposure ${exposure:-?} (limit $((max / 10)).$((max % 10)), rc $rc)"
  fi
done

# udev rule syntax: udevadm test reads every rules file (host /sys bound in).
tty_dev=$(ls /sys/class/tty 2>/dev/null | head -1 || true)
if [ -n "$tty_dev" ] && mount --rbind /sys "$R/sys" 2>/dev/null; then
  mount --make-rslave "$R/sys"
  mkdir -p "$R/run/udev"
  out=$(in_root udevadm test --action=add "/class/tty/$tty_dev" 2>&1 || true)
  check "udevadm test read 70-lifecert.rules" grep -q '70-lifecert.rules' <<<"$out"
  expect "udevadm test: no error in 70-lifecert.rules" "" "$(grep -i '70-lifecert.rules' <<<"$out" | grep -i 'invalid\|error\|unknown' || true)"
  # Control: a broken rule must show up (the check above is real).
  echo 'SUBSYSTEM=="tty", ATTRS{idVendor}="1a86", SYMLINK+="x"' >"$R/etc/udev/rules.d/71-lifecert-broken.rules"
  out=$(in_root udevadm test --action=add "/class/tty/$tty_dev" 2>&1 || true)
  check "control: udevadm test reports a broken rule" bash -c 'grep "71-lifecert-broken.rules" <<<"$1" | grep -qi "invalid"' _ "$out"
  rm -f "$R/etc/udev/rules.d/71-lifecert-broken.rules"
  umount -R "$R/sys" 2>/dev/null || umount -l "$R/sys" || true
  rmdir "$R/run/udev" 2>/dev/null || true   # udevd does not run in the root
else
  skip "udevadm test: no /sys/class/tty device or /sys cannot be bound here"
fi

# --- 8. boot the root with systemd (nspawn) ----------------------------------------------
step "systemd-nspawn boot self-test"
if [ "${LIFECERT_DEBS_NO_BOOT:-}" = 1 ]; then
  skip "nspawn boot self-test (LIFECERT_DEBS_NO_BOOT=1)"
elif ! command -v systemd-nspawn >/dev/null 2>&1; then
  skip "nspawn boot self-test: systemd-nspawn not installed"
else
  # A test tool for the self-test, not a dependency: curl checks that the
  # packaged server answers over HTTP/2 and HTTP/1.1.
  if in_root apt-get -o Acquire::Retries=3 install -y -qq --no-install-recommends curl >"$R/root/curl-install.log" 2>&1; then
    ok "curl installed in the test root for the HTTP/2 check"
  else
    nok "curl installed in the test root for the HTTP/2 check"
    tail -5 "$R/root/curl-install.log"
  fi
  umount "$R/proc"
  # The server as documented for a test box: a dev certificate, key readable by _lifecert.
  in_root lifecert-server gen-dev-cert /etc/lifecert/tls >/dev/null
  in_root chgrp _lifecert /etc/lifecert/tls/server.key
  in_root chmod 0640 /etc/lifecert/tls/server.key
  # The kiosk would hold the fleet CA (server.ca_path); tls/ is 0750 root:_lifecert.
  install -m 644 "$R/etc/lifecert/tls/ca.pem" "$R/etc/lifecert/selftest-ca.pem"
  # A machine id, so the boot is not a "first boot" (no presets, no firstboot prompts).
  [ -s "$R/etc/machine-id" ] || od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$R/etc/machine-id"
  install -d "$R/usr/local/lib/lifecert-selftest" "$R/etc/systemd/system/lifecert.service.d" "$R/etc/systemd/system/multi-user.target.wants"
  install -m 755 "$SELFTEST_DIR/selftest.sh" "$SELFTEST_DIR/fake-kiosk.sh" "$R/usr/local/lib/lifecert-selftest/"
  install -m 644 "$SELFTEST_DIR/kiosk-fake-dropin.conf" "$R/usr/local/lib/lifecert-selftest/"
  install -m 644 "$SELFTEST_DIR/lifecert-selftest.service" "$R/etc/systemd/system/"
  install -m 644 "$SELFTEST_DIR/kiosk-dropin.conf" "$R/etc/systemd/system/lifecert.service.d/selftest.conf"
  ln -sf /etc/systemd/system/lifecert-selftest.service "$R/etc/systemd/system/multi-user.target.wants/"
  rm -f "$R/root/selftest.out"
  boot_log=$(mktemp)
  # --private-network: the server's 0.0.0.0:8443 stays inside the container.
  timeout -k 30 240 systemd-nspawn -q --register=no --keep-unit --private-network --console=pipe \
    -D "$R" -b </dev/null >"$boot_log" 2>&1 && boot_rc=0 || boot_rc=$?
  if [ -s "$R/root/selftest.out" ] && grep -qx "done" "$R/root/selftest.out"; then
    while IFS= read -r line; do
      case "$line" in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) nok "${line#not ok - }" ;;
      esac
    done <"$R/root/selftest.out"
    if [ "$boot_rc" -eq 0 ]; then ok "container powered off cleanly"; else nok "container exit status $boot_rc"; fi
    if grep -q '^not ok' "$R/root/selftest.out"; then
      echo "--- selftest.err"; cat "$R/root/selftest.err" 2>/dev/null || true
      echo "--- journal of the real kiosk session (lifecert)"; tail -40 "$R/root/selftest.real-kiosk.journal" 2>/dev/null || true
      echo "--- journal (lifecert, lifecert-server)"; tail -40 "$R/root/selftest.journal" 2>/dev/null || true
    fi
  elif [ -s "$R/root/selftest.out" ]; then
    nok "nspawn self-test did not finish (exit $boot_rc)"
    cat "$R/root/selftest.out"
    tail -40 "$boot_log"
  elif grep -q 'running in system mode\|Welcome to' "$boot_log"; then
    nok "nspawn: systemd booted but the self-test wrote nothing (exit $boot_rc)"
    tail -60 "$boot_log"
  else
    skip "nspawn boot self-test: systemd-nspawn could not boot the root here (exit $boot_rc): $(grep -v '^$' "$boot_log" | tail -3 | tr '\n' ' ')"
  fi
  rm -f "$boot_log"
  # Back to the state before the boot (the upgrade below expects it).
  rm -rf "$R/etc/systemd/system/lifecert.service.d" "$R/etc/systemd/system/lifecert-selftest.service" \
    "$R/etc/systemd/system/multi-user.target.wants/lifecert-selftest.service" "$R/usr/local/lib/lifecert-selftest"
  mount -t proc proc "$R/proc"
fi

# --- 9. upgrade, remove, purge ----------------------------------------------------------
step "upgrade (edited conffile kept), remove, purge"
# The next version: same files, a changed packaged kiosk.toml, so dpkg has a
# conffile conflict to resolve (--force-confold keeps the local edit).
NEXT="$VERSION+upgradetest1"
up=$(mktemp -d)
dpkg-deb -R "$KIOSK_DEB" "$up/pkg"
sed -i "s/^Version: .*/Version: $NEXT/" "$up/pkg/DEBIAN/control"
echo "# changed in $NEXT (install test)" >>"$up/pkg/etc/lifecert/kiosk.toml"
if [ -f "$up/pkg/DEBIAN/md5sums" ]; then
  (cd "$up/pkg" && sed -i "s#^[0-9a-f]*  etc/lifecert/kiosk.toml\$#$(md5sum etc/lifecert/kiosk.toml | cut -d' ' -f1)  etc/lifecert/kiosk.toml#" DEBIAN/md5sums)
fi
dpkg-deb -Zgzip -z1 -b "$up/pkg" "$R/tmp/debs/lifecert_next.deb" >/dev/null
rm -rf "$up"
# The admin chose another default target since: an upgrade must not reset it.
ln -sf /usr/lib/systemd/system/multi-user.target "$R/etc/systemd/system/default.target"
if in_root dpkg -i --force-confold /tmp/debs/lifecert_next.deb >"$R/root/upgrade.log" 2>&1; then
  ok "upgrade lifecert $VERSION -> $NEXT (dpkg -i --force-confold)"
else
  nok "upgrade lifecert $VERSION -> $NEXT"
  tail -20 "$R/root/upgrade.log"
fi
expect "upgraded version installed" "$NEXT" "$(in_root dpkg-query -W -f='${Version}' lifecert)"
check "upgrade kept the edited kiosk.toml (USB ids, site)" \
  bash -c 'grep -q "^usb_vid = \"0x1A86\"" "$1" && grep -q "^site = \"install-test site\"" "$1" && ! grep -q "changed in" "$1"' _ "$conf"
check "upgrade left the new packaged version as kiosk.toml.dpkg-dist" grep -q "changed in $NEXT" "$conf.dpkg-dist"
expect "kiosk.toml is 640 root:lifecert after the upgrade" "640 root:lifecert regular file" "$(st /etc/lifecert/kiosk.toml)"
expect "udev rules after the upgrade still from the edited config" "2" "$(grep -c '^SUBSYSTEM' "$rules" || true)"
expect "upgrade did not reset the admin's default target" "multi-user.target" "$(basename "$(readlink "$R/etc/systemd/system/default.target")")"
expect "lifecert.service still enabled after the upgrade" "enabled" "$(in_root systemctl is-enabled lifecert.service 2>&1)"

# remove: programs go, configuration and data stay.
echo "# local" >>"$R/etc/lifecert/server.toml"
touch "$R/var/lib/lifecert-kiosk/queue-marker" "$R/var/lib/lifecert/key-marker"
check "dpkg --remove lifecert lifecert-server" in_root dpkg --remove lifecert lifecert-server
expect "after remove: config-files state" "deinstall ok config-files|deinstall ok config-files" \
  "$(in_root dpkg-query -W -f='${Status}|' lifecert lifecert-server | sed 's/|$//')"
check "after remove: binaries and units gone" \
  test ! -e "$R/usr/bin/lifecert" -a ! -e "$R/usr/bin/lifecert-server" -a ! -e "$R/usr/lib/systemd/system/lifecert.service"
check "after remove: conffiles kept" test -f "$conf" -a -f "$R/etc/lifecert/server.toml"
check "after remove: data kept" test -f "$R/var/lib/lifecert-kiosk/queue-marker" -a -f "$R/var/lib/lifecert/key-marker"

# purge: configuration goes; data (unsent results, server keys) and users stay.
purge_log="$R/root/purge.log"
check "dpkg --purge lifecert lifecert-server" bash -c 'chroot "$1" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg --purge lifecert lifecert-server >"$2" 2>&1' _ "$R" "$purge_log"
expect "after purge: packages unknown to dpkg" "" "$(in_root dpkg-query -W -f='${Status}\n' lifecert lifecert-server 2>/dev/null | grep -v 'not-installed' || true)"
check "after purge: conffiles and their .dpkg-dist gone" test ! -e "$conf" -a ! -e "$conf.dpkg-dist" -a ! -e "$R/etc/lifecert/server.toml"
check "after purge: generated udev rules gone" test ! -e "$rules"
check "after purge: unit enable links gone" \
  test ! -e "$R/etc/systemd/system/graphical.target.wants/lifecert.service" -a ! -e "$R/etc/systemd/system/multi-user.target.wants/lifecert-server.service"
check "after purge: ctrl-alt-del.target unmasked" test ! -L "$R/etc/systemd/system/ctrl-alt-del.target"
check "after purge: kiosk data kept (unsent results queue), with a note" \
  bash -c 'test -f "$1/var/lib/lifecert-kiosk/queue-marker" && grep -q "kept /var/lib/lifecert-kiosk" "$2"' _ "$R" "$purge_log"
check "after purge: server keys/database kept, with a note" \
  bash -c 'test -f "$1/var/lib/lifecert/key-marker" && grep -q "kept /var/lib/lifecert" "$2"' _ "$R" "$purge_log"
check "after purge: users kept (Debian policy)" in_root getent passwd lifecert _lifecert

step ""
echo "==> timings"
printf '%s\n' "${timings[@]}"
echo "$(printf '%4ss' $(($(date +%s) - script_start)))  total"
summary
[ "$failed" -eq 0 ]
