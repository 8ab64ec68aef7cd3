#!/usr/bin/env bash
# bench/tracker.sh — UDP tracker throughput and memory: shoal vs aquatic_udp.
#
# Installs aquatic_udp (--no-default-features) and aquatic_udp_load_test from
# crates.io into bench/build/cache (not committed), builds shoal-tracker in
# release mode, then runs the same load test against each tracker in turn, one
# worker each, everything on 127.0.0.1. Prints average responses/s, peak RSS
# (VmHWM) and the ratio, then a memory-per-peer measurement with many torrents.
# Each round also loads bench/udp_ceiling.c, a stateless responder that does
# the least work a tracker can: what the load generator reaches against it is
# the most any tracker can show here, because the generator is one process on
# one of the machine's cores and saturates it too.
#
# Usage: bench/tracker.sh [DURATION_S (default 20)] [MEM_TORRENTS (default 1000000)] [ROUNDS (default 3; 0 = memory only)]
# The machine may be shared: rounds alternate between the trackers and the
# medians are reported; CPU µs per response is the least noise-sensitive figure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DUR=${1:-20}
MEM_TORRENTS=${2:-1000000}
ROUNDS=${3:-3}
BUILD=$ROOT/bench/build
CACHE=$BUILD/cache
RUN=$BUILD/run-tracker
mkdir -p "$CACHE" "$RUN"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

if [ ! -x "$CACHE/bin/aquatic_udp" ]; then
  cargo install --locked aquatic_udp --version 0.9.0 --no-default-features --root "$CACHE"
fi
if [ ! -x "$CACHE/bin/aquatic_udp_load_test" ]; then
  cargo install --locked aquatic_udp_load_test --version 0.9.0 --root "$CACHE"
fi
cargo build --release -p shoal-tracker
SHOAL=$CARGO_TARGET_DIR/release/shoal-tracker
CEILING=$BUILD/udp_ceiling
gcc -O2 -o "$CEILING" bench/udp_ceiling.c
FREEPORT=${FREEPORT:-$ROOT/../shared/interop/freeport.py}
port() { if [ -x "$FREEPORT" ]; then "$FREEPORT" 1; else python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; fi; }

hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# run_load NAME PORT PID -> prints "resp_per_s peak_rss_kib"
run_load() {
  local name=$1 p=$2 pid=$3
  cat > "$RUN/load-$name.toml" <<CFG
server_address = "127.0.0.1:$p"
log_level = "error"
workers = 1
duration = $DUR
summarize_last = 0
extra_statistics = false
[network]
multiple_client_ipv4s = true
sockets_per_worker = 4
recv_buffer = 8000000
CFG
  "$CACHE/bin/aquatic_udp_load_test" -c "$RUN/load-$name.toml" > "$RUN/load-$name.log" 2>&1
  local rps; rps=$(sed -n 's/^Average responses per second: \([0-9.]*\)/\1/p' "$RUN/load-$name.log")
  echo "${rps:-0} $(hwm_kib "$pid")"
}

cat > "$RUN/aquatic.toml" <<CFG
socket_workers = 1
log_level = "error"
[network]
address = "127.0.0.1:PORT"
socket_recv_buffer_size = 8000000
CFG

# One round: start tracker NAME, load it for DUR seconds, print
# "responses/s peak_rss_kib cpu_us_per_response".
round() {
  local name=$1 p pid out
  p=$(port)
  if [ "$name" = aquatic ]; then
    sed "s/PORT/$p/" "$RUN/aquatic.toml" > "$RUN/aquatic-run.toml"
    "$CACHE/bin/aquatic_udp" -c "$RUN/aquatic-run.toml" > "$RUN/aquatic.log" 2>&1 & pid=$!
  elif [ "$name" = ceiling ]; then
    "$CEILING" "$p" > "$RUN/ceiling.log" 2>&1 & pid=$!
  else
    "$SHOAL" --udp "127.0.0.1:$p" --no-http --udp-threads 1 --log-level warn > "$RUN/shoal.log" 2>&1 & pid=$!
  fi
  sleep 1
  out=$(run_load "$name" "$p" "$pid")
  # CPU (user+system) the tracker used over the whole run, per response.
  local ticks hz; ticks=$(awk '{print $14+$15}' "/proc/$pid/stat"); hz=$(getconf CLK_TCK)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  set -- $out
  echo "$1 $2 $(echo "$ticks/$hz*1000000/($1*$DUR)" | bc -l)"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

if [ "$ROUNDS" -gt 0 ]; then
: > "$RUN/rounds.txt"
for r in $(seq "$ROUNDS"); do
  for name in aquatic shoal ceiling; do
    echo "$name $(round $name)" | tee -a "$RUN/rounds.txt" >&2
  done
done
col() { awk -v n="$1" -v c="$2" '$1 == n {print $c}' "$RUN/rounds.txt" | median; }
A_RPS=$(col aquatic 2); A_RSS=$(col aquatic 3); A_CPU=$(col aquatic 4)
S_RPS=$(col shoal 2); S_RSS=$(col shoal 3); S_CPU=$(col shoal 4)
C_RPS=$(col ceiling 2)

echo "== UDP load test: aquatic_udp_load_test (1 worker, 1M torrents, 2M peers), ${DUR}s x $ROUNDS rounds each, medians"
printf "%-12s %12s %13s %18s\n" tracker "responses/s" "peak RSS MiB" "CPU us/response"
printf "%-12s %12.0f %13.1f %18.2f\n" aquatic_udp "$A_RPS" "$(echo "$A_RSS/1024" | bc -l)" "$A_CPU"
printf "%-12s %12.0f %13.1f %18.2f\n" shoal "$S_RPS" "$(echo "$S_RSS/1024" | bc -l)" "$S_CPU"
printf "ratio shoal/aquatic: responses/s %.2fx, peak RSS %.2fx, CPU per response %.2fx\n" \
  "$(echo "$S_RPS/$A_RPS" | bc -l)" "$(echo "$S_RSS/$A_RSS" | bc -l)" "$(echo "$S_CPU/$A_CPU" | bc -l)"
printf "ceiling (stateless responder): %.0f responses/s = %.2fx aquatic; shoal reaches %.0f%% of it\n" \
  "$C_RPS" "$(echo "$C_RPS/$A_RPS" | bc -l)" "$(echo "100*$S_RPS/$C_RPS" | bc -l)"
fi

# Memory per peer: MEM_TORRENTS torrents x 3 peers, announced over UDP by a
# small Python client (one connect, then announces with a bounded window),
# against each tracker; RSS growth over the idle baseline divided by peers.
mem_run() {  # NAME PORT PID
  local p=$2 pid=$3 base rss
  sleep 0.5
  base=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  python3 - "$p" "$MEM_TORRENTS" <<'PY'
import socket, struct, sys, os
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(("127.0.0.1", port)); s.settimeout(5)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.send(struct.pack(">QII", 0x41727101980, 0, 1)); cid = struct.unpack(">IIQ", s.recv(64))[2]
inflight = 0
for t in range(n):
    ih = struct.pack(">Q", t) + b"\0" * 12
    for p in range(3):
        s.send(struct.pack(">QII20s20sQQQIIIiH", cid, 1, t, ih, os.urandom(20), 0, p, 0, 2, 0, 0, 0, 1000 + p))
        inflight += 1
        if inflight >= 192:
            for _ in range(inflight): s.recv(2048)
            inflight = 0
for _ in range(inflight): s.recv(2048)
PY
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local peers=$(( MEM_TORRENTS * 3 ))
  printf "%-12s RSS growth %7.1f MiB = %6.1f bytes/peer (%6.1f bytes/torrent)\n" "$1" \
    "$(echo "($rss-$base)/1024" | bc -l)" "$(echo "($rss-$base)*1024/$peers" | bc -l)" "$(echo "($rss-$base)*1024/$MEM_TORRENTS" | bc -l)"
}
echo "== memory: $MEM_TORRENTS torrents x 3 peers = $(( MEM_TORRENTS * 3 )) peers"
AP=$(port)
sed "s/PORT/$AP/" "$RUN/aquatic.toml" > "$RUN/aquatic-run.toml"
"$CACHE/bin/aquatic_udp" -c "$RUN/aquatic-run.toml" > "$RUN/aquatic-mem.log" 2>&1 & APID=$!
mem_run aquatic_udp "$AP" "$APID"
MP=$(port)
"$SHOAL" --udp "127.0.0.1:$MP" --no-http --log-level warn > "$RUN/shoal-mem.log" 2>&1 & MPID=$!
mem_run shoal "$MP" "$MPID"
