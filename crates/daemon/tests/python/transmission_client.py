"""Drives a shoal daemon through the `transmission-rpc` Python library (as
scripts and tools built on it do), and applies Sonarr's version check; renames files and edits trackers.

Usage: transmission_client.py HOST PORT TORRENT_A TORRENT_B DOWNLOAD_DIR
Prints OK and exits 0 when every check passes; an assertion fails otherwise.
"""

import re
import sys

from transmission_rpc import Client

host, port, torrent_a, torrent_b, download_dir = sys.argv[1:6]

client = Client(host=host, port=int(port), timeout=20)

# Sonarr/Radarr read the first run of digits and dots not next to a
# parenthesis ((?<!\(|(\d|\.)+)(\d|\.)+(?!\)|(\d|\.)+) in .NET; the same
# with one-character lookarounds here) and require 2.40 or higher.
session = client.get_session()
found = re.search(r"(?<![(\d.])[\d.]+(?![)\d.])", session.version)
assert found, session.version
parts = [int(p) for p in found.group(0).split(".")]
assert 2 <= len(parts) <= 4 and (parts[0], parts[1]) >= (2, 40), session.version
assert client.get_session().rpc_version >= 15

with open(torrent_a, "rb") as f:
    a = client.add_torrent(f, paused=True, labels=["tv"], download_dir=download_dir)
with open(torrent_b, "rb") as f:
    b = client.add_torrent(f.read(), paused=True)

t = client.get_torrent(a.id)
assert t.labels == ["tv"], t.labels
assert t.status == "stopped", t.status
assert t.download_dir == download_dir, t.download_dir

# A start shows at once; a stop too.
client.start_torrent(a.id)
assert client.get_torrent(a.id, arguments=["id", "status"]).status != "stopped"
client.stop_torrent(a.id)
assert client.get_torrent(a.id, arguments=["id", "status"]).status == "stopped"

client.change_torrent(a.id, labels=["movies", "hd"], seed_ratio_limit=1.5, seed_ratio_mode=1)
t = client.get_torrent(a.id)
assert t.labels == ["movies", "hd"], t.labels
assert t.seed_ratio_limit == 1.5 and t.seed_ratio_mode.value == 1

# Renames (nothing on disk yet: only the torrent's paths change).
assert client.rename_torrent_path(a.id, "py-a/f0.bin", "zero.bin") == ("py-a/f0.bin", "zero.bin")
assert client.rename_torrent_path(a.id, "py-a", "py-renamed") == ("py-a", "py-renamed")
t = client.get_torrent(a.id)
assert sorted(f.name for f in t.get_files()) == ["py-renamed/f1.bin", "py-renamed/zero.bin"], t.get_files()
assert t.name == "py-renamed", t.name
for bad in ("f1.bin", "..", "x/y"):
    try:
        client.rename_torrent_path(a.id, "py-renamed/zero.bin", bad)
    except Exception:
        pass
    else:
        raise AssertionError("rename to " + bad + " was accepted")

# Tracker edits: 3.x's add/replace/remove and 4.x's whole list.
client.change_torrent(a.id, tracker_add=["http://127.0.0.1:9/announce"])
client.change_torrent(a.id, tracker_replace=[(0, "udp://127.0.0.1:9/announce")])
assert [x.announce for x in client.get_torrent(a.id).trackers] == ["udp://127.0.0.1:9/announce"]
client.change_torrent(a.id, tracker_list=[["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"], ["http://127.0.0.1:9/c"]])
t = client.get_torrent(a.id)
assert [(x.announce, x.tier) for x in t.trackers] == [
    ("http://127.0.0.1:9/a", 0), ("http://127.0.0.1:9/b", 0), ("http://127.0.0.1:9/c", 1)
], t.trackers
client.change_torrent(a.id, tracker_remove=[1])
assert [x.announce for x in client.get_torrent(a.id).trackers] == ["http://127.0.0.1:9/a", "http://127.0.0.1:9/c"]

# What the *arrs call after adding with priority "First".
assert client.get_torrent(b.id, arguments=["id", "queuePosition"]).queue_position == 1
client.queue_top(b.id)
assert client.get_torrent(b.id, arguments=["id", "queuePosition"]).queue_position == 0
assert client.get_torrent(a.id, arguments=["id", "queuePosition"]).queue_position == 1

client.set_session(speed_limit_down=100, speed_limit_down_enabled=True, seed_ratio_limit=3, seed_ratio_limited=True)
session = client.get_session()
assert session.speed_limit_down == 100 and session.speed_limit_down_enabled
assert session.seed_ratio_limit == 3 and session.seed_ratio_limited

# Bandwidth groups are kept (shoal stores them; it has no group limits).
client.set_group("slow", speed_limit_down=10, speed_limit_down_enabled=True)
group = client.get_groups()["slow"]
assert group.speed_limit_down == 10 and group.speed_limit_down_enabled

# Every field the library asks for by default parses.
everything = client.get_torrents()
assert sorted(t.id for t in everything) == sorted([a.id, b.id])
for t in everything:
    assert t.name and t.hashString and t.total_size > 0
client.session_stats()
assert client.free_space(download_dir) > 0

client.remove_torrent([a.id, b.id])
assert client.get_torrents() == []
print("OK")
