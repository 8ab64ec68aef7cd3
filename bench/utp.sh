#!/usr/bin/env bash
# bench/utp.sh - one seeder -> one leecher over 127.0.0.1 by uTP: shoal->shoal over
# uTP only (--no-tcp on both), shoal->shoal over TCP only (--no-utp) for reference,
# and libtorrent->libtorrent over uTP only (lt_peer.py --no-tcp), in one run.
# Prints seconds, MiB/s, the leecher's user+sys CPU seconds and peak RSS, and the
# ratios the uTP issue asks for (shoal uTP >= 50 % of shoal TCP; >= 100x libtorrent
# uTP). A benchmark, not a test.
#
# Usage: bench/utp.sh   (env: BENCH_DIR=/tmp/shoal-bench SIZE_MIB=1024 LT_SIZE_MIB=256
#                        RUNS=1 SHOAL_FLAGS="--encryption disable")
# Needs: cargo, openssl, /usr/bin/python3 with python3-libtorrent, GNU time, bc.
# libtorrent's uTP is slow on loopback (256 MiB takes about a minute), hence its
# smaller default size; MiB/s is what compares.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
[[ -d $SHARED/interop ]] || SHARED=/work/shared
I=$SHARED/interop
BENCH_DIR=${BENCH_DIR:-/tmp/shoal-bench}
SIZE_MIB=${SIZE_MIB:-1024}
LT_SIZE_MIB=${LT_SIZE_MIB:-256}
RUNS=${RUNS:-1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
die() { echo "utp.sh: error: $*" >&2; exit 1; }
[[ -x /usr/bin/time ]] || die "GNU time missing (apt-get install -y time)"

W=$BENCH_DIR/utp
mkdir -p "$W"
data() { # data SIZE -> path of SIZE MiB of test data (made once)
    local d=$BENCH_DIR/data_$1
    if [[ ! -f $d || $(stat -c %s "$d") -ne $(($1 * 1024 * 1024)) ]]; then
        echo "making $1 MiB of test data ..." >&2
        bash "$I/mkdata.sh" "$BENCH_DIR" "$1" >/dev/null
    fi
    echo "$d"
}
DATA=$(data "$SIZE_MIB")
LT_DATA=$(data "$LT_SIZE_MIB")
(cd "$ROOT" && cargo build --release -q -p shoal-cli)
SHOAL=$CARGO_TARGET_DIR/release/shoal
torrent() { # torrent DATA -> .torrent path
    local t
    t=$W/$(basename "$1").torrent
    [[ -f $t ]] || /usr/bin/python3 "$I/mktorrent.py" "$1" "$t" --piece-kib 1024 >/dev/null
    echo "$t"
}
TORRENT=$(torrent "$DATA")
LT_TORRENT=$(torrent "$LT_DATA")
cat "$DATA" "$LT_DATA" >/dev/null

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

measure() { # measure OUT CMD... : prints "seconds cpu rss_kib"
    local out=$1; shift
    /usr/bin/time -f "%e %U %S %M" -o "$out" "$@" >/dev/null 2>&1 || die "$* failed"
    read -r e u s m < "$out"
    echo "$e $(echo "$u + $s" | bc) $m"
}

shoal_run() { # shoal_run FLAG (--no-tcp or --no-utp)
    local sp lp
    read -r sp lp < <("$I/freeport.py" 2 | xargs)
    rm -rf "$W/shoal_dl" "$W/state_l" "$W/state_s"
    # shellcheck disable=SC2086 # SHOAL_FLAGS is a list of flags
    "$SHOAL" seed "$TORRENT" "$BENCH_DIR" --listen 127.0.0.1:$sp --state-dir "$W/state_s" --no-dht "$1" ${SHOAL_FLAGS:-} >"$W/seed.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do grep -q "^seeding" "$W/seed.log" && break; sleep 0.1; done
    # shellcheck disable=SC2086
    measure "$W/shoal.time" timeout 600 "$SHOAL" download "$TORRENT" -o "$W/shoal_dl" --listen 127.0.0.1:$lp \
        --peer 127.0.0.1:$sp --state-dir "$W/state_l" --no-dht "$1" ${SHOAL_FLAGS:-}
    kill "${PIDS[-1]}" 2>/dev/null; wait "${PIDS[-1]}" 2>/dev/null || true
    cmp -s "$DATA" "$W/shoal_dl/$(basename "$DATA")" || die "shoal's copy differs ($1)"
}

lt_run() {
    local sp lp
    read -r sp lp < <("$I/freeport.py" 2 | xargs)
    rm -rf "$W/lt_dl"
    /usr/bin/python3 "$I/lt_peer.py" seed "$LT_TORRENT" "$BENCH_DIR" $sp --no-tracker --no-tcp --timeout 600 >"$W/lt_seed.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 300); do grep -q '"ready"' "$W/lt_seed.log" && break; sleep 0.1; done
    measure "$W/lt.time" /usr/bin/python3 "$I/lt_peer.py" leech "$LT_TORRENT" "$W/lt_dl" $lp \
        --peer 127.0.0.1:$sp --no-tracker --no-tcp --timeout 600
    kill "${PIDS[-1]}" 2>/dev/null; wait "${PIDS[-1]}" 2>/dev/null || true
    cmp -s "$LT_DATA" "$W/lt_dl/$(basename "$LT_DATA")" || die "libtorrent's copy differs"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -a U_T U_C U_M T_T T_C T_M L_T L_C L_M
for r in $(seq "$RUNS"); do
    read -r t c m < <(shoal_run --no-tcp); U_T+=("$t"); U_C+=("$c"); U_M+=("$m")
    read -r t c m < <(shoal_run --no-utp); T_T+=("$t"); T_C+=("$c"); T_M+=("$m")
    read -r t c m < <(lt_run); L_T+=("$t"); L_C+=("$c"); L_M+=("$m")
    echo "run $r: shoal uTP ${U_T[-1]} s, shoal TCP ${T_T[-1]} s, libtorrent uTP ${L_T[-1]} s" >&2
done
med() { printf '%s\n' "$@" | median; }
ut=$(med "${U_T[@]}"); uc=$(med "${U_C[@]}"); um=$(med "${U_M[@]}")
tt=$(med "${T_T[@]}"); tc=$(med "${T_C[@]}"); tm=$(med "${T_M[@]}")
lt=$(med "${L_T[@]}"); lc=$(med "${L_C[@]}"); lm=$(med "${L_M[@]}")
mibs() { echo "scale=1; $1 / $2" | bc; }
printf '%-16s %6s %8s %9s %8s %11s\n' run MiB seconds MiB/s "cpu s" "peak RSS"
printf '%-16s %6s %8s %9s %8s %9s MiB\n' "shoal uTP" "$SIZE_MIB" "$ut" "$(mibs "$SIZE_MIB" "$ut")" "$uc" "$((um / 1024))"
printf '%-16s %6s %8s %9s %8s %9s MiB\n' "shoal TCP" "$SIZE_MIB" "$tt" "$(mibs "$SIZE_MIB" "$tt")" "$tc" "$((tm / 1024))"
printf '%-16s %6s %8s %9s %8s %9s MiB\n' "libtorrent uTP" "$LT_SIZE_MIB" "$lt" "$(mibs "$LT_SIZE_MIB" "$lt")" "$lc" "$((lm / 1024))"
echo "shoal uTP / shoal TCP throughput: $(echo "scale=2; $tt / $ut" | bc)   (target >= 0.5)"
echo "shoal uTP / libtorrent uTP throughput: $(echo "scale=1; ($SIZE_MIB / $ut) / ($LT_SIZE_MIB / $lt)" | bc)x   (target >= 100x)"
