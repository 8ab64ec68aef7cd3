#!/usr/bin/env bash
# bench/seedbox_tracker.sh — tracker traffic of many idle seeding torrents in
# one daemon: shoal vs transmission-daemon (and qbittorrent-nox where
# installed), issue 21 item 3. The daemons and torrents are bench/seedbox.py's;
# the tracker counts every request (bench/seedbox_tracker.py's docstring lists
# the figures): the busiest second after adding all (target ≤ N/60), requests
# in 180 s of steady seeding, `stopped` at a graceful stop, and requests around
# a restart.
#
# Usage: bench/seedbox_tracker.sh N [CLIENTS]   (CLIENTS: e.g. shoal,transmission)
# Env: SHOAL_BIN (default: a release build of shoal-cli), STEADY_S (180),
#      RESTART_S (60), WORK (bench/build/seedbox_tracker; emptied first).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:?usage: bench/seedbox_tracker.sh N [CLIENTS]}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
if [ -z "${SHOAL_BIN:-}" ]; then
  cargo build --release -p shoal-cli --bin shoal
  SHOAL_BIN=$CARGO_TARGET_DIR/release/shoal
fi
WORK=${WORK:-$ROOT/bench/build/seedbox_tracker}
exec python3 "$ROOT/bench/seedbox_tracker.py" "$N" "$SHOAL_BIN" "$WORK" "${2:-}"
