#!/usr/bin/env bash
# fuzz/run.sh [SECONDS [TARGET...]] - build the cargo-fuzz targets, then run each
# (default: all) for SECONDS (default 180), one after the other, on one core, and
# print a table of executions, executions per second and crashes per target.
#
#   cargo install cargo-fuzz          # once
#   fuzz/run.sh 180                   # from anywhere in the repository
#   fuzz/run.sh 20 engine dht_seq     # a smoke run of two targets
#
# Each target's libFuzzer output goes to fuzz/logs/TARGET.log.
#
# Targets are built without AddressSanitizer (`-s none`): the fuzzed crates have
# no unsafe code, and ASan made runs 3-4x slower (metainfo: 750 -> 9,600 execs/s
# with the other changes of that commit). Debug assertions are on (`-a`), so an
# arithmetic overflow is a crash, as in a debug build.
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 (set below) lets a stable rustc
# accept them. One target by hand:
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -a metainfo fuzz/corpus/metainfo -- -max_total_time=180
# Corpora (fuzz/corpus/TARGET, not committed) are seeded from the hostile .torrent
# corpus, small torrents made by ../shared/interop (if python3-libtorrent is there)
# and a few magnet links. A crash is saved under fuzz/artifacts/TARGET/; replay it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -s none -a TARGET fuzz/artifacts/TARGET/crash-...
# then keep it as a regression test (crates/metainfo/tests/data/hostile/ or the
# bencode tests). Exit status: 0 if no target crashed.
set -euo pipefail

SECS=${1:-180}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export RUSTC_BOOTSTRAP=1
INTEROP=${INTEROP:-$ROOT/../shared/interop}
HOSTILE=crates/metainfo/tests/data/hostile

seed_torrents() {
    local out=fuzz/corpus/torrents tmp
    [[ -d $out ]] && return 0
    mkdir -p "$out"
    cp "$HOSTILE"/*.torrent "$out"/
    if [[ -x $INTEROP/mkdata.sh && -x /usr/bin/python3 ]] &&
        /usr/bin/python3 -c 'import libtorrent' 2>/dev/null; then
        tmp=$(mktemp -d)
        "$INTEROP/mkdata.sh" "$tmp/src" 40000B 1 fuzz one >/dev/null 2>&1
        "$INTEROP/mkdata.sh" "$tmp/src" 70000B 4 fuzz multi >/dev/null 2>&1
        for content in one multi; do
            for format in v1 v2 hybrid; do
                /usr/bin/python3 "$INTEROP/mktorrent.py" "$tmp/src/$content" \
                    "$out/lt_${content}_$format.torrent" --format "$format" --piece-kib 16 \
                    --tracker http://127.0.0.1:1/announce |
                    sed -n 's/^magnet //p' >>"$tmp/magnets"
            done
        done
        mkdir -p fuzz/corpus/magnet
        split -l 1 "$tmp/magnets" fuzz/corpus/magnet/lt_
        rm -rf "$tmp"
    fi
}

seed_magnets() {
    local dir=fuzz/corpus/magnet h=c12fe1c06bba254a9dc9f519b335aa7c1367a88a
    mkdir -p "$dir"
    printf '%s' "magnet:?xt=urn:btih:$h&dn=Some+Name%21&tr=udp%3A%2F%2Ft%3A1&ws=http://w/f&x.pe=127.0.0.1:6881&so=0,2-4" >"$dir/seed_v1"
    printf '%s' "magnet:?xt=urn:btih:YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK&xt=urn:btmh:1220$(printf 'ab%.0s' {1..32})" >"$dir/seed_hybrid"
    printf '%s' "magnet:?xt=urn:btmh:1220$(printf '0f%.0s' {1..32})&dn=..%2F..%2Fx" >"$dir/seed_v2"
}

seed_torrents
seed_magnets
FUZZ_FLAGS=(-s none -a)
cargo fuzz build "${FUZZ_FLAGS[@]}"

declare -A DICT=([bencode]=bencode [metainfo]=bencode [magnet]=magnet [krpc]=bencode
    [dht_seq]=bencode [ut_metadata]=bencode [ut_pex]=bencode [ext_handshake]=bencode
    [resume]=bencode [tracker_http]=bencode)
declare -A SEEDS=([bencode]=fuzz/corpus/torrents [metainfo]=fuzz/corpus/torrents)
# Input size caps. The seeds include a 41 KB torrent, and libFuzzer's default
# cap is the largest seed: every byte of input costs a traced comparison or
# more, so metainfo and bencode ran 2-3x slower on inputs that exercise
# nothing a few KB do not (bencode: 4200 passes its tight 4096-byte input
# limit; the big hostile torrents are regression tests of their own).
declare -A MAX_LEN=([bencode]=4200 [metainfo]=4096 [krpc]=1600 [mse]=2400)
targets=("${@:2}")
((${#targets[@]})) || mapfile -t targets < <(cargo fuzz list)
mkdir -p fuzz/logs
failed=()
rows=()
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    before=$(find "fuzz/artifacts/$target" -type f | wc -l)
    args=(-max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
    [[ -n ${DICT[$target]:-} ]] && args+=(-dict="fuzz/dicts/${DICT[$target]}.dict")
    [[ -n ${MAX_LEN[$target]:-} ]] && args+=(-max_len="${MAX_LEN[$target]}")
    echo "== $target: $SECS s" >&2
    log=fuzz/logs/$target.log
    # shellcheck disable=SC2086 # SEEDS holds at most one path
    if ! cargo fuzz run "${FUZZ_FLAGS[@]}" "$target" "fuzz/corpus/$target" ${SEEDS[$target]:-} -- "${args[@]}" \
        >"$log" 2>&1; then
        failed+=("$target")
        tail -n 30 "$log" >&2
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    crashes=$(($(find "fuzz/artifacts/$target" -type f | wc -l) - before))
    rows+=("$(printf '%-16s %14s %10s %8s' "$target" "${execs:-?}" "${rate:-?}" "$crashes")")
done
printf '%-16s %14s %10s %8s\n' target execs execs/s crashes
printf '%s\n' "${rows[@]}"
if ((${#failed[@]})); then
    echo "crashed: ${failed[*]} (see fuzz/artifacts/ and fuzz/logs/)" >&2
    exit 1
fi
echo "all targets ran $SECS s without a crash" >&2
