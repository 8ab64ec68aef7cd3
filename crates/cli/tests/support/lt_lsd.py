#!/usr/bin/python3
"""A libtorrent peer that finds peers by local service discovery (BEP 14)
only: no tracker, no DHT, no UPnP or NAT-PMP, no peer given.

    lt_lsd.py seed|leech TORRENT DIR IP:PORT

Prints "seeding" once it holds every piece (a seed after its check, a
leech when done). A leech then exits 0; a seed runs until killed. Exits 1
after 90 s without that.
"""
import sys
import time

import libtorrent as lt


def main():
    mode, torrent, save_dir, listen = sys.argv[1:5]
    ip = listen.rsplit(":", 1)[0]
    mask = lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
    ses = lt.session({
        "listen_interfaces": listen,
        "outgoing_interfaces": ip,
        "listen_system_port_fallback": False,
        "enable_lsd": True, "enable_dht": False,
        "enable_upnp": False, "enable_natpmp": False,
        "enable_outgoing_utp": False, "enable_incoming_utp": False,
        "alert_mask": int(mask),
    })
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(torrent)
    atp.save_path = save_dir
    atp.trackers = []
    atp.flags |= lt.torrent_flags.override_trackers | lt.torrent_flags.disable_dht
    atp.flags &= ~lt.torrent_flags.auto_managed
    atp.flags &= ~lt.torrent_flags.paused
    h = ses.add_torrent(atp)
    deadline = time.monotonic() + 90
    said = False
    while time.monotonic() < deadline:
        s = h.status()
        print("progress %.3f peers %d" % (s.progress, s.num_peers), flush=True)
        if s.is_seeding and not said:
            print("seeding", flush=True)
            said = True
            if mode == "leech":
                return 0
        ses.wait_for_alert(500)
        for a in ses.pop_alerts():
            print("alert: " + a.message(), flush=True)
    return 0 if mode == "seed" and said else 1


if __name__ == "__main__":
    sys.exit(main())
