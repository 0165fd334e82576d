# Sourced by scripts and experiments: one `edgeserve serve` in the background on a free loopback port.
#   source scripts/lib/background_server.sh
#   start_server BIN LOG serve-flags...   # waits until it serves (or fails, showing its log); sets $endpoint
#                                         # (the tcp one), and $ucx_endpoint when serve-flags add --listen ucx://
#   stop_server                           # SIGTERM, wait; also runs on exit
_bg_server_pid=
_bg_server_dir=$(mktemp -d)

start_server() {
  local bin=$1 log=$2
  shift 2
  rm -f "$_bg_server_dir/ready"
  "$bin" serve --listen tcp://127.0.0.1:0 --ready-file "$_bg_server_dir/ready" "$@" >"$log" 2>&1 &
  _bg_server_pid=$!
  for _ in $(seq 1200); do
    if [[ -s $_bg_server_dir/ready ]]; then
      endpoint=$(head -n1 "$_bg_server_dir/ready")
      ucx_endpoint=$(grep -m1 '^ucx://' "$_bg_server_dir/ready" || true)
      return 0
    fi
    if ! kill -0 "$_bg_server_pid" 2>/dev/null; then
      tail -n 20 "$log" >&2
      echo "edgeserve serve failed to start (log: $log)" >&2
      _bg_server_pid=
      return 1
    fi
    sleep 0.1
  done
  echo "edgeserve serve did not become ready within 120 s (log: $log)" >&2
  return 1
}

stop_server() {
  if [[ -n $_bg_server_pid ]]; then
    kill "$_bg_server_pid" 2>/dev/null
    wait "$_bg_server_pid" 2>/dev/null
  fi
  _bg_server_pid=
}

trap 'stop_server; rm -rf "$_bg_server_dir"' EXIT
