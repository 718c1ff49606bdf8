# A throw-away PostgreSQL cluster for the tests and benchmarks. Source, don't run.
#
#   pg_start   initdb in a temp directory, start it on 127.0.0.1 (only) at a free
#              port, as a non-root user (`postgres` when we are root), create the
#              role `lifecert` and the database `lifecert_test`, and export
#              LIFECERT_TEST_PG_URL=postgres://lifecert@127.0.0.1:PORT/lifecert_test
#   pg_stop    stop it and delete the directory.
#
# Needs Debian's `postgresql` package (scripts/lib.sh TEST_PACKAGES).

PG_DIR=""

_pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
    echo "error: PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; apt-get install postgresql" >&2
    return 1
  fi
  echo "$dir"
}

# Runs a command as the cluster's (non-root) owner.
_pg_as() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

_pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

pg_start() {
  local bin port
  bin=$(_pg_bin) || return 1
  PG_DIR=$(mktemp -d /tmp/lifecert-pg.XXXXXX)
  if [ "$(id -u)" -eq 0 ]; then
    if ! id postgres >/dev/null 2>&1; then
      echo "error: no 'postgres' user to run the cluster as (PostgreSQL refuses to run as root)" >&2
      return 1
    fi
    chown postgres "$PG_DIR"
  fi
  chmod 700 "$PG_DIR"
  port=$(_pg_free_port)
  _pg_as "$bin/initdb" -D "$PG_DIR/data" -U lifecert --auth=trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 || {
    echo "error: initdb failed:" >&2; cat "$PG_DIR/initdb.log" >&2; return 1; }
  # Loopback only, socket inside the temp dir, tuned for throw-away test data.
  _pg_as "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c max_connections=200 -c fsync=on" start >/dev/null || {
    echo "error: PostgreSQL did not start:" >&2; cat "$PG_DIR/server.log" >&2; return 1; }
  _pg_as "$bin/psql" -q -h 127.0.0.1 -p "$port" -U lifecert -d postgres \
    -c "CREATE DATABASE lifecert_test" >/dev/null || return 1
  export LIFECERT_TEST_PG_URL="postgres://lifecert@127.0.0.1:$port/lifecert_test"
  echo "==> PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (cluster in $PG_DIR, owner $( [ "$(id -u)" -eq 0 ] && echo postgres || id -un))"
}

pg_stop() {
  [ -n "$PG_DIR" ] && [ -d "$PG_DIR" ] || return 0
  local bin
  bin=$(_pg_bin) || return 0
  _pg_as "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=""
}
