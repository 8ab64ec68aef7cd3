#!/usr/bin/env python3
"""bench/seedbox_tracker.py - tracker traffic of many idle seeding torrents
(issue 21, item 3), behind bench/seedbox_tracker.sh.

Usage: seedbox_tracker.py N SHOAL_BIN WORKDIR [CLIENTS]
  N          number of complete 64 KiB torrents (bench/seedbox.py's)
  SHOAL_BIN  the shoal binary (daemon)
  WORKDIR    scratch directory (emptied first)
  CLIENTS    comma-separated subset of shoal,transmission,qbittorrent
             (default: all that are installed)

The daemons are bench/seedbox.py's (same settings, same torrents: this file
imports it); the tracker is a counting one in this process on 127.0.0.1
(HTTP, interval 120 s, every request logged with its arrival time, scrapes
answered for every hash asked). Per client:
  start     announces in the busiest second after adding all (the target is
            at most N/60, or the pace's floor for small N), and how long the
            `started` announces took to spread
  steady    announces, scrape requests and scraped hashes in STEADY_S (180 s)
            of seeding with no peers
  stop      `stopped` announces sent by a graceful stop, and the stop's time
  restart   requests from the restart to RESTART_S (60 s) after every
            torrent seeds again: `started`, regular, total, busiest second
"""
import http.server
import os
import shutil
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seedbox  # noqa: E402  (bench/seedbox.py: torrents and daemons)

STEADY_S = int(os.environ.get("STEADY_S", "180"))
RESTART_S = int(os.environ.get("RESTART_S", "60"))
INTERVAL = 120


class Log:
    """Every request the tracker got: (monotonic time, kind, event, hashes)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = []

    def add(self, kind, event, hashes):
        with self.lock:
            self.seen.append((time.monotonic(), kind, event, hashes))

    def since(self, t0, t1=None):
        with self.lock:
            return [s for s in self.seen if s[0] >= t0 and (t1 is None or s[0] < t1)]


def tracker(log):
    """Starts the counting tracker; returns its port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            path, _, query = self.path.partition("?")
            pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, encoding="latin-1")
            hashes = [v.encode("latin-1") for k, v in pairs if k == "info_hash"]
            event = next((v for k, v in pairs if k == "event"), "")
            if path.endswith("/scrape"):
                log.add("scrape", "", len(hashes))
                files = {h: {"complete": 1, "incomplete": 0, "downloaded": 0} for h in hashes}
                body = seedbox.bencode({"files": files})
            else:
                log.add("announce", event, len(hashes))
                body = seedbox.bencode({"interval": INTERVAL, "peers": b""})
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A client giving up on a request (a `stopped` past its budget) is normal.
    server.handle_error = lambda *args: None
    server.daemon_threads = True
    server.request_queue_size = 1024
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def busiest_second(times):
    """The most of `times` in any window [t, t + 1 s)."""
    times = sorted(times)
    most, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] < t - 1.0:
            lo += 1
        most = max(most, hi - lo + 1)
    return most


def measure(client, torrents, data_dir, log):
    fig = {}
    n = len(torrents)
    client.start()
    seedbox.wait_until(client.name + " RPC", lambda: client.rpc.full_list() == 0, limit=60)
    t_add = time.monotonic()
    for _, meta in torrents:
        client.rpc.add(meta, data_dir)
    seedbox.wait_until(client.name + " seeding", lambda: client.rpc.all_seeding(n), step=0.5)
    # Every torrent's first announce (or 10 minutes).
    seedbox.wait_until(client.name + " started",
                       lambda: len([s for s in log.since(t_add) if s[1] == "announce"]) >= n,
                       limit=600, step=0.5)
    starts = [s[0] for s in log.since(t_add) if s[1] == "announce"]
    fig["start_busiest"] = busiest_second(starts)
    fig["start_spread"] = max(starts) - min(starts) if starts else 0.0

    t0 = time.monotonic()
    time.sleep(STEADY_S)
    steady = log.since(t0)
    fig["steady_announces"] = len([s for s in steady if s[1] == "announce"])
    fig["steady_scrapes"] = len([s for s in steady if s[1] == "scrape"])
    fig["steady_scraped"] = sum(s[3] for s in steady if s[1] == "scrape")

    t0 = time.monotonic()
    fig["stop"] = client.stop()
    fig["stop_stopped"] = len([s for s in log.since(t0) if s[2] == "stopped"])

    t0 = client.start()
    seedbox.wait_until(client.name + " restart", lambda: client.rpc.all_seeding(n), step=0.2)
    time.sleep(RESTART_S)
    around = log.since(t0)
    announces = [s for s in around if s[1] == "announce"]
    fig["restart_started"] = len([s for s in announces if s[2] == "started"])
    fig["restart_regular"] = len([s for s in announces if s[2] == ""])
    fig["restart_total"] = len(around) + fig["stop_stopped"]
    fig["restart_busiest"] = busiest_second([s[0] for s in announces])
    client.stop()
    return fig


ROWS = [
    ("start_busiest", "announces in the busiest second after adding all"),
    ("start_spread", "first -> last start announce (s)"),
    ("steady_announces", "announces in STEADY_S of seeding"),
    ("steady_scrapes", "scrape requests in STEADY_S of seeding"),
    ("steady_scraped", "hashes scraped in STEADY_S of seeding"),
    ("stop", "graceful stop (s)"),
    ("stop_stopped", "`stopped` sent by the stop"),
    ("restart_started", "`started` after the restart"),
    ("restart_regular", "regular announces after the restart"),
    ("restart_total", "requests around the restart (stop + start)"),
    ("restart_busiest", "announces in the busiest second after the restart"),
]


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    n, shoal_bin, work = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    installed = ["shoal"] + [c for c, b in (("transmission", "transmission-daemon"),
                                            ("qbittorrent", "qbittorrent-nox")) if shutil.which(b)]
    wanted = sys.argv[4].split(",") if len(sys.argv) > 4 and sys.argv[4] else installed
    clients = [c for c in wanted if c in installed]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    log = Log()
    port = tracker(log)
    torrents = seedbox.make_torrents(n, work, "http://127.0.0.1:%d/announce" % port)
    data_dir = os.path.join(work, "data")
    results = {}
    for name in clients:
        print("seedbox_tracker: %s with %d torrents ..." % (name, n), flush=True)
        c = seedbox.Client(name, work, shoal_bin)
        try:
            results[name] = measure(c, torrents, data_dir, log)
        finally:
            if c.proc and c.proc.poll() is None:
                c.proc.kill()
                c.proc.wait()
        print("seedbox_tracker: %s: %s" % (name, results[name]), flush=True)
    print()
    print("N = %d, tracker interval %d s, STEADY_S = %d, N/60 = %.1f"
          % (n, INTERVAL, STEADY_S, n / 60.0))
    print("| figure | " + " | ".join(clients) + " |")
    print("|---|" + "---|" * len(clients))
    for key, label in ROWS:
        cells = []
        for c in clients:
            v = results[c].get(key)
            cells.append("%.1f" % v if isinstance(v, float) else str(v))
        print("| %s | %s |" % (label, " | ".join(cells)))


if __name__ == "__main__":
    main()
