# The embedded default: a local lifecert-server (SQLite, TLS with a throw-away
# CA, the demo roster) and a kiosk registered with it. Source, don't run.
#
#   local_server_start BIN_DIR    builds nothing; BIN_DIR holds lifecert and
#                                 lifecert-server. Sets and exports:
#     LIFECERT_LOCAL_URL                         https://127.0.0.1:PORT
#     LIFECERT__STORAGE__DATA_DIR                the kiosk's data (target/local/kiosk)
#     LIFECERT__SERVER__CA_PATH                  the local CA
#     LIFECERT__SERVER__OPERATOR_CREDENTIAL_PATH staff credential for enrolment upload
#   local_server_stop             stops the server.
#
# State lives in ${LIFECERT_LOCAL_DIR:-target/local}: server/ (server.toml,
# tls/, data/, server.log, admin-password.txt) and kiosk/. Delete the folder
# to start afresh. The port is ${LIFECERT_LOCAL_PORT:-47443}.

LOCAL_SERVER_PID=""

local_server_start() {
  local bin_dir=$1
  local root=${LIFECERT_LOCAL_DIR:-$PWD/target/local}
  local port=${LIFECERT_LOCAL_PORT:-47443}
  local srv="$root/server" kiosk="$root/kiosk"
  local server_bin="$bin_dir/lifecert-server" kiosk_bin="$bin_dir/lifecert"
  mkdir -p "$srv" "$kiosk"
  local fresh=0
  if [ ! -f "$srv/server.toml" ]; then
    fresh=1
    echo "==> local server: new CA, certificate and admin password in $srv"
    "$server_bin" gen-dev-cert "$srv/tls" >/dev/null
    (umask 077; head -c 12 /dev/urandom | base64 | tr -d '/+=' >"$srv/admin-password.txt")
    local hash
    hash=$("$server_bin" hash-password <"$srv/admin-password.txt")
    cat >"$srv/server.toml" <<TOML
# Local lifecert-server made by scripts/local_server.sh (the README's run command).
listen = "127.0.0.1:$port"
data_dir = "data"

[tls]
enabled = true
cert_path = "tls/server.pem"
key_path = "tls/server.key"

[storage]
backend = "sqlite"
sqlite_path = "data/server.db"

[admin]
password_hash = "$hash"
TOML
    # A new server knows no kiosk: drop an old registration.
    rm -f "$kiosk/server.json" "$kiosk/device.key" "$kiosk/operator.cred"
  fi
  "$server_bin" --config "$srv/server.toml" seed-demo >/dev/null
  echo "==> local server: starting (log: $srv/server.log)"
  "$server_bin" --config "$srv/server.toml" serve >"$srv/server.log" 2>&1 &
  LOCAL_SERVER_PID=$!
  local i
  for i in $(seq 1 100); do
    if grep -q "^listening on " "$srv/server.log" 2>/dev/null; then break; fi
    if ! kill -0 "$LOCAL_SERVER_PID" 2>/dev/null; then
      echo "error: the local server stopped; its log:" >&2
      cat "$srv/server.log" >&2
      return 1
    fi
    sleep 0.2
  done
  LIFECERT_LOCAL_URL=$(sed -n 's/^listening on //p' "$srv/server.log" | head -n 1)
  if [ -z "$LIFECERT_LOCAL_URL" ]; then
    echo "error: the local server did not say where it listens; its log: $srv/server.log" >&2
    return 1
  fi
  export LIFECERT_LOCAL_URL
  export LIFECERT__STORAGE__DATA_DIR="$kiosk"
  export LIFECERT__SERVER__CA_PATH="$srv/tls/ca.pem"
  if [ ! -f "$kiosk/operator.cred" ]; then
    (umask 077; "$server_bin" --config "$srv/server.toml" create-operator "本地演示工作人员" >"$kiosk/operator.cred")
  fi
  export LIFECERT__SERVER__OPERATOR_CREDENTIAL_PATH="$kiosk/operator.cred"
  if [ ! -f "$kiosk/server.json" ] || [ "$fresh" = 1 ]; then
    local token
    token=$("$server_bin" --config "$srv/server.toml" create-token --ttl-hours 1)
    "$kiosk_bin" register --server "$LIFECERT_LOCAL_URL" --token "$token" \
      --name "本地演示终端" --site "本地" >/dev/null
    echo "==> kiosk registered with the local server"
  fi
  echo "==> local server at $LIFECERT_LOCAL_URL (admin: $LIFECERT_LOCAL_URL/admin, password in $srv/admin-password.txt)"
}

# Makes the synthetic astronaut demo face (target/demo-face) and enrols it for
# the demo person 110105195203150013 on the kiosk and on the local server.
local_demo_face() {
  local bin_dir=$1
  local root=${LIFECERT_LOCAL_DIR:-$PWD/target/local}
  ensure_packages python3-venv
  bash scripts/demo/make_demo_face.sh target/demo-face >/dev/null
  "$bin_dir/lifecert" enroll-template --id 110105195203150013 target/demo-face/enrol/*.png >/dev/null
  # The same face on the server, for matching offline evidence.
  local tmpl
  tmpl=$(mktemp -d)
  "$bin_dir/lifecert" enroll-template -o "$tmpl/t.json" target/demo-face/enrol/*.png >/dev/null
  "$bin_dir/lifecert-server" --config "$root/server/server.toml" \
    put-template --id 110105195203150013 "$tmpl/t.json" >/dev/null
  rm -rf "$tmpl"
}

local_server_stop() {
  if [ -n "$LOCAL_SERVER_PID" ] && kill -0 "$LOCAL_SERVER_PID" 2>/dev/null; then
    kill "$LOCAL_SERVER_PID" 2>/dev/null || true
    wait "$LOCAL_SERVER_PID" 2>/dev/null || true
  fi
  LOCAL_SERVER_PID=""
}
