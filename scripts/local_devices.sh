# Simulated peripherals for the embedded default (the README's run command)
# and the screenshots: an ID card reader and a receipt printer, each
# `lifecert simulate …` on a pty. Source, don't run.
#
#   local_devices_start BIN DIR   starts both (unless a real port is set in the
#                                 environment) and exports the kiosk's ports:
#     LIFECERT__PERIPHERALS__CARD_READER__PORT   DIR/reader (pty link)
#     LIFECERT__PERIPHERALS__PRINTER__PORT       DIR/printer (pty link)
#   Commands go to DIR/reader.cmd and DIR/printer.cmd (FIFOs), e.g.
#     echo place > DIR/reader.cmd        lay the demo card on the reader
#     echo remove > DIR/reader.cmd       take it away
#     echo 'paper out' > DIR/printer.cmd
#   Printed receipts (decoded, one JSON line each) go to DIR/printer.out.
#   local_devices_stop              stops them.

LOCAL_DEVICE_PIDS=()

_local_device() {
  local name=$1 bin=$2 dir=$3; shift 3
  local fifo="$dir/$name.cmd" ready="$dir/$name.out"
  rm -f "$fifo" "$ready"
  mkfifo "$fifo"
  # Opened read-write, the FIFO never reaches end-of-file (which would stop
  # the simulator) between commands.
  "$bin" simulate "$@" --link "$dir/$name" <>"$fifo" >"$ready" 2>"$dir/$name.log" &
  LOCAL_DEVICE_PIDS+=($!)
  local i
  for i in $(seq 1 100); do
    if grep -q '^ready' "$ready" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "the simulated $name did not start; see $dir/$name.log" >&2
  return 1
}

local_devices_start() {
  local bin=$1 dir=$2
  mkdir -p "$dir"
  if [ -z "${LIFECERT__PERIPHERALS__CARD_READER__PORT:-}" ]; then
    _local_device reader "$bin" "$dir" id-reader
    export LIFECERT__PERIPHERALS__CARD_READER__PORT="$dir/reader"
    echo "==> simulated ID card reader at $dir/reader (lay the demo card: echo place > $dir/reader.cmd)"
  fi
  if [ -z "${LIFECERT__PERIPHERALS__PRINTER__PORT:-}" ]; then
    _local_device printer "$bin" "$dir" printer
    export LIFECERT__PERIPHERALS__PRINTER__PORT="$dir/printer"
    echo "==> simulated receipt printer at $dir/printer (receipts: $dir/printer.out)"
  fi
}

local_devices_stop() {
  local pid
  for pid in "${LOCAL_DEVICE_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  LOCAL_DEVICE_PIDS=()
}
