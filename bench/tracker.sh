#!/usr/bin/env bash
# bench/tracker.sh — UDP tracker throughput, CPU and memory: shoal vs aquatic_udp.
#
# Installs aquatic_udp (--no-default-features) and aquatic_udp_load_test from
# crates.io into bench/build/cache (not committed), builds shoal-tracker in
# release mode, then runs the same load test against each tracker in turn,
# everything on 127.0.0.1, for each worker count in WORKERS (aquatic's
# `socket_workers`, shoal's `--udp-threads`). Prints responses/s, the tracker's
# CPU seconds, peak RSS (VmHWM), CPU µs per response and the ratios, then a
# memory-per-peer measurement with many torrents.
# Each round can also load bench/udp_ceiling.c (CEILING=1), a stateless
# responder that does the least work a tracker can: what the load generator
# reaches against it is the most any tracker can show here, because the
# generator runs on the same machine and saturates cores too.
#
# Usage: bench/tracker.sh [DURATION_S (default 20)] [MEM_TORRENTS (default 1000000; 0 = skip)] [ROUNDS (default 3; 0 = memory only)]
# Environment: WORKERS="1 2" (tracker worker counts, default 1),
#   LOAD_WORKERS (load-generator workers, default 1), LOAD_SOCKETS (sockets
#   per load worker, default 4), CEILING=1 (also load udp_ceiling),
#   SHOAL_BIN (a shoal-tracker binary to use instead of building one),
#   SHOAL_BASE (an older shoal-tracker binary to run in the same rounds,
#   reported as its own rows, for before/after figures).
# The machine may be shared: rounds alternate between the trackers and the
# medians are reported; CPU µs per response is the least noise-sensitive
# figure, and the one comparable across machines of different core counts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DUR=${1:-20}
MEM_TORRENTS=${2:-1000000}
ROUNDS=${3:-3}
WORKERS=${WORKERS:-1}
LOAD_WORKERS=${LOAD_WORKERS:-1}
LOAD_SOCKETS=${LOAD_SOCKETS:-4}
CEILING_ON=${CEILING:-0}
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
if [ -n "${SHOAL_BIN:-}" ]; then
  SHOAL=$SHOAL_BIN
else
  cargo build --release -p shoal-tracker
  SHOAL=$CARGO_TARGET_DIR/release/shoal-tracker
fi
CEILING=$BUILD/udp_ceiling
[ "$CEILING_ON" = 1 ] && gcc -O2 -o "$CEILING" bench/udp_ceiling.c
FREEPORT=${FREEPORT:-$ROOT/../shared/interop/freeport.py}
port() { if [ -x "$FREEPORT" ]; then "$FREEPORT" 1; else python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; fi; }

hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

# run_load NAME PORT PID -> prints "resp_per_s peak_rss_kib"
run_load() {
  local name=$1 p=$2 pid=$3
  cat > "$RUN/load-$name.toml" <<CFG
server_address = "127.0.0.1:$p"
log_level = "error"
workers = $LOAD_WORKERS
duration = $DUR
summarize_last = 0
extra_statistics = false
[network]
multiple_client_ipv4s = true
sockets_per_worker = $LOAD_SOCKETS
recv_buffer = 8000000
CFG
  "$CACHE/bin/aquatic_udp_load_test" -c "$RUN/load-$name.toml" > "$RUN/load-$name.log" 2>&1
  local rps; rps=$(sed -n 's/^Average responses per second: \([0-9.]*\)/\1/p' "$RUN/load-$name.log")
  echo "${rps:-0} $(hwm_kib "$pid")"
}

cat > "$RUN/aquatic.toml" <<CFG
socket_workers = WORKERS
log_level = "error"
[network]
address = "127.0.0.1:PORT"
socket_recv_buffer_size = 8000000
CFG

# One round: start tracker NAME with W workers, load it for DUR seconds, print
# "responses/s peak_rss_kib cpu_us_per_response cpu_s".
round() {
  local name=$1 w=$2 p pid out
  p=$(port)
  if [ "$name" = aquatic ]; then
    sed "s/PORT/$p/; s/WORKERS/$w/" "$RUN/aquatic.toml" > "$RUN/aquatic-run.toml"
    "$CACHE/bin/aquatic_udp" -c "$RUN/aquatic-run.toml" > "$RUN/aquatic.log" 2>&1 & pid=$!
  elif [ "$name" = ceiling ]; then
    "$CEILING" "$p" > "$RUN/ceiling.log" 2>&1 & pid=$!
  else
    local bin=$SHOAL; [ "$name" = base ] && bin=$SHOAL_BASE
    "$bin" --udp "127.0.0.1:$p" --no-http --udp-threads "$w" --log-level warn > "$RUN/shoal.log" 2>&1 & pid=$!
  fi
  sleep 1
  out=$(run_load "$name" "$p" "$pid")
  # CPU (user+system) the tracker used over the whole run, per response.
  local ticks hz; ticks=$(awk '{print $14+$15}' "/proc/$pid/stat"); hz=$(getconf CLK_TCK)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  set -- $out
  echo "$1 $2 $(echo "$ticks/$hz*1000000/($1*$DUR)" | bc -l) $(echo "$ticks/$hz" | bc -l)"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
minmax() { sort -g | awk 'NR==1 {lo=$1} {hi=$1} END {printf (lo==hi ? "%.*f" : "%.*f–%.*f"), d, lo, d, hi}' d="$1"; }

if [ "$ROUNDS" -gt 0 ]; then
: > "$RUN/rounds.txt"
NAMES="aquatic shoal"; [ -n "${SHOAL_BASE:-}" ] && NAMES="$NAMES base"
[ "$CEILING_ON" = 1 ] && NAMES="$NAMES ceiling"
for w in $WORKERS; do
  for r in $(seq "$ROUNDS"); do
    for name in $NAMES; do
      echo "$w $name $(round $name "$w")" | tee -a "$RUN/rounds.txt" >&2
    done
  done
done
col() { awk -v w="$1" -v n="$2" -v c="$3" '$1 == w && $2 == n {print $c}' "$RUN/rounds.txt"; }
echo "== UDP load test: aquatic_udp_load_test ($LOAD_WORKERS workers x $LOAD_SOCKETS sockets), ${DUR}s x $ROUNDS rounds each; load avg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| workers | aquatic responses/s | shoal responses/s | ratio | tracker CPU s (aquatic / shoal) | CPU µs/response (aquatic / shoal) | CPU ratio | peak RSS MB (aquatic / shoal) |"
echo "|---|---|---|---|---|---|---|---|"
row() {  # WORKERS NAME LABEL
  local w=$1 n=$2 A_RPS S_RPS A_CPU S_CPU
  A_RPS=$(col "$w" aquatic 3 | median); S_RPS=$(col "$w" "$n" 3 | median)
  A_CPU=$(col "$w" aquatic 5 | median); S_CPU=$(col "$w" "$n" 5 | median)
  printf "| %s%s | %s | %s | %.2fx | %s / %s | %.2f / %.2f | **%.2fx** | %s / %s |\n" "$w" "$3" \
    "$(col "$w" aquatic 3 | minmax 0)" "$(col "$w" "$n" 3 | minmax 0)" "$(echo "$S_RPS/$A_RPS" | bc -l)" \
    "$(col "$w" aquatic 6 | minmax 2)" "$(col "$w" "$n" 6 | minmax 2)" "$A_CPU" "$S_CPU" "$(echo "$S_CPU/$A_CPU" | bc -l)" \
    "$(col "$w" aquatic 4 | awk '{print $1/1024}' | minmax 0)" "$(col "$w" "$n" 4 | awk '{print $1/1024}' | minmax 0)"
}
for w in $WORKERS; do
  row "$w" shoal ""
  [ -n "${SHOAL_BASE:-}" ] && row "$w" base " (shoal before)"
  if [ "$CEILING_ON" = 1 ]; then
    A_RPS=$(col "$w" aquatic 3 | median); S_RPS=$(col "$w" shoal 3 | median); C_RPS=$(col "$w" ceiling 3 | median)
    printf "ceiling (stateless responder): %.0f responses/s = %.2fx aquatic; shoal reaches %.0f%% of it\n" \
      "$C_RPS" "$(echo "$C_RPS/$A_RPS" | bc -l)" "$(echo "100*$S_RPS/$C_RPS" | bc -l)"
  fi
done
fi

[ "$MEM_TORRENTS" -gt 0 ] || exit 0
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
sed "s/PORT/$AP/; s/WORKERS/1/" "$RUN/aquatic.toml" > "$RUN/aquatic-run.toml"
"$CACHE/bin/aquatic_udp" -c "$RUN/aquatic-run.toml" > "$RUN/aquatic-mem.log" 2>&1 & APID=$!
mem_run aquatic_udp "$AP" "$APID"
MP=$(port)
"$SHOAL" --udp "127.0.0.1:$MP" --no-http --log-level warn > "$RUN/shoal-mem.log" 2>&1 & MPID=$!
mem_run shoal "$MP" "$MPID"
