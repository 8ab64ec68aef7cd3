//! `sync/torrentPeers`' peer objects: the session's per-peer figures in
//! qBittorrent's names, with its space-separated flag letters and their
//! descriptions.

use serde_json::{Value, json};

use crate::PeerView;

/// The flag letters a peer earns and what each means, in qBittorrent's
/// order: D/d download (we are interested; it unchokes/chokes us), U/u
/// upload (it is interested; we unchoke/choke it), O optimistic unchoke,
/// S snubbed, ? we unchoke it but it wants nothing, K it unchokes us but we
/// want nothing, I incoming, H from the DHT, X from peer exchange, E
/// encrypted traffic (RC4), e encrypted handshake only (MSE, then plaintext).
fn flags(p: &PeerView) -> Vec<(&'static str, &'static str)> {
    let mut f = Vec::new();
    if p.am_interested {
        f.push(if p.peer_choking {
            ("d", "Interested (local) and choked (peer)")
        } else {
            ("D", "Interested (local) and unchoked (peer)")
        });
    }
    if p.peer_interested {
        f.push(if p.am_choking {
            ("u", "Interested (peer) and choked (local)")
        } else {
            ("U", "Interested (peer) and unchoked (local)")
        });
    }
    if p.optimistic {
        f.push(("O", "Optimistic unchoke"));
    }
    if p.snubbed {
        f.push(("S", "Peer snubbed"));
    }
    if !p.am_choking && !p.peer_interested {
        f.push(("?", "Not interested (peer) and unchoked (local)"));
    }
    if !p.am_interested && !p.peer_choking {
        f.push(("K", "Not interested (local) and unchoked (peer)"));
    }
    match p.source {
        "incoming" => f.push(("I", "Incoming connection")),
        "dht" => f.push(("H", "Peer from DHT")),
        "pex" => f.push(("X", "Peer from PEX")),
        "lsd" => f.push(("L", "Peer from LSD")),
        _ => {}
    }
    if p.encrypted {
        f.push(("E", "Encrypted traffic"));
    } else if p.mse {
        f.push(("e", "Encrypted handshake"));
    }
    f
}

/// One peer as `sync/torrentPeers` lists it (keyed by `ip:port`).
pub(super) fn peer(p: &PeerView) -> Value {
    let f = flags(p);
    json!({
        "ip": p.ip,
        "port": p.port,
        "client": p.client,
        "peer_id_client": p.peer_id_client,
        // qBittorrent's names for the two transports.
        "connection": if p.transport == "utp" { "μTP" } else { "BT" },
        "country": "",
        "country_code": "",
        "flags": f.iter().map(|(l, _)| *l).collect::<Vec<_>>().join(" "),
        "flags_desc": f.iter().map(|(l, d)| format!("{l} = {d}")).collect::<Vec<_>>().join("\n"),
        "progress": p.progress,
        "dl_speed": p.download_rate,
        "up_speed": p.upload_rate,
        "downloaded": p.downloaded,
        "uploaded": p.uploaded,
        "relevance": p.relevance,
        "files": "",
        "shadowbanned": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> PeerView {
        PeerView {
            address: "127.0.0.1:6881".into(),
            ip: "127.0.0.1".into(),
            port: 6881,
            client: "qBittorrent/5.0.1".into(),
            peer_id_client: "qBittorrent 5.0.1".into(),
            incoming: true,
            source: "incoming",
            progress: 0.5,
            relevance: 0.25,
            download_rate: 10,
            upload_rate: 20,
            downloaded: 30,
            uploaded: 40,
            am_choking: false,
            am_interested: true,
            peer_choking: true,
            peer_interested: true,
            optimistic: true,
            snubbed: false,
            connected_secs: 5,
            encrypted: false,
            mse: false,
            transport: "tcp",
            flags: String::new(),
        }
    }

    #[test]
    fn letters_and_descriptions_follow_the_state() {
        let v = peer(&view());
        assert_eq!(v["flags"], "d U O I");
        assert_eq!(
            v["flags_desc"].as_str().unwrap_or_default().lines().count(),
            4
        );
        assert_eq!(
            (v["dl_speed"].as_u64(), v["uploaded"].as_u64()),
            (Some(10), Some(40))
        );
        let idle = PeerView {
            am_interested: false,
            peer_choking: false,
            peer_interested: false,
            optimistic: false,
            source: "pex",
            ..view()
        };
        assert_eq!(peer(&idle)["flags"], "? K X");
        let rc4 = PeerView {
            encrypted: true,
            mse: true,
            ..view()
        };
        assert_eq!(peer(&rc4)["flags"], "d U O I E");
        let obfuscated = PeerView {
            mse: true,
            ..view()
        };
        assert_eq!(peer(&obfuscated)["flags"], "d U O I e");
    }
}
