"""The same Transmission RPC calls against transmission-daemon 3.00 and
shoal, both holding the same complete torrent: wherever Transmission
answers with a field, shoal must answer with the same name and JSON type,
down through nested objects and list entries.

Usage: side_by_side.py TRANSMISSION_URL SHOAL_URL HASH DIR
Prints each difference and exits 1 if there is any, else prints OK.
Only calls that stay on 127.0.0.1 are made: no port-test or blocklist
update, which would make Transmission contact the internet.
"""

import json
import sys
import urllib.error
import urllib.request

TORRENT_FIELDS = [
    "activityDate", "addedDate", "bandwidthPriority", "comment", "corruptEver",
    "creator", "dateCreated", "desiredAvailable", "doneDate", "downloadDir",
    "downloadedEver", "downloadLimit", "downloadLimited", "editDate", "error",
    "errorString", "eta", "etaIdle", "files", "fileStats", "hashString",
    "haveUnchecked", "haveValid", "honorsSessionLimits", "id", "isFinished",
    "isPrivate", "isStalled", "labels", "leftUntilDone", "magnetLink",
    "manualAnnounceTime", "maxConnectedPeers", "metadataPercentComplete",
    "name", "peer-limit", "peers", "peersConnected", "peersFrom",
    "peersGettingFromUs", "peersSendingToUs", "percentDone", "pieces",
    "pieceCount", "pieceSize", "priorities", "queuePosition", "rateDownload",
    "rateUpload", "recheckProgress", "secondsDownloading", "secondsSeeding",
    "seedIdleLimit", "seedIdleMode", "seedRatioLimit", "seedRatioMode",
    "sizeWhenDone", "startDate", "status", "trackers", "trackerStats",
    "totalSize", "torrentFile", "uploadedEver", "uploadLimit",
    "uploadLimited", "uploadRatio", "wanted", "webseeds",
    "webseedsSendingToUs",
]


class Rpc:
    """A Transmission RPC endpoint with its session id handshake."""

    def __init__(self, url):
        self.url = url
        self.session_id = ""

    def call(self, method, arguments=None):
        body = json.dumps({"method": method, "arguments": arguments or {}}).encode()
        for _ in range(2):
            request = urllib.request.Request(self.url, data=body, method="POST")
            request.add_header("X-Transmission-Session-Id", self.session_id)
            try:
                with urllib.request.urlopen(request, timeout=10) as reply:
                    return json.load(reply)
            except urllib.error.HTTPError as e:
                if e.code != 409:
                    raise
                self.session_id = e.headers["X-Transmission-Session-Id"]
        raise RuntimeError(f"{self.url}: no session id accepted")


def kind(value):
    """The JSON type of a value; integers and fractions are both numbers."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def compare(path, theirs, ours, differences):
    """Records where `ours` lacks a field of `theirs` or types differ."""
    if kind(theirs) != kind(ours):
        differences.append(f"{path}: Transmission {kind(theirs)}, shoal {kind(ours)}")
        return
    if isinstance(theirs, dict):
        for key, value in theirs.items():
            if key not in ours:
                differences.append(f"{path}.{key}: missing in shoal")
            else:
                compare(f"{path}.{key}", value, ours[key], differences)
    elif isinstance(theirs, list) and theirs and ours:
        compare(f"{path}[0]", theirs[0], ours[0], differences)


def main():
    transmission_url, shoal_url, info_hash, directory = sys.argv[1:5]
    transmission = Rpc(transmission_url)
    shoal = Rpc(shoal_url)
    differences = []

    def both(method, arguments=None, label=None):
        theirs = transmission.call(method, arguments)
        ours = shoal.call(method, arguments)
        compare(label or method, theirs, ours, differences)
        return theirs, ours

    # A tracker on a closed local port, so that trackerStats has an entry.
    both("torrent-set", {"ids": [info_hash], "trackerAdd": ["http://127.0.0.1:1/announce"]})
    both("session-get")
    both("session-stats")
    both("free-space", {"path": directory})
    both("torrent-get", {"ids": [info_hash], "fields": TORRENT_FIELDS})
    # The few fields most UIs poll, for every torrent.
    both(
        "torrent-get",
        {"fields": ["id", "name", "percentDone", "rateDownload", "status"]},
        "torrent-get (list)",
    )
    both("torrent-set", {"ids": [info_hash], "seedRatioLimit": 3, "seedRatioMode": 1})
    both("torrent-stop", {"ids": [info_hash]})
    both("torrent-start", {"ids": [info_hash]})
    both("torrent-verify", {"ids": [info_hash]})
    both("torrent-reannounce", {"ids": [info_hash]})
    both("queue-move-top", {"ids": [info_hash]})
    both("session-set", {"speed-limit-up": 500})
    files = transmission.call("torrent-get", {"ids": [info_hash], "fields": ["files"]})
    first = files["arguments"]["torrents"][0]["files"][0]["name"]
    both("torrent-rename-path", {"ids": [info_hash], "path": first, "name": "renamed.bin"})
    both("torrent-get", {"ids": [info_hash], "fields": ["files"]}, "torrent-get (after rename)")
    both("torrent-remove", {"ids": [info_hash]})

    for line in differences:
        print(line)
    if differences:
        print(f"{len(differences)} differences")
        sys.exit(1)
    print("OK")


main()
