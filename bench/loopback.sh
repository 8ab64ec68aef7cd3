#!/usr/bin/env bash
# bench/loopback.sh - one seeder -> one leecher over 127.0.0.1, shoal->shoal and
# libtorrent->libtorrent on the same content in one run (1 GiB, 1 MiB pieces by
# default). Prints transfer seconds, MiB/s, the leecher's user+sys CPU seconds,
# its peak RSS, and the shoal/libtorrent ratios. A benchmark, not a test.
#
# Usage: bench/loopback.sh          (env: BENCH_DIR=/tmp/shoal-bench SIZE_MIB=1024 RUNS=3
#                                    SHOAL_FLAGS="--encryption disable": extra flags for both shoal peers)
# Needs: cargo, openssl, /usr/bin/python3 with python3-libtorrent, GNU time.
# libtorrent runs through ../shared/interop/lt_peer.py over TCP (--no-utp), so
# its process includes the Python interpreter (a few MiB of RSS, negligible CPU).
# The leecher's "transfer" time runs from its start to its exit: it includes
# connecting and the start-up check of its (empty) download directory.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
[[ -d $SHARED/interop ]] || SHARED=/work/shared
I=$SHARED/interop
BENCH_DIR=${BENCH_DIR:-/tmp/shoal-bench}
SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
die() { echo "loopback.sh: error: $*" >&2; exit 1; }
[[ -x /usr/bin/time ]] || die "GNU time missing (apt-get install -y time)"

mkdir -p "$BENCH_DIR/loop"
W=$BENCH_DIR/loop
DATA=$BENCH_DIR/data_$SIZE_MIB
if [[ ! -f $DATA || $(stat -c %s "$DATA") -ne $((SIZE_MIB * 1024 * 1024)) ]]; then
    echo "making $SIZE_MIB MiB of test data ..."
    bash "$I/mkdata.sh" "$BENCH_DIR" "$SIZE_MIB" >/dev/null
fi
(cd "$ROOT" && cargo build --release -q -p shoal-cli)
SHOAL=$CARGO_TARGET_DIR/release/shoal
TORRENT=$W/bench.torrent
[[ -f $TORRENT ]] || /usr/bin/python3 "$I/mktorrent.py" "$DATA" "$TORRENT" --piece-kib 1024 >/dev/null
cat "$DATA" >/dev/null

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# run_one NAME SEED_CMD... -- LEECH_CMD... : prints "seconds cpu rss_kib"
measure() {
    local out=$1; shift
    /usr/bin/time -f "%e %U %S %M" -o "$out" "$@" >/dev/null 2>&1
    read -r e u s m < "$out"
    echo "$e $(echo "$u + $s" | bc) $m"
}

shoal_run() {
    local sp lp
    read -r sp lp < <("$I/freeport.py" 2 | xargs)
    rm -rf "$W/shoal_dl" "$W/shoal_state_l" "$W/shoal_state_s"
    # shellcheck disable=SC2086 # SHOAL_FLAGS is a list of flags
    "$SHOAL" seed "$TORRENT" "$BENCH_DIR" --listen 127.0.0.1:$sp --state-dir "$W/shoal_state_s" ${SHOAL_FLAGS:-} >"$W/seed.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do grep -q "^seeding" "$W/seed.log" && break; sleep 0.1; done
    measure "$W/shoal.time" "$SHOAL" download "$TORRENT" -o "$W/shoal_dl" --listen 127.0.0.1:$lp \
        --peer 127.0.0.1:$sp --state-dir "$W/shoal_state_l" ${SHOAL_FLAGS:-}
    kill "${PIDS[-1]}" 2>/dev/null; wait "${PIDS[-1]}" 2>/dev/null || true
    cmp -s "$DATA" "$W/shoal_dl/$(basename "$DATA")" || die "shoal's copy differs"
}

lt_run() {
    local sp lp
    read -r sp lp < <("$I/freeport.py" 2 | xargs)
    rm -rf "$W/lt_dl"
    /usr/bin/python3 "$I/lt_peer.py" seed "$TORRENT" "$BENCH_DIR" $sp --no-tracker --no-utp --timeout 300 >"$W/lt_seed.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 300); do grep -q '"ready"' "$W/lt_seed.log" && break; sleep 0.1; done
    measure "$W/lt.time" /usr/bin/python3 "$I/lt_peer.py" leech "$TORRENT" "$W/lt_dl" $lp \
        --peer 127.0.0.1:$sp --no-tracker --no-utp --timeout 300
    kill "${PIDS[-1]}" 2>/dev/null; wait "${PIDS[-1]}" 2>/dev/null || true
    cmp -s "$DATA" "$W/lt_dl/$(basename "$DATA")" || die "libtorrent's copy differs"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -a S_T S_C S_M L_T L_C L_M
for r in $(seq "$RUNS"); do
    read -r t c m < <(shoal_run); S_T+=("$t"); S_C+=("$c"); S_M+=("$m")
    read -r t c m < <(lt_run); L_T+=("$t"); L_C+=("$c"); L_M+=("$m")
    echo "run $r: shoal ${S_T[-1]} s, libtorrent ${L_T[-1]} s" >&2
done
st=$(printf '%s\n' "${S_T[@]}" | median); sc=$(printf '%s\n' "${S_C[@]}" | median); sm=$(printf '%s\n' "${S_M[@]}" | median)
lt=$(printf '%s\n' "${L_T[@]}" | median); lc=$(printf '%s\n' "${L_C[@]}" | median); lm=$(printf '%s\n' "${L_M[@]}" | median)
mibs() { echo "scale=1; $SIZE_MIB / $1" | bc; }
printf '%-12s %8s %9s %10s %11s\n' client seconds MiB/s "cpu s" "peak RSS"
printf '%-12s %8s %9s %10s %9s MiB\n' shoal "$st" "$(mibs "$st")" "$sc" "$((sm / 1024))"
printf '%-12s %8s %9s %10s %9s MiB\n' libtorrent "$lt" "$(mibs "$lt")" "$lc" "$((lm / 1024))"
echo "throughput shoal/libtorrent: $(echo "scale=2; $lt / $st" | bc)x   (target >= 3x)"
echo "leecher CPU shoal/libtorrent: $(echo "scale=2; $sc / $lc" | bc)   (target <= 0.5)"
echo "leecher peak RSS shoal: $((sm / 1024)) MiB   (target <= 24 MiB)"
