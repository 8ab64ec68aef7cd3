#!/usr/bin/env bash
# bench/seedbox.sh — many idle seeding torrents in one daemon: shoal vs
# transmission-daemon (and qbittorrent-nox where installed), issue 21.
#
# Generates N complete 64 KiB torrents (PIECES=K: K pieces of 16 KiB each,
# sparse zeros) announcing to one local `shoal tracker`
# (interval 120 s), then runs each daemon on 127.0.0.1 with DHT, LSD, PEX and
# port mapping off, adds every torrent through its RPC and prints: add all →
# all seeding, idle CPU % over IDLE_S, RSS settled, full-list latency, graceful
# stop, restart → all seeding, and the ratios shoal/other. The measurement
# itself is bench/seedbox.py (its docstring lists the figures and the hooks
# for tracker counts and recently-active).
#
# Usage: bench/seedbox.sh N [CLIENTS]   (CLIENTS: e.g. shoal or shoal,transmission)
# Env: SHOAL_BIN (default: a release build of shoal-cli), IDLE_S (300),
#      SETTLE_S (10), ADD_JOBS (1: clients adding at once), PIECES (4), WORK
#      (bench/build/seedbox; emptied first).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:?usage: bench/seedbox.sh N [CLIENTS]}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
if [ -z "${SHOAL_BIN:-}" ]; then
  cargo build --release -p shoal-cli --bin shoal
  SHOAL_BIN=$CARGO_TARGET_DIR/release/shoal
fi
WORK=${WORK:-$ROOT/bench/build/seedbox}
exec python3 "$ROOT/bench/seedbox.py" "$N" "$SHOAL_BIN" "$WORK" "${2:-}"
