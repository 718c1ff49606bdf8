#!/bin/bash
# Install test only: stands in for `cage -- lifecert` inside lifecert.service.
# Records what the kiosk process can see and do, pings the watchdog for longer
# than WatchdogSec (so the pings must be accepted), then stops pinging and
# hangs, like a frozen UI: systemd must kill and restart the unit.
set -u
log=/var/log/lifecert-kiosk/fake-kiosk.log
run=$(date +%s.%N)
{
  echo "run $run"
  echo "user $(id -un)"
  echo "groups $(id -nG)"
  echo "state $(stat -c '%a %U' /var/lib/lifecert-kiosk)"
  echo "logs $(stat -c '%a %U' /var/log/lifecert-kiosk)"
  echo "runtime ${XDG_RUNTIME_DIR:-unset} $(stat -c '%a %U' "${XDG_RUNTIME_DIR:-/nonexistent}" 2>&1)"
  if touch /var/lib/lifecert-kiosk/.write-test 2>/dev/null; then echo "write-state yes"; rm -f /var/lib/lifecert-kiosk/.write-test; else echo "write-state no"; fi
  if touch /etc/lifecert/.write-test 2>/dev/null; then echo "write-etc yes"; rm -f /etc/lifecert/.write-test; else echo "write-etc no"; fi
  if head -c1 /etc/lifecert/kiosk.toml >/dev/null 2>&1; then echo "read-config yes"; else echo "read-config no"; fi
  if ls /root >/dev/null 2>&1; then echo "see-root-home yes"; else echo "see-root-home no"; fi
  if echo x > /dev/null 2>&1; then echo "dev-null yes"; else echo "dev-null no"; fi
} >> "$log" 2>&1
# 5 pings 2 s apart: alive for 10 s with WatchdogSec=6.
for _ in 1 2 3 4 5; do
  systemd-notify WATCHDOG=1 || echo "notify failed" >> "$log"
  sleep 2
done
echo "alive-after-pings $run" >> "$log"
# Frozen: no more pings.
exec sleep infinity
