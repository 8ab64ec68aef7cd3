//! Announcing to trackers: the I/O half. Whom to announce to, with which
//! event and when is decided by the sans-IO
//! [`shoal_tracker_proto::announce::Announcer`] (BEP 12 tiers, events,
//! intervals, retries); this module speaks HTTP(S) and UDP (BEP 15) to the
//! trackers it names ([`run`] drives it).

pub(crate) mod gate;
mod rest;
mod scrape;
mod shared_urls;
mod status;
mod udp;
pub(crate) mod udp_host;
pub(crate) mod udp_replies;

pub use gate::TrackerPace;
pub(crate) use rest::{AnnounceSlot, Resting, Trackers};
pub use scrape::{SCRAPE_BATCH, ScrapeCounts, ScrapeResult, SwarmCounts, scrape, scrape_many};
pub(crate) use status::AnnounceLog;
pub use status::AnnounceStatus;

use std::net::SocketAddr;
use std::time::Duration;

use shoal_tracker_proto::Event;
use shoal_tracker_proto::http::{AnnounceReply, AnnounceRequest, Peers};

use crate::http::{self, HttpError};

/// HTTP announce timeout.
pub(crate) const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// Why an announce failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TrackerError {
    #[error("unsupported tracker URL {0}")]
    Unsupported(String),
    #[error("bad tracker URL {0}")]
    BadUrl(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("timed out")]
    Timeout,
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("malformed reply: {0}")]
    Malformed(String),
    #[error("tracker says: {0}")]
    Failure(String),
}

/// Where the session listens, as trackers are told and asked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Listening {
    /// The peer port (the same on both families).
    pub port: u16,
    /// A dual-stack session's IPv4 address, sent as BEP 7 `ipv4` (none
    /// when bound to all interfaces: the tracker sees it when asked over
    /// IPv4).
    pub ipv4: Option<std::net::Ipv4Addr>,
    /// A dual-stack session's IPv6 address, sent as BEP 7 `ipv6`.
    pub ipv6: Option<std::net::Ipv6Addr>,
    /// The families listened on: a tracker named by an address of another
    /// is not asked (it would list us where nobody listens).
    pub families: crate::dht::Families,
}

/// What we tell a tracker.
pub(crate) struct Announce {
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
    pub port: u16,
    /// BEP 7: our address of each family, for a tracker that hears us
    /// over the other one (HTTP only; BEP 15 has no such field).
    pub ipv4: Option<std::net::Ipv4Addr>,
    pub ipv6: Option<std::net::Ipv6Addr>,
    /// The families we listen on: a host name is reached at an address
    /// of one of them when it has one.
    pub families: crate::dht::Families,
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: u64,
    pub event: Event,
    pub key: u32,
    pub numwant: u32,
}

/// `addr` with an IPv4-mapped address as the IPv4 one it stands for.
pub(crate) fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// What a tracker told us.
pub(crate) struct AnnounceOutcome {
    pub interval: Duration,
    pub min_interval: Option<Duration>,
    pub peers: Vec<SocketAddr>,
}

/// One tracker and its protocol state.
pub(crate) enum Tracker {
    Http {
        /// Shared with the torrent's announcer and log
        /// (`shared_urls.rs`).
        url: std::sync::Arc<str>,
        tracker_id: Option<Vec<u8>>,
        /// The session's kept-alive connections (none: one per request).
        pool: Option<std::sync::Arc<http::Pool>>,
    },
    Udp {
        host: String,
        port: u16,
        /// Path and query after the authority, sent as BEP 41 URL data
        /// (private UDP trackers put passkeys there).
        url_data: String,
        client: Option<udp::UdpTracker>,
        /// The session's shared UDP hosts (none: a socket of its own).
        hosts: Option<std::sync::Arc<udp_host::UdpHosts>>,
    },
}

impl Tracker {
    pub(crate) fn new(url: std::sync::Arc<str>) -> Result<Tracker, TrackerError> {
        if !shoal_metainfo::is_clean_url(&url) {
            // Control bytes would reach an HTTP request line or, as BEP 41
            // URL data, a UDP tracker's logs.
            return Err(TrackerError::BadUrl(url.escape_debug().to_string()));
        }
        if url.starts_with("http://") || url.starts_with("https://") {
            http::HttpUrl::parse(&url)?;
            return Ok(Tracker::Http {
                url,
                tracker_id: None,
                pool: None,
            });
        }
        let rest = url
            .strip_prefix("udp://")
            .ok_or_else(|| TrackerError::Unsupported(url.to_string()))?;
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let url_data = rest.get(authority.len()..).unwrap_or_default().to_owned();
        let (host, port) = http::split_host_port(authority, 80)
            .ok_or_else(|| TrackerError::BadUrl(url.to_string()))?;
        Ok(Tracker::Udp {
            host,
            port,
            url_data,
            client: None,
            hosts: None,
        })
    }

    /// The tracker's IP address when its URL names one rather than a host
    /// name.
    pub(crate) fn literal_ip(&self) -> Option<std::net::IpAddr> {
        match self {
            Tracker::Http { url, .. } => http::HttpUrl::parse(url).ok()?.host.parse().ok(),
            Tracker::Udp { host, .. } => host.parse().ok(),
        }
    }

    /// Shares the session's UDP tracker hosts (one socket and connection
    /// id per host for all torrents) instead of opening its own socket, and
    /// its kept-alive HTTP connections instead of one per announce.
    pub(crate) fn share_hosts(&mut self, gate: &gate::TrackerGate) {
        match self {
            Tracker::Udp { hosts, .. } => *hosts = Some(std::sync::Arc::clone(&gate.udp)),
            Tracker::Http { pool, .. } => *pool = Some(std::sync::Arc::clone(&gate.http)),
        }
    }

    /// The UDP client of a `udp://` tracker, resolved and bound on first
    /// use (at an address of `families` when the host has one).
    async fn udp_client(
        &mut self,
        families: Option<crate::dht::Families>,
    ) -> Result<&mut udp::UdpTracker, TrackerError> {
        let Tracker::Udp {
            host,
            port,
            url_data,
            client,
            hosts,
        } = self
        else {
            return Err(TrackerError::Unsupported("not a UDP tracker".into()));
        };
        if client.is_none() {
            let hosts = hosts.as_deref();
            *client = Some(udp::UdpTracker::new(host, *port, url_data, hosts, families).await?);
        }
        client.as_mut().ok_or(TrackerError::Timeout)
    }

    /// Asks this tracker for the swarms' sizes of up to
    /// [`scrape::SCRAPE_BATCH`] torrents in one request.
    async fn scrape(&mut self, info_hashes: &[[u8; 20]]) -> Result<Vec<SwarmCounts>, TrackerError> {
        match self {
            Tracker::Http { url, .. } => scrape::http_scrape(url, info_hashes).await,
            Tracker::Udp { .. } => self.udp_client(None).await?.scrape(info_hashes).await,
        }
    }

    /// The request URL of `a` to this tracker, if it speaks HTTP.
    pub(crate) fn http_target(&self, a: &Announce) -> Option<Result<http::HttpUrl, TrackerError>> {
        let Tracker::Http {
            url, tracker_id, ..
        } = self
        else {
            return None;
        };
        let request = AnnounceRequest {
            info_hash: a.info_hash,
            peer_id: a.peer_id,
            port: a.port,
            uploaded: a.uploaded,
            downloaded: a.downloaded,
            left: Some(a.left),
            event: a.event,
            compact: true,
            no_peer_id: true,
            numwant: Some(a.numwant),
            key: Some(format!("{:08x}", a.key).into_bytes()),
            ip: None,
            tracker_id: tracker_id.clone(),
            ipv4: a.ipv4,
            ipv6: a.ipv6,
        };
        Some(http::HttpUrl::parse(&request.to_url(url)).map_err(TrackerError::from))
    }

    /// The kept-alive connections an HTTP tracker's requests share, if
    /// any.
    pub(crate) fn http_pool(&self) -> Option<&std::sync::Arc<http::Pool>> {
        match self {
            Tracker::Http { pool, .. } => pool.as_ref(),
            Tracker::Udp { .. } => None,
        }
    }

    /// Takes in an HTTP tracker's reply `body`: what it told us, or why
    /// it refused.
    pub(crate) fn http_outcome(&mut self, body: &[u8]) -> Result<AnnounceOutcome, TrackerError> {
        let Tracker::Http {
            url, tracker_id, ..
        } = self
        else {
            return Err(TrackerError::Unsupported("not an HTTP tracker".into()));
        };
        match AnnounceReply::decode(body).map_err(|e| TrackerError::Malformed(e.to_string()))? {
            AnnounceReply::Failure(reason) => Err(TrackerError::Failure(reason)),
            AnnounceReply::Ok(reply) => {
                if let Some(warning) = &reply.warning {
                    tracing::warn!(%url, "tracker warning: {warning}");
                }
                if reply.tracker_id.is_some() {
                    tracker_id.clone_from(&reply.tracker_id);
                }
                let peers = match reply.peers {
                    Peers::Compact { v4, v6 } => v4
                        .into_iter()
                        .map(SocketAddr::V4)
                        .chain(v6.into_iter().map(SocketAddr::V6))
                        .collect(),
                    Peers::Full(list) => list.into_iter().map(|p| p.addr).collect(),
                };
                Ok(AnnounceOutcome {
                    interval: Duration::from_secs(u64::from(reply.interval)),
                    min_interval: reply
                        .min_interval
                        .map(|s| Duration::from_secs(u64::from(s))),
                    peers,
                })
            }
        }
    }

    pub(crate) async fn announce(&mut self, a: &Announce) -> Result<AnnounceOutcome, TrackerError> {
        let Some(target) = self.http_target(a) else {
            return self.udp_client(Some(a.families)).await?.announce(a).await;
        };
        let target = target?;
        let families = a.families;
        let ours = move |addr: SocketAddr| families.reach(canonical(addr));
        let body = match self.http_pool() {
            Some(pool) => http::get_pooled(&target, HTTP_TIMEOUT, pool, &ours).await?,
            None => http::get_preferring(&target, HTTP_TIMEOUT, &ours).await?,
        };
        self.http_outcome(&body)
    }
}
