#!/usr/bin/env bash
# bench/loopback.sh - one seeder -> one leecher over 127.0.0.1, shoal->shoal and
# libtorrent->libtorrent on the same content in one run (1 GiB, 1 MiB pieces by
# default), each plaintext and with encryption required (MSE/PE, RC4 both ways:
# shoal --encryption require, libtorrent lt_peer.py --enc require). Prints
# transfer seconds, MiB/s, the leecher's user+sys CPU seconds, the seeder's
# during the transfer (its start-up check excluded), the leecher's peak RSS,
# and the ratios against their targets. A benchmark, not a test.
#
# Usage: bench/loopback.sh          (env: BENCH_DIR=/tmp/shoal-bench SIZE_MIB=1024 RUNS=3
#                                    SHOAL_FLAGS="--no-utp": extra flags for every shoal peer;
#                                    the script sets --encryption itself;
#                                    SHOAL_BIN=path: run that shoal binary instead of building one)
# Needs: cargo, openssl, /usr/bin/python3 with python3-libtorrent, GNU time, bc.
# libtorrent runs through ../shared/interop/lt_peer.py over TCP (--no-utp), so
# its process includes the Python interpreter (a few MiB of RSS, negligible CPU).
# The leecher's "transfer" time runs from its start to its exit: it includes
# connecting and the start-up check of its (empty) download directory.
# "plaintext" is no MSE at all (shoal --encryption disable, libtorrent --enc plain).
# The machine's load average is printed with the figures: on a shared machine
# they are only as good as it is quiet. With both ends on few cores the
# transfer is CPU-bound, so the RC4/plaintext ratio of both ends' CPU seconds
# is printed too: it moves far less with the load than the times do.
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
if [[ -n ${SHOAL_BIN:-} ]]; then
    SHOAL=$SHOAL_BIN # another build to compare with
else
    (cd "$ROOT" && cargo build --release -q -p shoal-cli)
    SHOAL=$CARGO_TARGET_DIR/release/shoal
fi
TORRENT=$W/bench_$SIZE_MIB.torrent # per size: the data file differs
[[ -f $TORRENT ]] || /usr/bin/python3 "$I/mktorrent.py" "$DATA" "$TORRENT" --piece-kib 1024 >/dev/null
cat "$DATA" >/dev/null

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# cpu_ticks PID: the process's user+sys CPU so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# cpu_since PID TICKS: CPU seconds PID used since cpu_ticks gave TICKS.
cpu_since() { echo "scale=2; ($(cpu_ticks "$1") - $2) / $(getconf CLK_TCK)" | bc; }

# measure OUT CMD...: runs CMD, prints "seconds cpu rss_kib"
measure() {
    local out=$1; shift
    /usr/bin/time -f "%e %U %S %M" -o "$out" "$@" >/dev/null 2>&1
    read -r e u s m < "$out"
    echo "$e $(echo "$u + $s" | bc) $m"
}

# shoal_run ENCRYPTION: prints "seconds cpu rss_kib seeder_cpu"
shoal_run() {
    local enc=$1 sp lp s0 r
    read -r sp lp < <("$I/freeport.py" 2 | xargs)
    rm -rf "$W/shoal_dl" "$W/shoal_state_l" "$W/shoal_state_s"
    # shellcheck disable=SC2086 # SHOAL_FLAGS is a list of flags
    "$SHOAL" seed "$TORRENT" "$BENCH_DIR" --listen 127.0.0.1:$sp --state-dir "$W/shoal_state_s" \
        --encryption "$enc" ${SHOAL_FLAGS:-} >"$W/seed.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do grep -q "^seeding" "$W/seed.log" && break; sleep 0.1; done
    s0=$(cpu_ticks "${PIDS[-1]}")
    # shellcheck disable=SC2086
    r=$(measure "$W/shoal.time" "$SHOAL" download "$TORRENT" -o "$W/shoal_dl" --listen 127.0.0.1:$lp \
        --peer 127.0.0.1:$sp --state-dir "$W/shoal_state_l" --encryption "$enc" ${SHOAL_FLAGS:-})
    echo "$r $(cpu_since "${PIDS[-1]}" "$s0")"
    kill "${PIDS[-1]}" 2>/dev/null; wait "${PIDS[-1]}" 2>/dev/null || true
    cmp -s "$DATA" "$W/shoal_dl/$(basename "$DATA")" || die "shoal's copy differs ($enc)"
}

# lt_run ENC (plain|require): prints "seconds cpu rss_kib seeder_cpu"
lt_run() {
    local enc=$1 sp lp s0 r
    read -r sp lp < <("$I/freeport.py" 2 | xargs)
    rm -rf "$W/lt_dl"
    /usr/bin/python3 "$I/lt_peer.py" seed "$TORRENT" "$BENCH_DIR" $sp --no-tracker --no-utp \
        --enc "$enc" --timeout 300 >"$W/lt_seed.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 300); do grep -q '"ready"' "$W/lt_seed.log" && break; sleep 0.1; done
    s0=$(cpu_ticks "${PIDS[-1]}")
    r=$(measure "$W/lt.time" /usr/bin/python3 "$I/lt_peer.py" leech "$TORRENT" "$W/lt_dl" $lp \
        --peer 127.0.0.1:$sp --no-tracker --no-utp --enc "$enc" --timeout 300)
    echo "$r $(cpu_since "${PIDS[-1]}" "$s0")"
    kill "${PIDS[-1]}" 2>/dev/null; wait "${PIDS[-1]}" 2>/dev/null || true
    cmp -s "$DATA" "$W/lt_dl/$(basename "$DATA")" || die "libtorrent's copy differs ($enc)"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# The four configurations, interleaved within each run so load changes hit all alike.
NAMES=(shoal shoal-rc4 libtorrent libtorrent-rc4)
declare -A T C M S B
for r in $(seq "$RUNS"); do
    for name in "${NAMES[@]}"; do
        case $name in
            shoal) line=$(shoal_run disable) ;;
            shoal-rc4) line=$(shoal_run require) ;;
            libtorrent) line=$(lt_run plain) ;;
            libtorrent-rc4) line=$(lt_run require) ;;
        esac
        read -r t c m sc <<<"$line"
        T[$name]+="$t "; C[$name]+="$c "; M[$name]+="$m "; S[$name]+="$sc "
        B[$name]+="$(echo "$c + $sc" | bc) "
    done
    echo "run $r: $(for n in "${NAMES[@]}"; do printf '%s %s s  ' "$n" "$(echo ${T[$n]} | awk '{print $NF}')"; done)" >&2
done
med() { printf '%s\n' $1 | median; }
mibs() { echo "scale=1; $SIZE_MIB / $1" | bc; }
echo "load average before the last run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
printf '%-15s %8s %9s %10s %11s %11s\n' client seconds MiB/s "cpu s" "seed cpu s" "peak RSS"
for n in "${NAMES[@]}"; do
    t=$(med "${T[$n]}"); c=$(med "${C[$n]}"); m=$(med "${M[$n]}"); sc=$(med "${S[$n]}")
    printf '%-15s %8s %9s %10s %11s %9s MiB\n' "$n" "$t" "$(mibs "$t")" "$c" "$sc" "$((m / 1024))"
done
st=$(med "${T[shoal]}"); se=$(med "${T[shoal-rc4]}")
lt=$(med "${T[libtorrent]}"); le=$(med "${T[libtorrent-rc4]}")
sc=$(med "${C[shoal]}"); lc=$(med "${C[libtorrent]}"); sm=$(med "${M[shoal]}")
echo "throughput shoal/libtorrent, plaintext: $(echo "scale=2; $lt / $st" | bc)x   (target >= 3x)"
echo "throughput shoal/libtorrent, RC4: $(echo "scale=2; $le / $se" | bc)x   (target >= 2x)"
echo "shoal RC4/plaintext throughput: $(echo "scale=0; 100 * $st / $se" | bc) %   (target >= 60 %)"
echo "shoal RC4/plaintext, both ends' CPU seconds: $(echo "scale=0; 100 * $(med "${B[shoal]}") / $(med "${B[shoal-rc4]}")" | bc) %"
echo "leecher CPU shoal/libtorrent, plaintext: $(echo "scale=2; $sc / $lc" | bc)   (target <= 0.5)"
echo "leecher peak RSS shoal, plaintext: $((sm / 1024)) MiB   (target <= 24 MiB)"
