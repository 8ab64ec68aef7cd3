#!/usr/bin/env bash
# bench/swarm.sh - swarm efficiency on one host: 1 seeder + N leechers
# (default 20) as separate processes on 127.0.0.1, 64 MiB in 256 KiB pieces,
# every peer's upload capped at 4 MiB/s by the client's own limit, peers
# found through opentracker. First shoal's swarm, then libtorrent's
# (../shared/interop/lt_swarm.py, the same setup), then the simulator's
# prediction for the same scenario (crates/sim/scenarios/swarm64.toml).
# Prints each swarm's completion time, its ratio to the fluid bound
# T* = max(F/U_seed, N·F/(U_seed + N·U_leech)), and shoal/libtorrent.
# A benchmark, not a test.
#
# Usage: bench/swarm.sh        (env: BENCH_DIR=/tmp/shoal-swarm N=20 LIMIT=4194304 RUNS=1;
#                               SHOAL_ONLY=1 runs shoal's swarm only and keeps each run's logs)
# Needs: cargo, /usr/bin/python3 with python3-libtorrent, opentracker.
# As in lt_swarm.py, the leechers start first and announce; t0 is the
# seeder's launch (its start-up check of the content is inside the time).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
[[ -d $SHARED/interop ]] || SHARED=/work/shared
I=$SHARED/interop
BENCH_DIR=${BENCH_DIR:-/tmp/shoal-swarm}
N=${N:-20}
LIMIT=${LIMIT:-4194304}
RUNS=${RUNS:-1}
TIMEOUT=${TIMEOUT:-240}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
die() { echo "swarm.sh: error: $*" >&2; exit 1; }
command -v opentracker >/dev/null || die "opentracker missing (apt-get install -y opentracker)"

mkdir -p "$BENCH_DIR"
(cd "$ROOT" && cargo build --release -q -p shoal-cli)
SHOAL=$CARGO_TARGET_DIR/release/shoal
DATA=$BENCH_DIR/src/data_64
if [[ ! -f $DATA ]]; then
    bash "$I/mkdata.sh" "$BENCH_DIR/src" 64 >/dev/null
fi
SIZE=$(stat -c %s "$DATA")
TSTAR=$(python3 -c "s=$SIZE;u=$LIMIT;n=$N;print(round(max(s/u, n*s/(u*(1+n))),3))")

PIDS=()
TRK=""
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [[ -n $TRK ]] && "$I/tracker.sh" stop "$TRK" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# No process per reading: stamping each completion with a spawned `date` or
# `python3` serialised the stamps (0.2 s each on a loaded machine) and made
# the last leechers look up to 4 s late.
now() { echo "$EPOCHREALTIME"; }

# shoal_run DIR: prints the swarm time (s) and writes DIR/times
shoal_run() {
    local W=$1 ports tp sp i
    rm -rf "$W"; mkdir -p "$W"
    read -r -a ports < <(/usr/bin/python3 "$I/freeport.py" $((N + 2)) | xargs)
    tp=${ports[0]}; sp=${ports[1]}
    local info
    info=$(/usr/bin/python3 "$I/mktorrent.py" "$DATA" "$W/t.torrent" \
        --tracker "http://127.0.0.1:$tp/announce" --piece-kib 256 | tail -1)
    local ih
    ih=$(echo "$info" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["infohash_v1"])')
    TRK=$W/trk
    "$I/tracker.sh" start "$TRK" "$tp" --lifetime 900 "$W/t.torrent" >/dev/null
    PIDS=()
    for ((i = 0; i < N; i++)); do
        "$SHOAL" download "$W/t.torrent" -o "$W/dl$i" --listen "127.0.0.1:${ports[i + 2]}" \
            --state-dir "$W/st$i" --max-up "$LIMIT" --seed >"$W/l$i.log" 2>&1 &
        PIDS+=($!)
    done
    # Every leecher has announced before the seeder starts.
    for _ in $(seq 200); do
        local inc
        inc=$(/usr/bin/python3 "$I/tracker_probe.py" "127.0.0.1:$tp" --scrape --infohash "$ih" 2>/dev/null |
            tail -1 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin).get("incomplete",0))' 2>/dev/null || echo 0)
        ((inc >= N)) && break
        sleep 0.3
    done
    sleep 1
    local t0
    t0=$(now)
    "$SHOAL" seed "$W/t.torrent" "$(dirname "$DATA")" --listen "127.0.0.1:$sp" \
        --state-dir "$W/st_seed" --max-up "$LIMIT" >"$W/seed.log" 2>&1 &
    PIDS+=($!)
    : >"$W/times"
    declare -A done_at=()
    local deadline=$((EPOCHSECONDS + TIMEOUT)) t f
    while ((${#done_at[@]} < N)); do
        # One stamp per poll (every 0.1 s) for all that completed since the last.
        t=$(now)
        for f in $(grep -l ": complete" "$W"/l*.log 2>/dev/null); do
            i=${f##*/l}; i=${i%.log}
            [[ -n ${done_at[$i]:-} ]] && continue
            done_at[$i]=$t
        done
        ((EPOCHSECONDS < deadline)) || break
        sleep 0.1
    done
    for i in "${!done_at[@]}"; do
        echo "l$i $(awk -v a="${done_at[$i]}" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')" >>"$W/times"
    done
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
    "$I/tracker.sh" stop "$TRK" >/dev/null 2>&1 || true
    TRK=""
    ((${#done_at[@]} == N)) || die "only ${#done_at[@]} of $N shoal leechers completed (logs in $W)"
    cmp -s "$DATA" "$W/dl0/$(basename "$DATA")" || die "shoal's copy differs"
    rm -rf "$W"/dl*
    sort -k2 -n "$W/times" | tail -1 | awk '{print $2}'
}

lt_run() {
    local W=$1
    rm -rf "$W"
    /usr/bin/python3 "$I/lt_swarm.py" "$W" --n "$N" --limit "$LIMIT" --content "$DATA" \
        --timeout "$TIMEOUT" | tail -1 |
        /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["swarm_s"] if r["swarm_s"] else "nan")'
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
S=(); L=()
for r in $(seq "$RUNS"); do
    S+=("$(shoal_run "$BENCH_DIR/shoal")")
    if [[ -n ${SHOAL_ONLY:-} ]]; then
        echo "run $r: shoal ${S[-1]} s" >&2
        cp -r "$BENCH_DIR/shoal" "$BENCH_DIR/shoal-run$r"
        continue
    fi
    L+=("$(lt_run "$BENCH_DIR/lt")")
    echo "run $r: shoal ${S[-1]} s, libtorrent ${L[-1]} s" >&2
done
st=$(printf '%s\n' "${S[@]}" | median)
if [[ -n ${SHOAL_ONLY:-} ]]; then
    echo "shoal, median of $RUNS: $st s = $(python3 -c "print(round($st / $TSTAR, 2))") x T* (T* = $TSTAR s; logs in $BENCH_DIR/shoal-run*)"
    exit 0
fi
lt=$(printf '%s\n' "${L[@]}" | median)
SCEN=$(mktemp)
sed -e "s/^count = 20$/count = $N/" -e "s/^upload = 4194304$/upload = $LIMIT/" \
    "$ROOT/crates/sim/scenarios/swarm64.toml" >"$SCEN"
sim=$("$SHOAL" sim "$SCEN" --json | /usr/bin/python3 -c 'import json,sys; print(round(json.load(sys.stdin)["swarm_time_s"],2))')
rm -f "$SCEN"
ratio() { python3 -c "print(round($1 / $TSTAR, 2))"; }
echo "swarm: 1 seeder + $N leechers, $((SIZE >> 20)) MiB, upload cap $LIMIT B/s each, T* = $TSTAR s"
printf '%-22s %9s %8s\n' swarm seconds "x T*"
printf '%-22s %9s %8s\n' shoal "$st" "$(ratio "$st")"
printf '%-22s %9s %8s\n' libtorrent "$lt" "$(ratio "$lt")"
printf '%-22s %9s %8s\n' "simulator (shoal)" "$sim" "$(ratio "$sim")"
echo "shoal/libtorrent: $(python3 -c "print(round($st / $lt, 2))")   (targets: shoal <= 1.15 x T*, faster than libtorrent)"
