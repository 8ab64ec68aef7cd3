//! Connected peers as the APIs show them: the session's per-peer figures
//! and Transmission's one-letter flags (`flagStr`).

use serde::Serialize;
use shoal_session::{PeerSource, PeerSummary};

/// One connected peer.
#[derive(Debug, Clone, Serialize)]
pub struct PeerView {
    /// Its address, `ip:port` (`[ip]:port` for IPv6).
    pub address: String,
    /// Its IP address.
    pub ip: String,
    /// Its port.
    pub port: u16,
    /// Its client's name and version.
    pub client: String,
    /// Its client as its peer id names it (the extension handshake aside).
    pub peer_id_client: String,
    /// It connected to us.
    pub incoming: bool,
    /// Where its address came from: `tracker`, `dht`, `pex`, `given` (a
    /// magnet link's `x.pe`, an API call) or `incoming`.
    pub source: &'static str,
    /// The share of the torrent it has, 0–1.
    pub progress: f64,
    /// The share of the pieces we lack that it has, 0–1.
    pub relevance: f64,
    /// Payload bytes per second from it.
    pub download_rate: u64,
    /// Payload bytes per second to it.
    pub upload_rate: u64,
    /// Payload bytes it sent us on this connection.
    pub downloaded: u64,
    /// Payload bytes we sent it on this connection.
    pub uploaded: u64,
    /// We refuse its requests.
    pub am_choking: bool,
    /// We want something it has.
    pub am_interested: bool,
    /// It refuses our requests.
    pub peer_choking: bool,
    /// It wants something we have.
    pub peer_interested: bool,
    /// It holds our optimistic unchoke.
    pub optimistic: bool,
    /// It unchoked us but sends nothing.
    pub snubbed: bool,
    /// Seconds since it connected.
    pub connected_secs: u64,
    /// Its payload is RC4-encrypted (MSE/PE).
    pub encrypted: bool,
    /// The connection began with an MSE/PE handshake (RC4 or, inside it,
    /// plaintext).
    pub mse: bool,
    /// What carries the connection: `tcp` or `utp`.
    pub transport: &'static str,
    /// Transmission's flag letters (see [`transmission_flags`]).
    pub flags: String,
}

/// The view of one peer.
pub(crate) fn view(p: &PeerSummary) -> PeerView {
    PeerView {
        address: p.addr.to_string(),
        ip: p.addr.ip().to_string(),
        port: p.addr.port(),
        client: p.client.clone(),
        peer_id_client: shoal_session::client_name(&p.peer_id, None),
        incoming: p.incoming,
        source: source_name(p.source),
        progress: p.progress,
        relevance: p.relevance,
        download_rate: p.download_rate,
        upload_rate: p.upload_rate,
        downloaded: p.downloaded,
        uploaded: p.uploaded,
        am_choking: p.am_choking,
        am_interested: p.am_interested,
        peer_choking: p.peer_choking,
        peer_interested: p.peer_interested,
        optimistic: p.optimistic,
        snubbed: p.snubbed,
        connected_secs: p.connected_for.as_secs(),
        encrypted: p.encrypted,
        mse: p.mse,
        transport: p.transport.as_str(),
        flags: transmission_flags(p),
    }
}

/// The name of a peer source in the native API.
pub(crate) fn source_name(source: PeerSource) -> &'static str {
    match source {
        PeerSource::Tracker => "tracker",
        PeerSource::Dht => "dht",
        PeerSource::Pex => "pex",
        PeerSource::Given => "given",
        PeerSource::Incoming => "incoming",
        PeerSource::Lsd => "lsd",
    }
}

/// Transmission's `flagStr`: O optimistic unchoke, D downloading from it
/// (d: we want to but it chokes us), U uploading to it (u: it wants to but
/// we choke it), K it unchokes us but we want nothing, ? we unchoke it but
/// it wants nothing, E encrypted (RC4), H found through the DHT, X through
/// peer exchange, I incoming, T over uTP.
pub(crate) fn transmission_flags(p: &PeerSummary) -> String {
    let mut f = String::new();
    if p.optimistic {
        f.push('O');
    }
    if p.is_downloading_from() {
        f.push('D');
    } else if p.am_interested {
        f.push('d');
    }
    if p.is_uploading_to() {
        f.push('U');
    } else if p.peer_interested {
        f.push('u');
    }
    if !p.peer_choking && !p.am_interested {
        f.push('K');
    }
    if !p.am_choking && !p.peer_interested {
        f.push('?');
    }
    if p.encrypted {
        f.push('E');
    }
    if p.transport == shoal_session::Transport::Utp {
        f.push('T');
    }
    match p.source {
        PeerSource::Dht => f.push('H'),
        PeerSource::Pex => f.push('X'),
        PeerSource::Incoming => f.push('I'),
        PeerSource::Tracker | PeerSource::Given | PeerSource::Lsd => {}
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> PeerSummary {
        PeerSummary {
            addr: "127.0.0.1:6881".parse().unwrap_or(([0, 0, 0, 0], 0).into()),
            peer_id: *b"-qB5010-abcdefghijkl",
            client: "qBittorrent 5.0.1".into(),
            incoming: false,
            source: PeerSource::Tracker,
            am_choking: true,
            am_interested: false,
            peer_choking: true,
            peer_interested: false,
            optimistic: false,
            snubbed: false,
            progress: 0.5,
            relevance: 0.0,
            download_rate: 0,
            upload_rate: 0,
            downloaded: 0,
            uploaded: 0,
            connected_for: std::time::Duration::from_secs(3),
            mse: false,
            encrypted: false,
            transport: shoal_session::Transport::Tcp,
        }
    }

    #[test]
    fn flags_follow_choke_and_interest() {
        let idle = peer();
        assert_eq!(transmission_flags(&idle), "");
        let trading = PeerSummary {
            am_interested: true,
            peer_choking: false,
            peer_interested: true,
            am_choking: false,
            optimistic: true,
            incoming: true,
            source: PeerSource::Incoming,
            mse: true,
            encrypted: true,
            transport: shoal_session::Transport::Utp,
            ..peer()
        };
        assert_eq!(transmission_flags(&trading), "ODUETI");
        let waiting = PeerSummary {
            am_interested: true,
            peer_interested: true,
            snubbed: true,
            source: PeerSource::Pex,
            ..peer()
        };
        assert_eq!(transmission_flags(&waiting), "duX");
        let idle_unchoked = PeerSummary {
            am_choking: false,
            peer_choking: false,
            ..peer()
        };
        assert_eq!(transmission_flags(&idle_unchoked), "K?");
        let v = view(&trading);
        assert_eq!(
            (v.ip.as_str(), v.port, v.connected_secs),
            ("127.0.0.1", 6881, 3)
        );
        assert_eq!((v.flags.as_str(), v.source), ("ODUETI", "incoming"));
        assert!(v.encrypted && v.mse);
        assert_eq!(v.transport, "utp");
    }
}
