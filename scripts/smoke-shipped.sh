#!/usr/bin/env bash
# Smoke test of what ships: the release binaries built by the one shipped
# build command (build_shipped in scripts/lib.sh, which the run command and
# the Debian packages use too), run as child processes with real clients:
#
#   - lifecert-server, started as the run command starts it
#     (scripts/local_server.sh: dev CA, SQLite, demo roster), answers
#     /v1/openapi.json to curl over HTTP/2 and over HTTP/1.1;
#   - headless Chromium with its default network flags (no --disable-http2,
#     no --ignore-certificate-errors: the dev CA is trusted through an NSS
#     database, as an administrator installs a fleet CA) opens the admin login
#     page over HTTP/2 and logs in (scripts/smoke/admin_login.py);
#   - the kiosk binary: --version, check-config on the embedded defaults and
#     on a broken file, register with the server, and verify on the shared
#     blink clip, each with its documented output and exit code.
#
# Prints "ok - ..." / "not ok - ..." / "skip - ..." lines and ends with
# "smoke: N passed, M failed, K skipped" (scripts/test.sh adds it to the
# total). Exits 1 when a check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/local_server.sh

passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); echo "ok - $*"; }
nok() { failed=$((failed + 1)); echo "not ok - $*"; }
skip() { skipped=$((skipped + 1)); echo "skip - $*"; }
# expect NAME WANTED GOT
expect() { if [ "$2" = "$3" ]; then ok "$1"; else nok "$1 (wanted '$2', got '$3')"; fi; }

ensure_cargo
ensure_packages "${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}" "${SMOKE_PACKAGES[@]}"
ensure_models
echo "==> the shipped build: ${SHIPPED_BUILD[*]}"
build_shipped
bin=${CARGO_TARGET_DIR:-$PWD/target}/release

work=$(mktemp -d)
cleanup() {
  local status=$?
  local_server_stop
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
# Nothing from the caller's environment steers the binaries.
while IFS= read -r var; do unset "$var"; done < <(env | sed -n 's/^\(LIFECERT[A-Z_]*\)=.*/\1/p')

# --- the kiosk binary -----------------------------------------------------------
echo "==> kiosk: $bin/lifecert"
want_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
expect "lifecert --version prints the package version" "lifecert $want_version" "$("$bin/lifecert" --version 2>&1)"

out=$("$bin/lifecert" check-config 2>&1) && rc=0 || rc=$?
expect "lifecert check-config on the embedded defaults exits 0 (valid)" 0 "$rc"
if grep -q '^\[matching\]' <<<"$out" && grep -q 'threshold' <<<"$out"; then
  ok "check-config prints the effective config"
else
  nok "check-config prints the effective config: $(head -c 300 <<<"$out")"
fi
if grep -q '\$argon2' <<<"$out"; then nok "check-config redacts the staff PIN hash"; else ok "check-config redacts the staff PIN hash"; fi

printf '[matching]\nthreshold = "high"\n[nonsense]\nkey = 1\n' >"$work/broken.toml"
out=$("$bin/lifecert" check-config "$work/broken.toml" 2>&1) && rc=0 || rc=$?
expect "lifecert check-config on a broken file exits 2 (invalid)" 2 "$rc"
if grep -q 'threshold' <<<"$out" && grep -q 'nonsense' <<<"$out"; then
  ok "check-config names every bad key (matching.threshold, nonsense)"
else
  nok "check-config names every bad key: $(head -c 400 <<<"$out")"
fi

clip=../shared/testdata/faces/video_blink_repeating/blink_selfie/video.mp4
if [ -f "$clip" ]; then
  out=$("$bin/lifecert" verify --input "$clip" --challenges blink --json 2>"$work/verify.err") && rc=0 || rc=$?
  expect "lifecert verify --challenges blink on the shared blink clip exits 0 (passed)" 0 "$rc"
  verdict=$(python3 -c 'import json, sys
r = json.loads(sys.stdin.read().strip().splitlines()[-1])
done = [a["action"] for a in r["liveness"]["actions"] if a.get("done_s") is not None]
print(r["passed"], r["plan"], done)' <<<"$out" 2>&1 || true)
  expect "verify --json: passed, plan [blink], the blink done" "True ['blink'] ['blink']" "$verdict"
  if [ "$rc" -ne 0 ]; then tail -5 "$work/verify.err"; fi
else
  skip "verify on the shared blink clip: $clip is missing (../shared/testdata)"
fi

# --- the server, as the run command starts it -----------------------------------------
echo "==> server: $bin/lifecert-server"
export LIFECERT_LOCAL_DIR="$work/local" LIFECERT_LOCAL_PORT=0
if local_server_start "$bin" >"$work/start.log" 2>&1; then
  ok "lifecert-server starts as the run command starts it; lifecert register succeeds over TLS"
else
  nok "lifecert-server starts and the kiosk registers"
  cat "$work/start.log"
  echo "smoke: $passed passed, $failed failed, $skipped skipped"
  exit 1
fi
url=$LIFECERT_LOCAL_URL
ca=$work/local/server/tls/ca.pem
# The dev certificate names localhost: use it, as a browser would.
host_url=${url/127.0.0.1/localhost}

for proto in http2 http1.1; do
  want=$([ "$proto" = http2 ] && echo 2 || echo 1.1)
  got=$(curl -sS --max-time 20 --cacert "$ca" --"$proto" -o "$work/openapi.$proto.json" \
    -w '%{http_version} %{http_code}' "$host_url/v1/openapi.json" 2>"$work/curl.err" || true)
  if [ "$got" = "$want 200" ] && python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["openapi"]' "$work/openapi.$proto.json" 2>/dev/null; then
    ok "curl --$proto: /v1/openapi.json answers 200 over HTTP/$want"
  else
    nok "curl --$proto: /v1/openapi.json over HTTP/$want (got '$got': $(tr '\n' ' ' <"$work/curl.err"))"
  fi
done
# HTTP/2 with prior knowledge over TLS (no fallback to 1.1 possible).
got=$(curl -sS --max-time 20 --cacert "$ca" --http2-prior-knowledge -o /dev/null \
  -w '%{http_version} %{http_code}' "$host_url/v1/openapi.json" 2>"$work/curl.err" || true)
expect "curl --http2-prior-knowledge: HTTP/2 without fallback" "2 200" "$got"

# --- the admin pages in headless Chromium, default flags -------------------------------
chromium=${CHROMIUM:-/usr/bin/chromium}
driver=${CHROMEDRIVER:-/usr/bin/chromedriver}
if [ -x "$chromium" ] && [ -x "$driver" ] && command -v certutil >/dev/null; then
  # A fresh home whose NSS database trusts the dev CA: Chromium's own way to
  # take a local CA on Linux.
  home=$work/home
  mkdir -p "$home/.pki/nssdb"
  certutil -d "sql:$home/.pki/nssdb" -N --empty-password
  certutil -d "sql:$home/.pki/nssdb" -A -t "C,," -n "lifecert local CA" -i "$ca"
  set +e
  HOME=$home CHROMIUM=$chromium CHROMEDRIVER=$driver timeout -k 10 180 \
    python3 scripts/smoke/admin_login.py "$host_url" "$work/local/server/admin-password.txt" >"$work/browser.out" 2>&1
  rc=$?
  set -e
  while IFS= read -r line; do
    case "$line" in
      "ok - "*) ok "${line#ok - }" ;;
      "not ok - "*) nok "${line#not ok - }" ;;
      *) echo "  $line" ;;
    esac
  done <"$work/browser.out"
  if [ "$rc" -ne 0 ] && ! grep -q '^not ok' "$work/browser.out"; then
    nok "the admin login in Chromium ran to its end (exit $rc)"
  fi
elif [ "${CI:-}" = true ]; then
  nok "Chromium, chromedriver and certutil are needed (apt-get install chromium chromium-driver libnss3-tools)"
else
  skip "admin login in Chromium: apt-get install chromium chromium-driver libnss3-tools"
fi
if grep -qi 'panicked' "$work/local/server/server.log"; then
  nok "the server log has no panic"
  grep -i -m3 'panicked' "$work/local/server/server.log"
else
  ok "the server log has no panic"
fi

echo "smoke: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
