#!/usr/bin/env bash
# uTP on a shaped link (network namespaces, tc tbf 50 Mbit/s; needs root),
# repeated: the share uTP keeps against a CUBIC flow that starts while it
# runs and against one already running, and the queue. RUNS times (default
# 5), one line per case and run. LEDBAT's target is <= 20 % of the link
# against TCP; see crates/cli/tests/utp_link.rs for how it is measured.
set -euo pipefail
cd "$(dirname "$0")/.."
for ((i = 1; i <= ${RUNS:-5}; i++)); do
    cargo test -q -p shoal-cli --test utp_link utp_yields_to_a_tcp_flow \
        -- --nocapture --test-threads 1 2>&1 |
        grep -E "^uTP |^before TCP|panicked|test result" || true
done
