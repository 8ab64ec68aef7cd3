"""Drives a shoal daemon through the `qbittorrent-api` Python library (as
qBittorrent tools and scripts do): login, app info, categories, tags, add
by file and magnet, info with filters, properties/files/trackers, stop and
start, share limits, limits, sequential order, piece states, recheck,
reannounce, set location, preferences, queue, rename, sync, peers, the
log, transfer limits and speed limits mode, piece hashes, file and
folder renames, tracker edits, first and last pieces first, delete, and category and tag removal.

Usage: qbittorrent_client.py HOST PORT USER PASSWORD TORRENT SAVE_DIR FLAT_TORRENT
Prints OK and exits 0 when every check passes.
"""

import sys
import time

import qbittorrentapi

host, port, user, password, torrent, save_dir, flat = sys.argv[1:8]

client = qbittorrentapi.Client(
    host=host,
    port=int(port),
    username=user,
    password=password,
    VERIFY_WEBUI_CERTIFICATE=False,
    REQUESTS_ARGS={"timeout": 20},
)
client.auth_log_in()
assert client.is_logged_in
assert client.app.version.startswith("v"), client.app.version
assert client.app.web_api_version.startswith("2."), client.app.web_api_version
assert client.app.default_save_path

# Errors in qBittorrent's codes: a file that is no torrent, an unknown hash.
try:
    client.torrents_add(torrent_files=b"not a torrent")
except qbittorrentapi.UnsupportedMediaType415Error:
    pass
else:
    raise AssertionError("a bad file was accepted")
try:
    client.torrents_rename(torrent_hash="zxcv", new_torrent_name="x")
except qbittorrentapi.NotFound404Error as e:
    assert "zxcv" in str(e), e
else:
    raise AssertionError("an unknown hash was accepted")

client.torrents_create_category(name="tv", save_path=save_dir)
assert "tv" in client.torrents_categories()
client.torrents_create_tags(tags=["hd"])

with open(torrent, "rb") as f:
    assert client.torrents_add(torrent_files=f, category="tv", tags="hd,new", is_stopped=True) == "Ok."
magnet = "magnet:?xt=urn:btih:" + "ab" * 20 + "&dn=fetching"
assert client.torrents_add(urls=magnet, is_stopped=True, is_first_last_piece_priority=True) == "Ok."

tv = client.torrents_info(category="tv")
assert len(tv) == 1, tv
t = tv[0]
assert t.category == "tv" and set(t.tags.split(", ")) == {"hd", "new"}, (t.category, t.tags)
assert t.save_path == save_dir, t.save_path
assert t.state in ("stoppedDL", "pausedDL"), t.state
assert len(client.torrents_info()) == 2
assert client.torrents_count() == 2
client.torrents_edit_category(name="tv", save_path=save_dir, download_path=save_dir + "/dl", enable_download_path=True)
assert client.torrents_categories()["tv"]["download_path"] == save_dir + "/dl"
assert len(client.torrents_info(tag="new")) == 1
assert [x.name for x in client.torrents_info(sort="name")] == sorted(x.name for x in client.torrents_info())

h = t.hash
assert client.torrents_properties(torrent_hash=h).total_size > 0
assert len(client.torrents_files(torrent_hash=h)) == 2
client.torrents_trackers(torrent_hash=h)
client.torrents_file_priority(torrent_hash=h, file_ids=[1], priority=0)
assert [f.priority for f in client.torrents_files(torrent_hash=h)] == [1, 0]
peers = client.sync_torrent_peers(torrent_hash=h)
assert peers["full_update"] and peers["peers"] == {}, peers
again = client.sync_torrent_peers(torrent_hash=h, rid=peers["rid"])
assert not again["full_update"] and "peers" not in again, again
log = client.log_main()
assert any("Added new torrent" in e.message for e in log), log
newest = log[-1].id

client.torrents_start(torrent_hashes=h)
assert client.torrents_info(torrent_hashes=h)[0].state not in ("stoppedDL", "pausedDL")
client.torrents_stop(torrent_hashes=h)
assert client.torrents_info(torrent_hashes=h)[0].state in ("stoppedDL", "pausedDL")

client.torrents_remove_tags(tags="new", torrent_hashes=h)
assert client.torrents_info(torrent_hashes=h)[0].tags == "hd"
client.torrents_set_share_limits(ratio_limit=2.5, seeding_time_limit=-2, inactive_seeding_time_limit=-2, torrent_hashes=h)
assert client.torrents_info(torrent_hashes=h)[0].ratio_limit == 2.5

client.torrents_rename(torrent_hash=h, new_torrent_name="Renamed")
t = client.torrents_info(torrent_hashes=h)[0]
assert t.name == "Renamed" and t.content_path.endswith("qb-a"), (t.name, t.content_path)

client.torrents_rename_file(torrent_hash=h, old_path="qb-a/f0.bin", new_path="qb-a/sub/zero.bin")
client.torrents_rename_folder(torrent_hash=h, old_path="qb-a", new_path="qb-b")
names = sorted(f.name for f in client.torrents_files(torrent_hash=h))
assert names == ["qb-b/f1.bin", "qb-b/sub/zero.bin"], names
try:
    client.torrents_rename_file(torrent_hash=h, old_path="qb-b/f1.bin", new_path="qb-b/sub/zero.bin")
except qbittorrentapi.Conflict409Error:
    pass
else:
    raise AssertionError("a rename onto a taken name was accepted")

client.torrents_add_trackers(torrent_hash=h, urls=["http://127.0.0.1:9/a", "udp://127.0.0.1:9/b"])
client.torrents_edit_tracker(torrent_hash=h, original_url="http://127.0.0.1:9/a", new_url="http://127.0.0.1:9/c")
client.torrents_remove_trackers(torrent_hash=h, urls=["udp://127.0.0.1:9/b"])
urls = [x.url for x in client.torrents_trackers(torrent_hash=h) if x.url.startswith(("http", "udp"))]
assert urls == ["http://127.0.0.1:9/c"], urls
try:
    client.torrents_edit_tracker(torrent_hash=h, original_url="http://127.0.0.1:9/x", new_url="http://127.0.0.1:9/y")
except qbittorrentapi.Conflict409Error:
    pass
else:
    raise AssertionError("editing a missing tracker was accepted")

client.torrents_set_download_limit(limit=50_000, torrent_hashes=h)
assert client.torrents_info(torrent_hashes=h)[0].dl_limit == 50_000
assert client.torrents_download_limit(torrent_hashes=h)[h] == 50_000
assert client.torrents_upload_limit(torrent_hashes=h)[h] == -1
pieces = client.torrents_piece_hashes(torrent_hash=h)
assert len(pieces) == client.torrents_properties(torrent_hash=h).pieces_num and len(pieces[0]) == 40
client.torrents_toggle_sequential_download(torrent_hashes=h)
assert client.torrents_info(torrent_hashes=h)[0].seq_dl
assert not client.torrents_info(torrent_hashes=h)[0].f_l_piece_prio
client.torrents_toggle_first_last_piece_priority(torrent_hashes=h)
assert client.torrents_info(torrent_hashes=h)[0].f_l_piece_prio
assert client.torrents_info(torrent_hashes="ab" * 20)[0].f_l_piece_prio
added = client.torrents_add_peers(peers=["127.0.0.1:9", "127.0.0.2:9"], torrent_hashes=h)
assert added[h] == {"added": 0, "failed": 2}, added  # stopped: nothing to dial with
# Stored only (shoal has no such features), read back as set.
client.torrents_set_super_seeding(enable=True, torrent_hashes=h)
client.torrents_set_auto_management(enable=True, torrent_hashes=h)
client.torrents_set_download_path(download_path=save_dir + "/incomplete", torrent_hashes=h)
t = client.torrents_info(torrent_hashes=h)[0]
assert t.super_seeding and t.auto_tmm and t.download_path == save_dir + "/incomplete", t
client.torrents_set_force_start(enable=False, torrent_hashes=h)
assert not client.torrents_info(torrent_hashes=h)[0].force_start
with open(torrent, "rb") as f:
    assert client.torrents_export(torrent_hash=h) == f.read()
assert len(client.torrents_piece_states(torrent_hash=h)) == client.torrents_properties(torrent_hash=h).pieces_num
client.torrents_webseeds(torrent_hash=h)
client.torrents_recheck(torrent_hashes=h)
client.torrents_reannounce(torrent_hashes=h)
moved = save_dir + "/moved"
client.torrents_set_location(location=moved, torrent_hashes=h)
for _ in range(100):
    if client.torrents_info(torrent_hashes=h)[0].save_path == moved:
        break
    time.sleep(0.1)
assert client.torrents_info(torrent_hashes=h)[0].save_path == moved

prefs = client.app_preferences()
try:
    client.torrents_increase_priority(torrent_hashes=h)
except qbittorrentapi.Conflict409Error:
    pass
else:
    raise AssertionError("queue moves need queueing on, as in qBittorrent")
client.app_set_preferences(prefs={"max_ratio_enabled": True, "max_ratio": 3.0, "dl_limit": 123_000, "queueing_enabled": True})
prefs = client.app_preferences()
assert prefs.max_ratio_enabled and prefs.max_ratio == 3.0 and prefs.dl_limit == 123_000

assert client.app_preferences().max_active_downloads == 3
before = client.torrents_info(torrent_hashes=h)[0].priority
client.torrents_bottom_priority(torrent_hashes=h)
assert client.torrents_info(torrent_hashes=h)[0].priority > before
client.torrents_increase_priority(torrent_hashes=h)
client.transfer_info()
client.transfer_set_upload_limit(limit=77_000)
assert client.transfer_upload_limit() == 77_000
client.transfer_set_upload_limit(limit=0)
assert client.transfer_upload_limit() == 0
assert client.transfer_speed_limits_mode() == "0"
client.transfer_toggle_speed_limits_mode()
assert client.transfer_speed_limits_mode() == "1"
client.transfer_set_speed_limits_mode(intended_state=False)
assert client.transfer_speed_limits_mode() == "0"
later = client.log_main(last_known_id=newest)
assert later and all(e.id > newest for e in later), later
assert any(e.message.startswith("Torrent started") for e in later), later
data = client.sync_maindata()
assert h in data["torrents"] and "tv" in data["categories"]
again = client.sync_maindata(rid=data["rid"])
assert not again["full_update"] and h not in again.get("torrents", {}), again

# Added without its top folder, under another name, with a download path.
with open(flat, "rb") as f:
    client.torrents_add(torrent_files=f, is_stopped=True, content_layout="NoSubfolder", rename="flat", download_path=save_dir + "/inc")
t = [x for x in client.torrents_info() if x.name == "flat"][0]
assert sorted(f.name for f in client.torrents_files(torrent_hash=t.hash)) == ["f0.bin", "f1.bin"]
assert t.download_path == save_dir + "/inc", t.download_path

# A tag set here is a Transmission label: check through the other API too.
client.torrents_delete(delete_files=False, torrent_hashes="all")
assert client.torrents_info() == []
client.torrents_remove_categories(categories="tv")
assert "tv" not in client.torrents_categories()
client.torrents_delete_tags(tags="hd")
assert "hd" not in client.torrents_tags()
client.auth_log_out()
print("OK")
