#!/bin/bash
# Install test only: runs inside the booted test root (systemd as PID 1) and
# writes `ok - …` / `not ok - …` lines to /root/selftest.out for
# packaging/check-debs.sh. The kiosk unit runs fake-kiosk.sh (kiosk-dropin.conf);
# the server runs for real with the packaged config and a dev certificate.
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
  [ "$(stat -c %U /proc/"$pid")" = _lifecert ] && ok "server runs as _lifecert" || nok "server runs as _lifecert (got $(stat -c %U /proc/"$pid" 2>&1))"
else
  nok "server runs as _lifecert (no main pid)"
fi
[ "$(stat -c '%a %U' /var/lib/lifecert)" = "700 _lifecert" ] && ok "/var/lib/lifecert is 0700 _lifecert after start" \
  || nok "/var/lib/lifecert is 0700 _lifecert after start (got $(stat -c '%a %U' /var/lib/lifecert))"
for f in server-sealing.key subject-key.secret server.db; do
  [ "$(stat -c '%a %U' /var/lib/lifecert/$f 2>&1)" = "600 _lifecert" ] && ok "server created /var/lib/lifecert/$f 0600 _lifecert" \
    || nok "server created /var/lib/lifecert/$f 0600 _lifecert (got $(stat -c '%a %U' /var/lib/lifecert/$f 2>&1))"
done

# Kiosk <-> server over TLS, as documented: a token made as the service user,
# `lifecert register` as the kiosk user, verifying the dev CA.
token=$(runuser -u _lifecert -- lifecert-server --config /etc/lifecert/server.toml create-token 2>>/root/selftest.err)
[ -n "$token" ] && ok "create-token as _lifecert" || nok "create-token as _lifecert"
if runuser -u lifecert -- env LIFECERT__SERVER__CA_PATH=/etc/lifecert/selftest-ca.pem \
     lifecert --config /etc/lifecert/kiosk.toml register --server https://localhost:8443 --token "$token" \
     >>/root/selftest.err 2>&1; then
  ok "lifecert register against the packaged server over TLS (as lifecert)"
else
  nok "lifecert register against the packaged server over TLS (as lifecert; see selftest.err)"
fi
check "register wrote /var/lib/lifecert-kiosk/server.json" test -s /var/lib/lifecert-kiosk/server.json
[ "$(stat -c %U /var/lib/lifecert-kiosk/device.key 2>&1)" = lifecert ] && ok "device key owned by lifecert" \
  || nok "device key owned by lifecert (got $(stat -c %U /var/lib/lifecert-kiosk/device.key 2>&1))"

# ProtectSystem=strict and friends, as seen by the server process.
check "server unit: ProtectSystem=strict" test "$(prop lifecert-server.service ProtectSystem)" = strict
check "server unit: NoNewPrivileges" test "$(prop lifecert-server.service NoNewPrivileges)" = yes

# --- kiosk (fake compositor) ---------------------------------------------
# Wait for the first watchdog kill and restart (pings for 10 s, then a 6 s watchdog).
for _ in $(seq 1 90); do
  n=$(prop lifecert.service NRestarts)
  [ "${n:-0}" -ge 1 ] && break
  sleep 0.5
done
log=/var/log/lifecert-kiosk/fake-kiosk.log
check "kiosk unit started at boot (graphical.target default, enabled)" grep -q '^run ' "$log"
check "kiosk ExecStartPre check-config passed (unit reached its ExecStart)" grep -q '^user lifecert$' "$log"
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
check "kiosk watchdog pings accepted from a child (alive 10 s with WatchdogSec=6)" grep -q '^alive-after-pings ' "$log"
n=$(prop lifecert.service NRestarts)
[ "${n:-0}" -ge 1 ] && ok "kiosk restarted after the watchdog fired (NRestarts=$n)" || nok "kiosk restarted after the watchdog fired (NRestarts=${n:-?})"
check "journal: watchdog timeout logged for lifecert.service" bash -c 'journalctl -b -u lifecert.service --no-pager | grep -q "Watchdog timeout"'
check "kiosk unit: Restart=always" test "$(prop lifecert.service Restart)" = always

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
[ "$(grep -c '^run ' "$log")" = "$runs_before" ] && ok "kiosk with a broken config is not started" \
  || nok "kiosk with a broken config is not started (the fake compositor ran)"
cp -p /root/kiosk.toml.good /etc/lifecert/kiosk.toml
check "kiosk unit: no PrivateDevices" test "$(prop lifecert.service PrivateDevices)" = no

systemctl stop lifecert.service lifecert-server.service
journalctl -b --no-pager -u lifecert.service -u lifecert-server.service > /root/selftest.journal 2>&1 || true
echo "done" >> "$out"
