#!/usr/bin/python3
"""lt_dht_items.py --port P --bootstrap 127.0.0.1:Q --commands FILE: a
libtorrent DHT node on 127.0.0.1, bootstrapped only from the given (shoal)
nodes, that runs BEP 44 operations read from FILE (one per line, fields
separated by tabs, appended by the test while this runs) and prints one
JSON line per result on stdout, after {"event": "ready"}:

  put-immutable TEXT              -> {"target": hex, "nodes": n}
  get-immutable TARGET_HEX        -> {"value": text}
  put-mutable SEED_HEX SALT TEXT  -> {"public_key": hex, "seq": n, "nodes": n}
  get-mutable PUBKEY_HEX SALT     -> {"value": text, "seq": n, "signature": hex}

One long-lived node: a node that leaves stays in the others' tables for a
while, and libtorrent's bootstrap would wait out its timeouts. Values are
byte strings (the binding bencodes TEXT as one). The mutable key is the
32-byte ed25519 seed of a shoal key file: libtorrent wants the 64-byte
expanded secret (SHA-512 of the seed, clamped) and the public key, which
python3-cryptography derives from the seed."""
import argparse
import binascii
import hashlib
import json
import os
import signal
import sys
import time

import libtorrent as lt

T0 = time.monotonic()


def endpoint(s):
    host, _ = s.rsplit(":", 1)
    if not host.startswith("127."):
        raise argparse.ArgumentTypeError("loopback only: %s" % s)
    return s


def keypair(seed):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    expanded = bytearray(hashlib.sha512(seed).digest())
    expanded[0] &= 248
    expanded[31] &= 63
    expanded[31] |= 64
    return bytes(expanded), public


def text(v):
    if isinstance(v, dict) and "value" in v:
        v = v["value"]
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def say(obj):
    print(json.dumps(obj), flush=True)


def wait_for(ses, kind, pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ses.wait_for_alert(200)
        for a in ses.pop_alerts():
            print("%.2f %s: %s" % (time.monotonic() - T0, type(a).__name__, a.message()),
                  file=sys.stderr, flush=True)
            if isinstance(a, kind) and pred(a):
                return a
    return None


def run(ses, fields, timeout):
    action, args = fields[0], fields[1:]
    if action == "put-immutable":
        target = ses.dht_put_immutable_item(args[0])
        put = wait_for(ses, lt.dht_put_alert, lambda p: str(p.target) == str(target), timeout)
        return put and {"target": str(target), "nodes": put.num_success}
    if action == "get-immutable":
        ses.dht_get_immutable_item(lt.sha1_hash(binascii.unhexlify(args[0])))
        got = wait_for(ses, lt.dht_immutable_item_alert, lambda _: True, timeout)
        return got and {"value": text(got.item)}
    if action == "put-mutable":
        secret, public = keypair(binascii.unhexlify(args[0]))
        ses.dht_put_mutable_item(secret, public, args[2], args[1])
        put = wait_for(ses, lt.dht_put_alert, lambda _: True, timeout)
        return put and {"public_key": binascii.hexlify(public).decode(),
                        "seq": put.seq, "nodes": put.num_success}
    if action == "get-mutable":
        ses.dht_get_mutable_item(binascii.unhexlify(args[0]), args[1])
        got = wait_for(ses, lt.dht_mutable_item_alert, lambda g: g.authoritative, timeout)
        return got and {"value": text(got.item), "seq": got.seq,
                        "signature": binascii.hexlify(bytes(got.signature)).decode()}
    return {"error": "unknown action %s" % action}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--bootstrap", type=endpoint, action="append", required=True)
    ap.add_argument("--commands", required=True)
    ap.add_argument("--timeout", type=float, default=120, help="whole run")
    a = ap.parse_args()
    signal.alarm(int(a.timeout))
    ses = lt.session({
        "listen_interfaces": "127.0.0.1:%d" % a.port,
        "outgoing_interfaces": "127.0.0.1",
        "listen_system_port_fallback": False,
        "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
        "enable_dht": True,
        "dht_bootstrap_nodes": ",".join(a.bootstrap),
        "dht_restrict_routing_ips": False, "dht_restrict_search_ips": False,
        # Every node is 127.0.0.1: libtorrent would take their packets for
        # one host flooding it (over 5 a second) and ignore it for minutes.
        "dht_block_ratelimit": 1000000,
        "alert_mask": int(lt.alert.category_t.dht_notification
                          | lt.alert.category_t.error_notification),
    })
    if wait_for(ses, lt.dht_bootstrap_alert, lambda _: True, 30) is None:
        say({"error": "no DHT bootstrap"})
        return
    say({"event": "ready"})
    done = 0
    while True:
        try:
            with open(a.commands) as f:
                lines = f.read().split("\n")[:-1]
        except FileNotFoundError:
            lines = []
        for line in lines[done:]:
            done += 1
            fields = line.split("\t")
            if fields[0] == "quit":
                return
            result = run(ses, fields, 30) or {"error": "timed out: %s" % fields[0]}
            result["event"] = "result"
            result["n"] = done
            say(result)
        ses.wait_for_alert(50)
        ses.pop_alerts()


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    # Tearing the session down waits on DHT timeouts for nothing we need.
    os._exit(0)
