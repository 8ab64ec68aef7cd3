#!/usr/bin/env bash
# bench/dht.sh — get_peers lookup time in a simulated Mainline DHT.
#
# Runs crates/dht/examples/lookup_bench.rs in release mode: NODES sans-IO
# nodes (default 10,000) in one process on a virtual clock, 50 ms one-way
# latency (±20 % jitter), 5 % loss per datagram. Nodes join, settle, 50
# torrents are announced, then LOOKUPS get_peers lookups start from random
# nodes. Prints median and p99 lookup time (ms and round trips), time to the
# first peer, and queries per lookup. Targets: median ≤ 4 RTT, p99 ≤ 1 s.
#
# Usage: bench/dht.sh [NODES] [ALPHA (default: Config::default)] [LOOKUPS] [SEED]
# Deterministic for a given seed; needs no network. ~1 min for 10,000 nodes.
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${1:-10000}
ALPHA=${2:-0}
LOOKUPS=${3:-500}
SEED=${4:-1}
args=("$NODES")
if [[ $ALPHA != 0 ]]; then args+=("$ALPHA"); else args+=(""); fi
exec cargo run --release -q -p shoal-dht --example lookup_bench -- "${args[@]}" "$LOOKUPS" "$SEED"
