#!/usr/bin/env bash
# uTP on a shaped link (network namespaces, tc tbf 50 Mbit/s; needs root):
# the share uTP keeps against a TCP flow that starts while it runs, and the
# queue it adds. Repeats RUNS times (default 3) and prints each run's line.
# LEDBAT's target is <= 20 % of the link against TCP with the queue near
# 100 ms; see crates/cli/tests/utp_link.rs for how it is measured.
set -euo pipefail
cd "$(dirname "$0")/.."
for ((i = 1; i <= ${RUNS:-3}; i++)); do
    cargo test -q -p shoal-cli --test utp_link utp_yields_to_a_tcp_flow_on_the_shaped_link \
        -- --ignored --nocapture 2>&1 | grep -E "^uTP against TCP|panicked|test result" || true
done
