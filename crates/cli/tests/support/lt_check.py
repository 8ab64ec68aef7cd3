#!/usr/bin/python3
"""lt_check.py TORRENT SAVE_DIR: load TORRENT in libtorrent, hash-check the data
under SAVE_DIR, and print one JSON line with libtorrent's view: info-hashes,
piece count, and how many pieces its check found valid. No network: the
session listens on 127.0.0.1 only, with DHT/LSD/UPnP/NAT-PMP off, and the
torrent is in upload mode so it never requests data (test torrents name
loopback trackers at most)."""
import json
import sys
import time

import libtorrent as lt

torrent, save_dir = sys.argv[1], sys.argv[2]
ti = lt.torrent_info(torrent)
ih = ti.info_hashes()
ses = lt.session({
    "listen_interfaces": "127.0.0.1:0",
    "outgoing_interfaces": "127.0.0.1",
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "alert_mask": int(lt.alert.category_t.error_notification | lt.alert.category_t.status_notification),
})
atp = lt.add_torrent_params()
atp.ti = ti
atp.save_path = save_dir
# Upload mode: check the data, never request any.
atp.flags |= lt.torrent_flags.upload_mode
h = ses.add_torrent(atp)
checked = False
deadline = time.monotonic() + 120
while not checked and time.monotonic() < deadline:
    ses.wait_for_alert(200)
    for alert in ses.pop_alerts():
        if isinstance(alert, lt.torrent_checked_alert):
            checked = True
st = h.status()
print(json.dumps({
    "v1": str(ih.v1) if ih.has_v1() else None,
    "v2": str(ih.v2) if ih.has_v2() else None,
    "num_pieces": ti.num_pieces(),
    "pieces_valid": st.num_pieces,
    "total_size": ti.total_size(),
    "checked": checked,
    "error": st.errc.message() if st.errc.value() else None,
}))
