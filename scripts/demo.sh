#!/usr/bin/env bash
# The README's "run it" command: builds shoal, generates content, and shows
# create / info / verify end to end, including a verify that catches damage.
# Needs only a Rust toolchain and openssl (for the content generator).
set -euo pipefail
cd "$(dirname "$0")/.."
INTEROP=../shared/interop
WORK=${DEMO_DIR:-$(mktemp -d /tmp/shoal-demo.XXXXXX)}

cargo build --release -q -p shoal-cli
SHOAL=$PWD/target/release/shoal

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "making 64 MiB of test content in 6 files under $WORK/data"
if [[ -x $INTEROP/mkdata.sh ]]; then
    CONTENT=$("$INTEROP/mkdata.sh" "$WORK/data" 64 6 demo demo 2>/dev/null | tail -1)
else
    CONTENT=$WORK/data/demo
    mkdir -p "$CONTENT/sub"
    for i in 0 1 2 3 4 5; do
        head -c $((10 * 1024 * 1024 + i * 12345)) /dev/urandom > "$CONTENT/$([[ $i == 2 ]] && echo sub/)file$i.bin"
    done
fi

step "shoal create (v1, then hybrid)"
"$SHOAL" create "$CONTENT" -o "$WORK/demo.torrent" --force \
    --tracker http://127.0.0.1:6969/announce --comment "shoal demo"
"$SHOAL" create "$CONTENT" -o "$WORK/demo-hybrid.torrent" --hybrid --force

step "shoal info"
"$SHOAL" info "$WORK/demo-hybrid.torrent"

step "shoal info --json (magnet link)"
"$SHOAL" info --json "$("$SHOAL" info --json "$WORK/demo.torrent" | sed -n 's/.*"magnet": "\(.*\)".*/\1/p')"

step "shoal verify: the data is intact"
"$SHOAL" verify "$WORK/demo.torrent" "$WORK/data"

step "shoal verify: after flipping one byte (exit status 1 expected)"
FIRST=$(find "$CONTENT" -type f | sort | head -1)
printf '\xff' | dd of="$FIRST" bs=1 seek=4096 conv=notrunc status=none
if "$SHOAL" verify "$WORK/demo.torrent" "$WORK/data"; then
    echo "verify missed the damage" >&2
    exit 1
fi
echo "damage found, as it should be. Files are in $WORK"
