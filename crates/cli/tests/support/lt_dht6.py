#!/usr/bin/python3
"""lt_dht6.py --port P --bootstrap [::1]:Q --info-hash HEX: a libtorrent DHT
node on [::1] only, bootstrapped only from the given (shoal) nodes over
IPv6. Once bootstrapped it looks the info-hash up and prints one JSON line
per event on stdout:

  {"event": "bootstrapped"}
  {"event": "peers", "peers": ["[::1]:port", ...]}   (each lookup's reply)
  {"event": "nodes", "nodes": n}                      (its routing table)

It repeats the lookup every second until a peer is found or --timeout
passes, then exits."""
import argparse
import json
import os
import signal
import sys
import time

import libtorrent as lt

T0 = time.monotonic()


def endpoint(s):
    host, _ = s.rsplit(":", 1)
    if host != "[::1]":
        raise argparse.ArgumentTypeError("[::1] only: %s" % s)
    return s


def say(obj):
    print(json.dumps(obj), flush=True)


def log(a):
    print("%.2f %s: %s" % (time.monotonic() - T0, type(a).__name__, a.message()),
          file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bootstrap", type=endpoint, action="append", required=True)
    ap.add_argument("--info-hash", required=True)
    ap.add_argument("--timeout", type=float, default=60, help="whole run")
    a = ap.parse_args()
    signal.alarm(int(a.timeout))
    ses = lt.session({
        "listen_interfaces": "[::1]:%d" % a.port,
        "outgoing_interfaces": "::1",
        "listen_system_port_fallback": False,
        "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_dht": True,
        "dht_bootstrap_nodes": ",".join(a.bootstrap),
        "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
        # Every node is ::1: without this libtorrent takes them for one
        # host flooding it and ignores it for minutes.
        "dht_block_ratelimit": 1000000,
        "alert_mask": int(lt.alert.category_t.dht_notification
                          | lt.alert.category_t.error_notification
                          | lt.alert.category_t.dht_operation_notification
                          | lt.alert.category_t.status_notification),
    })
    info_hash = lt.sha1_hash(bytes.fromhex(a.info_hash))
    bootstrapped = False
    next_lookup = 0.0
    while True:
        now = time.monotonic()
        if bootstrapped and now >= next_lookup:
            next_lookup = now + 1
            ses.dht_get_peers(info_hash)
            ses.post_dht_stats()
        ses.wait_for_alert(200)
        for al in ses.pop_alerts():
            log(al)
            if isinstance(al, lt.dht_bootstrap_alert) and not bootstrapped:
                bootstrapped = True
                say({"event": "bootstrapped"})
            elif isinstance(al, lt.dht_get_peers_reply_alert):
                peers = ["[%s]:%d" % p if ":" in p[0] else "%s:%d" % p for p in al.peers()]
                say({"event": "peers", "peers": peers})
                if peers:
                    return
            elif isinstance(al, lt.dht_stats_alert):
                nodes6 = sum(b["num_nodes"] for b in al.routing_table) if al.routing_table else 0
                say({"event": "nodes", "nodes": nodes6})


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    # Tearing the session down waits on DHT timeouts for nothing we need.
    os._exit(0)
