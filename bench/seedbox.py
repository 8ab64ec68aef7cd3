#!/usr/bin/env python3
"""bench/seedbox.py - the seedbox measurement behind bench/seedbox.sh (issue 21).

Usage: seedbox.py N SHOAL_BIN WORKDIR [CLIENTS]
  N          number of complete 64 KiB torrents (one file each, 16 KiB pieces);
             PIECES=K (default 4) makes each K pieces long instead, as
             sparse files of zeros: real torrents have thousands of pieces,
             and what their hashes cost is then part of the RSS figure
  SHOAL_BIN  the shoal binary (tracker and daemon)
  WORKDIR    scratch directory (emptied first)
  CLIENTS    comma-separated subset of shoal,transmission,qbittorrent
             (default: all that are installed)

Everything runs on 127.0.0.1: one `shoal tracker` (HTTP, interval 120 s) that
every torrent announces to, and each daemon in turn with DHT, LSD, PEX and
port mapping off. Each daemon gets the same torrents and the same data folder
through its own RPC, and the same figures are taken:
  add      first add -> every torrent seeding (s); ADD_JOBS (default 1)
           clients add at once, as a tool adding a folder of .torrent
           files in parallel would
  cpu      idle CPU % over IDLE_S seconds (utime + stime of the process);
           the default 300 s spans two tracker intervals, so the announces
           (N per 120 s, most of an idle seedbox's work) weigh as they do
           in steady state: a 60 s window right after the adds falls
           mostly between the `started` wave and the first regular one
  announces the tracker's announces a second over the same window (the
           CPU figure is mostly theirs: compare clients per announce)
  rss      RSS after the idle window (MB)
  list     full-list latency, median of 15 calls (ms): Transmission
           torrent-get id,name,percentDone,rateDownload,rateUpload,status;
           qBittorrent torrents/info
  recent   Transmission `torrent-get ids=recently-active` with the same
           fields, median of 15 calls (ms; Transmission RPC clients only)
  qbt_list shoal's qBittorrent `torrents/info` (all ~60 fields of every
           torrent), median of 15 calls (ms; qBittorrent's own is `list`)
  stop     SIGTERM -> process gone (s)
  restart  process start -> every torrent seeding again (s); printed below
           the table: the threads and RSS then, and the RSS again
           RESTART_SETTLE_S (default 30) seconds later
"Seeding" is the client's own status; for shoal also every torrent in its
session (metric shoal_session_torrents), since a start shows as seeding
while resume data may still be loading.
Then a table with the ratios shoal/other. The tracker traffic of the same
daemons and torrents is bench/seedbox_tracker.sh's.
"""
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

IDLE_S = int(os.environ.get("IDLE_S", "300"))
SETTLE_S = int(os.environ.get("SETTLE_S", "10"))
RESTART_SETTLE_S = int(os.environ.get("RESTART_SETTLE_S", "30"))
PIECE = 16 * 1024
PIECES = max(1, int(os.environ.get("PIECES", "4")))
SIZE = PIECES * PIECE
TRACKER_INTERVAL = 120
DEADLINE_S = int(os.environ.get("DEADLINE_S", "1800"))
ADD_JOBS = max(1, int(os.environ.get("ADD_JOBS", "1")))

FIGURES = [
    ("add", "add all -> all seeding", "s"),
    ("cpu", "idle CPU while seeding, no peers", "%"),
    ("announces", "announces in that window", "/s"),
    ("rss", "RSS settled", "MB"),
    ("list", "full list", "ms"),
    ("recent", "torrent-get ids=recently-active", "ms"),
    ("qbt_list", "qBittorrent torrents/info (shoal's; qBittorrent's is the full list)", "ms"),
    ("stop", "graceful stop", "s"),
    ("restart", "restart -> all seeding", "s"),
]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, x) for k, x in v.items())
        return b"d" + b"".join(bencode(k) + bencode(x) for k, x in items) + b"e"
    raise TypeError(type(v))


def make_torrents(n, work, announce):
    """N files of SIZE bytes (distinct content; sparse zeros when PIECES is
    set) in work/data, their .torrents in work/torrents; returns the list of
    (name, metainfo bytes)."""
    data, tdir = os.path.join(work, "data"), os.path.join(work, "torrents")
    os.makedirs(data)
    os.makedirs(tdir)
    out = []
    zero_hash = hashlib.sha1(bytes(PIECE)).digest()
    for i in range(n):
        name = "seed-%05d.bin" % i
        if "PIECES" in os.environ:
            # The names make the info-hashes distinct; the disk holds nothing.
            with open(os.path.join(data, name), "wb") as f:
                f.truncate(SIZE)
            pieces = zero_hash * PIECES
        else:
            pieces = write_content(data, name, i)
        meta = bencode({
            "announce": announce,
            "info": {"name": name, "length": SIZE, "piece length": PIECE, "pieces": pieces},
        })
        with open(os.path.join(tdir, name + ".torrent"), "wb") as f:
            f.write(meta)
        out.append((name, meta))
    return out


def write_content(data, name, i):
    """Writes torrent i's distinct content; returns its piece hashes."""
    block = hashlib.sha256(b"seedbox %d" % i).digest()
    content = (block * (SIZE // len(block)))[:SIZE]
    # Pieces differ from one another too.
    content = b"".join(
        hashlib.sha256(b"%d/%d" % (i, p)).digest() + content[p * PIECE + 32:(p + 1) * PIECE]
        for p in range(SIZE // PIECE)
    )
    with open(os.path.join(data, name), "wb") as f:
        f.write(content)
    return b"".join(hashlib.sha1(content[o:o + PIECE]).digest() for o in range(0, SIZE, PIECE))


def proc_cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def proc_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def ready(client, n):
    """Every torrent seeding, and for shoal in its session too."""
    if not client.rpc.all_seeding(n):
        return False
    return client.name != "shoal" or client.rpc.in_session(n)


def wait_until(what, check, limit=DEADLINE_S, step=0.2):
    start = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - start
        except (OSError, urllib.error.URLError, ValueError, KeyError):
            pass
        if time.monotonic() - start > limit:
            sys.exit("seedbox: timed out waiting for %s" % what)
        time.sleep(step)


class TransmissionRpc:
    """Transmission RPC (also served by shoal at /transmission/rpc)."""

    def __init__(self, port):
        self.url = "http://127.0.0.1:%d/transmission/rpc" % port
        self.sid = ""

    def call(self, method, args=None, timeout=120):
        body = json.dumps({"method": method, "arguments": args or {}}).encode()
        for _ in range(3):
            req = urllib.request.Request(self.url, data=body, method="POST")
            req.add_header("X-Transmission-Session-Id", self.sid)
            req.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(req, timeout=timeout) as r:
                    reply = json.loads(r.read())
            except urllib.error.HTTPError as e:
                if e.code == 409:
                    self.sid = e.headers.get("X-Transmission-Session-Id", "")
                    continue
                raise
            if reply.get("result") != "success":
                raise ValueError("%s: %s" % (method, reply.get("result")))
            return reply.get("arguments", {})
        raise ValueError("no session id")

    def add(self, meta, data_dir):
        self.call("torrent-add", {
            "metainfo": base64.b64encode(meta).decode(),
            "download-dir": data_dir,
        })

    def statuses(self):
        ts = self.call("torrent-get", {"fields": ["id", "status"]})["torrents"]
        return [t["status"] for t in ts]

    def all_seeding(self, n):
        s = self.statuses()
        return len(s) == n and all(x == 6 for x in s)

    def in_session(self, n):
        """shoal shows a start as seeding at once, while its resume data
        may still be loading: ready means in its session too (a metric)."""
        with urllib.request.urlopen(self.url.replace("/transmission/rpc", "/metrics"), timeout=30) as r:
            text = r.read().decode()
        line = next(l for l in text.splitlines() if l.startswith("shoal_session_torrents "))
        return int(line.split()[1]) == n

    def full_list(self):
        fields = ["id", "name", "percentDone", "rateDownload", "rateUpload", "status"]
        return len(self.call("torrent-get", {"fields": fields})["torrents"])


class QbitRpc:
    """qBittorrent Web API v2 (localhost auth bypassed in its config)."""

    def __init__(self, port):
        self.base = "http://127.0.0.1:%d/api/v2" % port

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=120) as r:
            return r.read()

    def add(self, meta, data_dir):
        boundary = "seedboxboundary"
        parts = [
            b"--%s\r\nContent-Disposition: form-data; name=\"savepath\"\r\n\r\n%s\r\n"
            % (boundary.encode(), data_dir.encode()),
            b"--%s\r\nContent-Disposition: form-data; name=\"torrents\"; filename=\"t.torrent\"\r\n"
            b"Content-Type: application/x-bittorrent\r\n\r\n" % boundary.encode() + meta + b"\r\n",
            b"--%s--\r\n" % boundary.encode(),
        ]
        req = urllib.request.Request(self.base + "/torrents/add", data=b"".join(parts), method="POST")
        req.add_header("Content-Type", "multipart/form-data; boundary=" + boundary)
        with urllib.request.urlopen(req, timeout=120) as r:
            r.read()

    def all_seeding(self, n):
        ts = json.loads(self.get("/torrents/info"))
        return len(ts) == n and all(t["state"] in ("uploading", "stalledUP") for t in ts)

    def full_list(self):
        return len(json.loads(self.get("/torrents/info")))


class Client:
    """One daemon under test: how to start it and talk to it."""

    def __init__(self, name, work, shoal_bin):
        self.name, self.shoal_bin = name, shoal_bin
        self.dir = os.path.join(work, name)
        self.rpc_port, self.peer_port = free_port(), free_port()
        self.proc = None
        os.makedirs(self.dir)
        if name == "transmission":
            settings = {
                "dht-enabled": False, "lpd-enabled": False, "pex-enabled": False,
                "port-forwarding-enabled": False, "utp-enabled": False,
                "rpc-bind-address": "127.0.0.1", "rpc-authentication-required": False,
                "rpc-whitelist": "127.0.0.1", "rpc-host-whitelist-enabled": False,
                "bind-address-ipv4": "127.0.0.1", "peer-port": self.peer_port,
                "rpc-port": self.rpc_port, "download-queue-enabled": False,
                "seed-queue-enabled": False, "queue-stalled-enabled": False,
                "ratio-limit-enabled": False, "idle-seeding-limit-enabled": False,
                "message-level": 1,
            }
            with open(os.path.join(self.dir, "settings.json"), "w") as f:
                json.dump(settings, f)
            self.rpc = TransmissionRpc(self.rpc_port)
        elif name == "qbittorrent":
            conf = os.path.join(self.dir, "qBittorrent", "config")
            os.makedirs(conf)
            with open(os.path.join(conf, "qBittorrent.conf"), "w") as f:
                f.write(
                    "[LegalNotice]\nAccepted=true\n\n"
                    "[BitTorrent]\nSession\\DHTEnabled=false\nSession\\LSDEnabled=false\n"
                    "Session\\PeXEnabled=false\nSession\\Port=%d\nSession\\Interface=lo\n"
                    "Session\\QueueingSystemEnabled=false\n\n"
                    "[Preferences]\nConnection\\UPnP=false\nWebUI\\Address=127.0.0.1\n"
                    "WebUI\\Port=%d\nWebUI\\LocalHostAuth=false\n"
                    "WebUI\\CSRFProtection=false\nWebUI\\HostHeaderValidation=false\n"
                    % (self.peer_port, self.rpc_port)
                )
            self.rpc = QbitRpc(self.rpc_port)
        else:
            self.rpc = TransmissionRpc(self.rpc_port)

    def start(self):
        log = open(os.path.join(self.dir, "log"), "ab")
        if self.name == "shoal":
            cmd = [self.shoal_bin, "daemon", "--state-dir", os.path.join(self.dir, "state"),
                   "--listen", "127.0.0.1:%d" % self.peer_port,
                   "--rpc", "127.0.0.1:%d" % self.rpc_port,
                   "--download-dir", os.path.join(os.path.dirname(self.dir), "data"),
                   "--no-dht", "--no-lsd", "--no-port-mapping"]
        elif self.name == "transmission":
            cmd = ["transmission-daemon", "-f", "-g", self.dir]
        else:
            cmd = ["qbittorrent-nox", "--profile=" + self.dir]
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
        return time.monotonic()

    def stop(self):
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=600)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return time.monotonic() - start


def recently_active(client, fig):
    """`torrent-get ids=recently-active` latency, for Transmission RPCs."""
    if not isinstance(client.rpc, TransmissionRpc):
        return
    fields = ["id", "name", "percentDone", "rateDownload", "rateUpload", "status"]
    times = []
    for _ in range(15):
        s = time.monotonic()
        client.rpc.call("torrent-get", {"ids": "recently-active", "fields": fields})
        times.append((time.monotonic() - s) * 1000)
    fig["recent"] = statistics.median(times)


def add_all(client, torrents, data_dir):
    """Adds every torrent through ADD_JOBS clients at once (threads, each
    with its own RPC session)."""
    if ADD_JOBS == 1:
        for _, meta in torrents:
            client.rpc.add(meta, data_dir)
        return
    rpc_class = type(client.rpc)
    errors = []

    def work(part):
        rpc = rpc_class(client.rpc_port)
        try:
            for _, meta in part:
                rpc.add(meta, data_dir)
        except Exception as e:  # reported below, after the other threads
            errors.append(e)

    threads = [threading.Thread(target=work, args=(torrents[i::ADD_JOBS],))
               for i in range(ADD_JOBS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def tracker_announces(port):
    """The announces the local tracker answered so far (its /metrics)."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("shoal_tracker_announces_total") and 'proto="http"' in line:
                return int(float(line.split()[-1]))
    return 0


def measure(client, torrents, data_dir, tracker_port):
    fig = {}
    n = len(torrents)
    client.start()
    wait_until(client.name + " RPC", lambda: client.rpc.full_list() == 0, limit=60)
    t0 = time.monotonic()
    add_all(client, torrents, data_dir)
    wait_until(client.name + " seeding", lambda: ready(client, n), step=0.5)
    fig["add"] = time.monotonic() - t0
    time.sleep(SETTLE_S)
    pid = client.proc.pid
    ticks0, w0 = proc_cpu_ticks(pid), time.monotonic()
    announces0 = tracker_announces(tracker_port)
    time.sleep(IDLE_S)
    ticks1, w1 = proc_cpu_ticks(pid), time.monotonic()
    fig["cpu"] = 100.0 * (ticks1 - ticks0) / os.sysconf("SC_CLK_TCK") / (w1 - w0)
    fig["announces"] = (tracker_announces(tracker_port) - announces0) / (w1 - w0)
    fig["rss"] = proc_rss_mb(pid)
    times = []
    for _ in range(15):
        s = time.monotonic()
        got = client.rpc.full_list()
        times.append((time.monotonic() - s) * 1000)
        assert got == n, "%s listed %d of %d" % (client.name, got, n)
    fig["list"] = statistics.median(times)
    recently_active(client, fig)
    if client.name == "shoal":
        qbt = QbitRpc(client.rpc_port)
        times = []
        for _ in range(15):
            s = time.monotonic()
            assert qbt.full_list() == n
            times.append((time.monotonic() - s) * 1000)
        fig["qbt_list"] = statistics.median(times)
    fig["stop"] = client.stop()
    t0 = client.start()
    wait_until(client.name + " restart", lambda: ready(client, n), step=0.2)
    fig["restart"] = time.monotonic() - t0
    fig["restart_rss"] = proc_rss_mb(client.proc.pid)
    fig["threads"] = len(os.listdir("/proc/%d/task" % client.proc.pid))
    # Allocators hand a burst's freed pages back after a while (jemalloc:
    # 10 s), and idle blocking threads exit after 10 s: what stays.
    time.sleep(RESTART_SETTLE_S)
    fig["restart_rss_settled"] = proc_rss_mb(client.proc.pid)
    client.stop()
    return fig


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    n, shoal_bin, work = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    installed = ["shoal"] + [c for c, b in (("transmission", "transmission-daemon"),
                                            ("qbittorrent", "qbittorrent-nox")) if shutil.which(b)]
    wanted = sys.argv[4].split(",") if len(sys.argv) > 4 and sys.argv[4] else installed
    clients = [c for c in wanted if c in installed]
    for c in wanted:
        if c not in installed:
            print("seedbox: %s is not installed, skipped" % c)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    tracker_port = free_port()
    tracker = subprocess.Popen(
        [shoal_bin, "tracker", "--http", "127.0.0.1:%d" % tracker_port, "--no-udp",
         "--interval", str(TRACKER_INTERVAL), "--log-level", "warn"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "tracker.log"), "wb"))
    try:
        torrents = make_torrents(n, work, "http://127.0.0.1:%d/announce" % tracker_port)
        data_dir = os.path.join(work, "data")
        results = {}
        for name in clients:
            print("seedbox: %s with %d torrents ..." % (name, n), flush=True)
            c = Client(name, work, shoal_bin)
            try:
                results[name] = measure(c, torrents, data_dir, tracker_port)
            finally:
                if c.proc and c.proc.poll() is None:
                    c.proc.kill()
                    c.proc.wait()
            print("seedbox: %s: %s" % (name, json.dumps(results[name])), flush=True)
    finally:
        tracker.send_signal(signal.SIGTERM)
        tracker.wait()
    print_table(n, results)


def print_table(n, results):
    names = list(results)
    others = [x for x in names if x != "shoal"]
    head = ["figure (N=%d)" % n] + names + ["shoal/%s" % o for o in others if "shoal" in results]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for key, label, unit in FIGURES:
        row = ["%s (%s)" % (label, unit)]
        for name in names:
            v = results[name].get(key)
            row.append("-" if v is None else "%.2f" % v)
        if "shoal" in results:
            for o in others:
                a, b = results["shoal"].get(key), results[o].get(key)
                row.append("%.2f" % (a / b) if a is not None and b else "-")
        print("| " + " | ".join(row) + " |")
    for name in names:
        r = results[name]
        print("%s after restart: %d threads, RSS %.1f MB, %.1f MB %d s later"
              % (name, r["threads"], r["restart_rss"], r["restart_rss_settled"], RESTART_SETTLE_S))


if __name__ == "__main__":
    main()
