#!/usr/bin/env bash
# bench/create.sh - `shoal create` against mktorrent -t 2 and libtorrent on one
# 1 GiB file with a warm page cache, plus OpenSSL's two-core SHA-1 rate as the
# ceiling. Prints median seconds and ratios.
#
# Usage: bench/create.sh            (env: BENCH_DIR=/tmp/shoal-bench RUNS=7 SIZE_MIB=1024)
# Needs: cargo, openssl, mktorrent, /usr/bin/python3 with python3-libtorrent;
# uses hyperfine if installed (apt-get install -y hyperfine), else a bash loop.
# libtorrent runs through ../shared/interop/mktorrent.py, so its figures include
# Python start-up and `import libtorrent`; that overhead is printed separately.
# The machine has 2 cores shared with other work. As root, the timed commands
# (all tools alike, and openssl) run at real-time priority (`chrt -f 10`) so that
# background builds do not blur the figures; BENCH_RT=0 turns that off. The
# kernel still keeps 5 % of each second for others (sched_rt_runtime_us), so a
# run can lose up to ~50 ms: hence medians. The other-load line says how busy
# the machine was.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
[[ -d $SHARED/interop ]] || SHARED=/work/shared
BENCH_DIR=${BENCH_DIR:-/tmp/shoal-bench}
RUNS=${RUNS:-7}
SIZE_MIB=${SIZE_MIB:-1024}
PIECE=1048576
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
die() { echo "create.sh: error: $*" >&2; exit 1; }
RT=()
if [[ ${BENCH_RT:-1} == 1 && $EUID -eq 0 ]] && command -v chrt >/dev/null; then RT=(chrt -f 10); fi

mkdir -p "$BENCH_DIR/out"
DATA=$BENCH_DIR/data_$SIZE_MIB
if [[ ! -f $DATA || $(stat -c %s "$DATA") -ne $((SIZE_MIB * 1024 * 1024)) ]]; then
    echo "making $SIZE_MIB MiB of test data in $DATA ..."
    bash "$SHARED/interop/mkdata.sh" "$BENCH_DIR" "$SIZE_MIB" >/dev/null
fi
OUT=$BENCH_DIR/out
rm -f "$OUT"/*.cpu "$OUT"/*.json

echo "building (release) ..."
(cd "$ROOT" && cargo build --release -q -p shoal-cli) || die "build failed"
SHOAL="$CARGO_TARGET_DIR/release/shoal"
shoal_v1=("$SHOAL" create "$DATA" -o "$OUT/shoal_v1.torrent" --piece-size $PIECE --v1 --force)
shoal_hy=("$SHOAL" create "$DATA" -o "$OUT/shoal_hybrid.torrent" --piece-size $PIECE --hybrid --force)
WHAT="shoal create"
LT=(/usr/bin/python3 "$SHARED/interop/mktorrent.py" "$DATA")

cat "$DATA" >/dev/null   # warm the page cache
# Share of the CPUs others use right now: the figures are only fair near 0 %.
busy_pct() {
    local a b c d a2 b2 c2 d2 busy idle
    read -r _ a b c d _ </proc/stat; sleep 2; read -r _ a2 b2 c2 d2 _ </proc/stat
    busy=$(( a2 + b2 + c2 - a - b - c )); idle=$(( d2 - d ))
    echo $(( 100 * busy / (busy + idle + 1) ))
}
echo "other load: $(busy_pct) % of $(nproc) cores busy before the runs; load average $(uptime | sed 's/.*load average: //'); runs: $RUNS; priority: ${RT[*]:-normal}"

# time_median NAME CMD... : median wall seconds of RUNS runs (after one warm-up).
time_median() {
    local name=$1; shift
    if command -v hyperfine >/dev/null; then
        "${RT[@]}" hyperfine -N -w 1 -r "$RUNS" --export-json "$OUT/$name.json" -- "$(printf '%q ' "$@")" >/dev/null 2>&1 \
            || die "$name failed: $*"
        python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$OUT/$name.json"
        python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))["results"][0]; print("%.2f" % (r["user"] + r["system"]))' \
            "$OUT/$name.json" >"$OUT/$name.cpu"
    else
        "$@" >/dev/null 2>&1 || die "$name failed: $*"
        local times=() i t0
        for ((i = 0; i < RUNS; i++)); do
            t0=$(date +%s.%N); "${RT[@]}" "$@" >/dev/null 2>&1; times+=("$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')")
        done
        printf '%s\n' "${times[@]}" | sort -g | sed -n "$(( (RUNS + 1) / 2 ))p" | xargs printf '%.3f\n'
    fi
}

# OpenSSL: bytes/s of two processes hashing 1 MiB buffers -> seconds per SIZE.
ossl_rate=$("${RT[@]}" openssl speed -seconds 3 -bytes $PIECE -multi 2 -evp sha1 2>/dev/null | awk '/^sha1 /{sub("k","",$2); print $2 * 1000}')
[[ -n $ossl_rate ]] || die "could not parse openssl speed output"
ceiling=$(python3 -c "print('%.3f' % ($SIZE_MIB * 1048576 / $ossl_rate))")

t_v1=$(time_median shoal_v1 "${shoal_v1[@]}")
t_hy=$(time_median shoal_hybrid "${shoal_hy[@]}")
t_mk=$(time_median mktorrent /bin/sh -c "rm -f '$OUT/mk.torrent'; exec mktorrent -t 2 -l 20 -o '$OUT/mk.torrent' '$DATA'")
t_lt1=$(time_median lt_v1 "${LT[@]}" "$OUT/lt_v1.torrent" --piece-kib 1024 --format v1)
t_lth=$(time_median lt_hybrid "${LT[@]}" "$OUT/lt_hybrid.torrent" --piece-kib 1024 --format hybrid)
t_py=$(time_median lt_import /usr/bin/python3 -c "import libtorrent")

# cpu NAME: mean CPU seconds (user + system) per run, if hyperfine measured it.
cpu() { if [[ -f $OUT/$1.cpu ]]; then echo "cpu $(cat "$OUT/$1.cpu") s"; fi; }
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
echo
echo "$SIZE_MIB MiB, 1 MiB pieces, warm cache; median seconds of $RUNS runs"
printf '  %-44s %7s s\n' "openssl sha1 -multi 2 (ceiling)" "$ceiling"
printf '  %-44s %7s s   %s\n' "$WHAT v1" "$t_v1" "$(cpu shoal_v1)"
printf '  %-44s %7s s   %s\n' "$WHAT hybrid" "$t_hy" "$(cpu shoal_hybrid)"
printf '  %-44s %7s s   %s\n' "mktorrent -t 2 -l 20" "$t_mk" "$(cpu mktorrent)"
printf '  %-44s %7s s   %s\n' "libtorrent v1 (mktorrent.py)" "$t_lt1" "$(cpu lt_v1)"
printf '  %-44s %7s s   %s\n' "libtorrent hybrid (mktorrent.py)" "$t_lth" "$(cpu lt_hybrid)"
printf '  %-44s %7s s\n' "  of which python + import libtorrent" "$t_py"
echo
echo "  shoal v1 / mktorrent -t 2:           $(ratio "$t_v1" "$t_mk")  (< 1 is faster)"
echo "  shoal v1 / libtorrent v1:            $(ratio "$t_v1" "$t_lt1")"
echo "  shoal hybrid / libtorrent hybrid:    $(ratio "$t_hy" "$t_lth")  (target <= 0.50)"
echo "  shoal v1, fraction of 2-core SHA-1:  $(ratio "$ceiling" "$t_v1")  (target >= 0.90)"
