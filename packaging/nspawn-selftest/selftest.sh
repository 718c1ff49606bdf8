#!/bin/bash
# Install test only: runs inside the booted test root (systemd as PID 1) and
# writes `ok - …` / `not ok - …` lines to /root/selftest.out for
# packaging/check-debs.sh. The kiosk unit first runs for real (cage on
# wlroots' headless backend, kiosk-dropin.conf), then with fake-kiosk.sh in
# place of cage (kiosk-fake-dropin.conf) to probe the hardening; the server
# runs for real with the packaged config and a dev certificate.
set -u
out=/root/selftest.out
: > "$out"
ok() { echo "ok - boot: $*" >> "$out"; }
nok() { echo "not ok - boot: $*" >> "$out"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else nok "$what"; fi; }
prop() { systemctl show -P "$2" "$1" 2>/dev/null; }

# --- server ---------------------------------------------------------------
for _ in $(seq 1 60); do
  (exec 3<>/dev/tcp/127.0.0.1/8443) 2>/dev/null && break
  sleep 0.5
done
check "lifecert-server.service is active (started at boot: enabled)" systemctl is-active --quiet lifecert-server.service
check "lifecert-server accepts connections on port 8443 (packaged listen 0.0.0.0:8443)" bash -c 'exec 3<>/dev/tcp/127.0.0.1/8443'
pid=$(prop lifecert-server.service MainPID)
if [ -n "$pid" ] && [ "$pid" != 0 ]; then
  if [ "$(stat -c %U /proc/"$pid")" = _lifecert ]; then ok "server runs as _lifecert"; else nok "server runs as _lifecert (got $(stat -c %U /proc/"$pid" 2>&1))"; fi
else
  nok "server runs as _lifecert (no main pid)"
fi
if [ "$(stat -c '%a %U' /var/lib/lifecert)" = "700 _lifecert" ]; then ok "/var/lib/lifecert is 0700 _lifecert after start"; else nok "/var/lib/lifecert is 0700 _lifecert after start (got $(stat -c '%a %U' /var/lib/lifecert))"; fi
for f in server-sealing.key subject-key.secret server.db; do
  if [ "$(stat -c '%a %U' /var/lib/lifecert/$f 2>&1)" = "600 _lifecert" ]; then ok "server created /var/lib/lifecert/$f 0600 _lifecert"; else nok "server created /var/lib/lifecert/$f 0600 _lifecert (got $(stat -c '%a %U' /var/lib/lifecert/$f 2>&1))"; fi
done

# Kiosk <-> server over TLS, as documented: a token made as the service user,
# `lifecert register` as the kiosk user, verifying the dev CA.
token=$(runuser -u _lifecert -- lifecert-server --config /etc/lifecert/server.toml create-token 2>>/root/selftest.err)
if [ -n "$token" ]; then ok "create-token as _lifecert"; else nok "create-token as _lifecert"; fi
if runuser -u lifecert -- env LIFECERT__SERVER__CA_PATH=/etc/lifecert/selftest-ca.pem \
     lifecert --config /etc/lifecert/kiosk.toml register --server https://localhost:8443 --token "$token" \
     >>/root/selftest.err 2>&1; then
  ok "lifecert register against the packaged server over TLS (as lifecert)"
else
  nok "lifecert register against the packaged server over TLS (as lifecert; see selftest.err)"
fi
check "register wrote /var/lib/lifecert-kiosk/server.json" test -s /var/lib/lifecert-kiosk/server.json
if [ "$(stat -c %U /var/lib/lifecert-kiosk/device.key 2>&1)" = lifecert ]; then ok "device key owned by lifecert"; else nok "device key owned by lifecert (got $(stat -c %U /var/lib/lifecert-kiosk/device.key 2>&1))"; fi

# The packaged server answers in both protocols a client can negotiate by
# ALPN: HTTP/2 (every browser) and HTTP/1.1 (the kiosk's client). curl is a
# test tool the install test adds to the root. (The packaged config has no
# admin password yet, so the admin pages are off: /admin/login is a 404.)
for proto in http2 http1.1; do
  want=1.1; [ "$proto" = http2 ] && want=2
  got=$(curl -sS --max-time 20 --cacert /etc/lifecert/selftest-ca.pem --"$proto" -o /dev/null \
    -w '%{http_version} %{http_code}' https://localhost:8443/v1/openapi.json 2>>/root/selftest.err)
  if [ "$got" = "$want 200" ]; then
    ok "packaged server: curl --$proto /v1/openapi.json answers 200 over HTTP/$want"
  else
    nok "packaged server: curl --$proto /v1/openapi.json answers 200 over HTTP/$want (got '$got')"
  fi
done

# ProtectSystem=strict and friends, as seen by the server process.
check "server unit: ProtectSystem=strict" test "$(prop lifecert-server.service ProtectSystem)" = strict
check "server unit: NoNewPrivileges" test "$(prop lifecert-server.service NoNewPrivileges)" = yes

# --- kiosk: the real session (cage headless + lifecert) -------------------
# kiosk-dropin.conf keeps the packaged ExecStart (cage -d -- lifecert) and
# only selects wlroots' headless backend and a 6 s watchdog.
# kiosk_pid: the lifecert process (not cage) in the unit's cgroup.
# (Matched through /proc/PID/cgroup: works on cgroup v2 and hybrid hosts.)
kiosk_pid() {
  local cg d
  cg=$(prop lifecert.service ControlGroup)
  [ -n "$cg" ] || return 1
  for d in /proc/[0-9]*; do
    [ "$(cat "$d/comm" 2>/dev/null)" = lifecert ] || continue
    grep -qxE "[0-9]+:[^:]*:${cg//./\\.}" "$d/cgroup" 2>/dev/null || continue
    echo "${d#/proc/}"
    return 0
  done
  return 1
}
kiosk_journal() { journalctl -b -u lifecert.service --no-pager 2>/dev/null; }
for _ in $(seq 1 60); do
  kiosk_journal | grep -q 'kiosk window size' && break
  sleep 0.5
done
check "kiosk unit started at boot (graphical.target default, enabled)" systemctl is-active --quiet lifecert.service
check "real kiosk under cage (headless) logged 'kiosk window size' (journalctl -b -u lifecert)" \
  bash -c 'journalctl -b -u lifecert.service --no-pager | grep -q "kiosk window size"'
kpid=$(kiosk_pid || true)
if [ -n "$kpid" ]; then
  ok "lifecert runs under cage in lifecert.service (pid $kpid, parent $(cat "/proc/$(awk '/^PPid:/ { print $2 }' "/proc/$kpid/status")/comm" 2>/dev/null))"
  if [ "$(stat -c %U "/proc/$kpid")" = lifecert ]; then ok "real kiosk process runs as user lifecert"; else nok "real kiosk process runs as user lifecert (got $(stat -c %U "/proc/$kpid" 2>&1))"; fi
else
  nok "lifecert runs under cage in lifecert.service (no lifecert process in $(prop lifecert.service ControlGroup))"
fi
# Stays up for more than 15 s (2.5 x WatchdogSec) on the kiosk's own pings.
main_before=$(prop lifecert.service MainPID)
t0=$(date +%s)
sleep 16
n=$(prop lifecert.service NRestarts)
if systemctl is-active --quiet lifecert.service && [ "${n:-x}" = 0 ] && [ "$(prop lifecert.service MainPID)" = "$main_before" ] \
   && [ -n "$kpid" ] && [ -d "/proc/$kpid" ]; then
  ok "real kiosk alive $(( $(date +%s) - t0 )) s with WatchdogSec=6 on its own pings (NRestarts=0, same cage and lifecert)"
else
  nok "real kiosk alive > 15 s with WatchdogSec=6 (active=$(systemctl is-active lifecert.service), NRestarts=${n:-?}, MainPID $main_before -> $(prop lifecert.service MainPID))"
fi
check "journal: no watchdog timeout while the kiosk ran" bash -c '! journalctl -b -u lifecert.service --no-pager | grep -q "Watchdog timeout"'
# A hung UI: stop the lifecert process (cage keeps running); the pings stop,
# systemd must kill the session and start a new one.
if [ -n "$kpid" ] && kill -STOP "$kpid" 2>/dev/null; then
  restarted=""
  for _ in $(seq 1 50); do
    n=$(prop lifecert.service NRestarts)
    [ "${n:-0}" -ge 1 ] && { restarted=$n; break; }
    sleep 0.5
  done
  if [ -n "$restarted" ]; then ok "frozen kiosk (SIGSTOP): systemd restarted the session within 25 s (NRestarts=$restarted)"; else nok "frozen kiosk (SIGSTOP): no restart within 25 s (NRestarts=${n:-?})"; kill -CONT "$kpid" 2>/dev/null; fi
  check "journal: 'Watchdog timeout' for lifecert.service" bash -c 'journalctl -b -u lifecert.service --no-pager | grep -q "Watchdog timeout"'
  new_pid=""
  for _ in $(seq 1 40); do
    new_pid=$(kiosk_pid || true)
    [ -n "$new_pid" ] && [ "$new_pid" != "$kpid" ] && systemctl is-active --quiet lifecert.service && break
    new_pid=""
    sleep 0.5
  done
  if [ -n "$new_pid" ]; then ok "kiosk session active again after the watchdog restart (new lifecert pid $new_pid)"; else nok "kiosk session active again after the watchdog restart (active=$(systemctl is-active lifecert.service))"; fi
else
  nok "frozen kiosk (SIGSTOP): no lifecert process to stop"
fi
check "kiosk unit: Restart=always" test "$(prop lifecert.service Restart)" = always
check "kiosk unit: LimitCORE=0 (no core dumps)" test "$(prop lifecert.service LimitCORE)" = 0
systemctl stop lifecert.service
journalctl -b --no-pager -u lifecert.service > /root/selftest.real-kiosk.journal 2>&1 || true

# --- kiosk: what the unit's process may do (fake compositor) --------------
# kiosk-fake-dropin.conf replaces cage by fake-kiosk.sh, which records the
# process's view (user, groups, directories, hardening), pings the watchdog
# from a child for 10 s, then hangs without pinging.
install -m 644 /usr/local/lib/lifecert-selftest/kiosk-fake-dropin.conf /etc/systemd/system/lifecert.service.d/zz-fake.conf
systemctl daemon-reload
systemctl reset-failed lifecert.service 2>/dev/null || true
systemctl start lifecert.service
restarts0=$(prop lifecert.service NRestarts)
# Wait for the watchdog kill and restart (pings for 10 s, then a 6 s watchdog).
for _ in $(seq 1 90); do
  n=$(prop lifecert.service NRestarts)
  [ "${n:-0}" -gt "${restarts0:-0}" ] && break
  sleep 0.5
done
log=/var/log/lifecert-kiosk/fake-kiosk.log
check "fake kiosk: ExecStartPre check-config passed (unit reached its ExecStart)" grep -q '^user lifecert$' "$log"
groups=$(grep -m1 '^groups ' "$log" | cut -d' ' -f2-)
for g in video render audio dialout; do
  case " $groups " in *" $g "*) ok "kiosk process in group $g";; *) nok "kiosk process in group $g (groups: $groups)";; esac
done
check "kiosk state dir 0700 lifecert (StateDirectory)" grep -qx 'state 700 lifecert' "$log"
check "kiosk log dir 0700 lifecert (LogsDirectory)" grep -qx 'logs 700 lifecert' "$log"
check "kiosk runtime dir /run/lifecert-kiosk 0700 lifecert (XDG_RUNTIME_DIR)" grep -qx 'runtime /run/lifecert-kiosk 700 lifecert' "$log"
check "kiosk can write its state dir" grep -qx 'write-state yes' "$log"
check "kiosk cannot write /etc (ProtectSystem=strict)" grep -qx 'write-etc no' "$log"
check "kiosk can read /etc/lifecert/kiosk.toml (root:lifecert 0640)" grep -qx 'read-config yes' "$log"
check "kiosk cannot see /root (ProtectHome)" grep -qx 'see-root-home no' "$log"
check "kiosk can use /dev/null (DevicePolicy=closed)" grep -qx 'dev-null yes' "$log"
check "fake kiosk: watchdog pings accepted from a child (alive 10 s with WatchdogSec=6)" grep -q '^alive-after-pings ' "$log"
n=$(prop lifecert.service NRestarts)
if [ "${n:-0}" -gt "${restarts0:-0}" ]; then ok "fake kiosk restarted after it stopped pinging (NRestarts $restarts0 -> $n)"; else nok "fake kiosk restarted after it stopped pinging (NRestarts $restarts0 -> ${n:-?})"; fi

# A broken config: ExecStartPre check-config refuses to start the kiosk and
# the journal names the problem.
systemctl stop lifecert.service
runs_before=$(grep -c '^run ' "$log")
cp -p /etc/lifecert/kiosk.toml /root/kiosk.toml.good
sed -i 's/^fps = 30$/fps = 500/' /etc/lifecert/kiosk.toml
systemctl start lifecert.service
sleep 3
check "kiosk with a broken config: check-config names the key in the journal" \
  bash -c 'journalctl -b -u lifecert.service --no-pager | grep -q "camera.fps = 500"'
if [ "$(grep -c '^run ' "$log")" = "$runs_before" ]; then ok "kiosk with a broken config is not started"; else nok "kiosk with a broken config is not started (the fake compositor ran)"; fi
cp -p /root/kiosk.toml.good /etc/lifecert/kiosk.toml
check "kiosk unit: no PrivateDevices" test "$(prop lifecert.service PrivateDevices)" = no

systemctl stop lifecert.service lifecert-server.service
journalctl -b --no-pager -u lifecert.service -u lifecert-server.service > /root/selftest.journal 2>&1 || true
echo "done" >> "$out"
