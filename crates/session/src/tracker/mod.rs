//! Announcing to trackers (HTTP and UDP), tier by tier as BEP 12 says:
//! trackers are shuffled within their tier, tried in order, and the one that
//! answers moves to the front of its tier.

mod http;
mod scrape;
mod status;
mod tls;
mod udp;

pub use scrape::{ScrapeResult, SwarmCounts, scrape};
pub(crate) use status::AnnounceLog;
pub use status::AnnounceStatus;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use shoal_tracker_proto::Event;
use shoal_tracker_proto::http::{AnnounceReply, AnnounceRequest, Peers};

use crate::torrent::TorrentShared;

/// Shortest re-announce interval honoured (protects trackers and us from a
/// tracker that asks for a flood).
const MIN_INTERVAL: Duration = Duration::from_secs(30);
/// Longest interval between announces.
const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// Retry delay after every tracker failed; doubles up to [`MAX_INTERVAL`].
const RETRY: Duration = Duration::from_secs(15);
/// HTTP announce timeout.
pub(crate) const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
/// Peers asked for per announce.
const NUMWANT: u32 = 50;
/// How long the `stopped` announce may take at shutdown.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

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
    #[error("TLS: {0}")]
    Tls(String),
    #[error("HTTP {0}")]
    Status(String),
    #[error("malformed reply: {0}")]
    Malformed(String),
    #[error("tracker says: {0}")]
    Failure(String),
}

/// What we tell a tracker.
pub(crate) struct Announce {
    pub info_hash: [u8; 20],
    pub peer_id: [u8; 20],
    pub port: u16,
    pub uploaded: u64,
    pub downloaded: u64,
    pub left: u64,
    pub event: Event,
    pub key: u32,
    pub numwant: u32,
}

/// What a tracker told us.
pub(crate) struct AnnounceOutcome {
    pub interval: Duration,
    pub min_interval: Option<Duration>,
    pub peers: Vec<SocketAddr>,
}

/// One tracker and its protocol state.
enum Tracker {
    Http {
        url: String,
        tracker_id: Option<Vec<u8>>,
    },
    Udp {
        host: String,
        port: u16,
        /// Path and query after the authority, sent as BEP 41 URL data
        /// (private UDP trackers put passkeys there).
        url_data: String,
        client: Option<udp::UdpTracker>,
    },
}

impl Tracker {
    fn new(url: &str) -> Result<Tracker, TrackerError> {
        if url.starts_with("http://") || url.starts_with("https://") {
            http::HttpUrl::parse(url)?;
            return Ok(Tracker::Http {
                url: url.to_owned(),
                tracker_id: None,
            });
        }
        let rest = url
            .strip_prefix("udp://")
            .ok_or_else(|| TrackerError::Unsupported(url.to_owned()))?;
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let url_data = rest.get(authority.len()..).unwrap_or_default().to_owned();
        let (host, port) = http::split_host_port(authority, 80)
            .ok_or_else(|| TrackerError::BadUrl(url.to_owned()))?;
        Ok(Tracker::Udp {
            host,
            port,
            url_data,
            client: None,
        })
    }

    /// The UDP client of a `udp://` tracker, resolved and bound on first use.
    async fn udp_client(&mut self) -> Result<&mut udp::UdpTracker, TrackerError> {
        let Tracker::Udp {
            host,
            port,
            url_data,
            client,
        } = self
        else {
            return Err(TrackerError::Unsupported("not a UDP tracker".into()));
        };
        if client.is_none() {
            *client = Some(udp::UdpTracker::new(host, *port, url_data).await?);
        }
        client.as_mut().ok_or(TrackerError::Timeout)
    }

    /// Asks this tracker for the swarm's size.
    async fn scrape(&mut self, info_hash: [u8; 20]) -> Result<SwarmCounts, TrackerError> {
        match self {
            Tracker::Http { url, .. } => scrape::http_scrape(url, info_hash).await,
            Tracker::Udp { .. } => self.udp_client().await?.scrape(info_hash).await,
        }
    }

    async fn announce(&mut self, a: &Announce) -> Result<AnnounceOutcome, TrackerError> {
        match self {
            Tracker::Http { url, tracker_id } => {
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
                };
                let target = http::HttpUrl::parse(&request.to_url(url))?;
                let body = http::get(&target, HTTP_TIMEOUT).await?;
                match AnnounceReply::decode(&body)
                    .map_err(|e| TrackerError::Malformed(e.to_string()))?
                {
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
            Tracker::Udp { .. } => self.udp_client().await?.announce(a).await,
        }
    }
}

/// GETs an `http://` or `https://` URL (HTTPS by rustls, no redirects: see
/// [`http_get_following`]) and
/// returns the body of a 200 reply, refusing one over `max_bytes` or slower
/// than `timeout` in all.
pub async fn http_get(
    url: &str,
    max_bytes: usize,
    timeout: Duration,
) -> Result<Vec<u8>, crate::SessionError> {
    let fail = |e: TrackerError| crate::SessionError::Http(format!("{url}: {e}"));
    let target = http::HttpUrl::parse(url).map_err(fail)?;
    let body = http::get_capped(&target, timeout, max_bytes)
        .await
        .map_err(fail)?;
    if body.len() > max_bytes {
        return Err(fail(TrackerError::Malformed(format!(
            "body larger than {max_bytes} bytes"
        ))));
    }
    Ok(body)
}

/// Most redirects [`http_get_following`] follows.
pub const MAX_REDIRECTS: usize = 5;

/// What [`http_get_following`] ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpFetched {
    /// The body of the final 200 reply.
    Body(Vec<u8>),
    /// A redirect to a URL that is not `http(s)` (such as a `magnet:`
    /// link, as torrent indexers answer), handed back unfollowed.
    Elsewhere(String),
}

/// [`http_get`] that follows up to [`MAX_REDIRECTS`] redirects between
/// `http://` and `https://` URLs; `timeout` bounds the whole chain.
pub async fn http_get_following(
    url: &str,
    max_bytes: usize,
    timeout: Duration,
) -> Result<HttpFetched, crate::SessionError> {
    let chain = async {
        let mut current = url.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            let fail = |e: TrackerError| crate::SessionError::Http(format!("{current}: {e}"));
            let target = http::HttpUrl::parse(&current).map_err(fail)?;
            match http::get_reply(&target, timeout, max_bytes)
                .await
                .map_err(fail)?
            {
                http::Reply::Body(body) if body.len() > max_bytes => {
                    return Err(fail(TrackerError::Malformed(format!(
                        "body larger than {max_bytes} bytes"
                    ))));
                }
                http::Reply::Body(body) => return Ok(HttpFetched::Body(body)),
                http::Reply::Redirect(next) => {
                    // Another scheme: not ours to follow. (A malformed
                    // http URL fails on the next round.)
                    if let Err(TrackerError::Unsupported(_)) = http::HttpUrl::parse(&next) {
                        return Ok(HttpFetched::Elsewhere(next));
                    }
                    current = next;
                }
            }
        }
        Err(crate::SessionError::Http(format!(
            "{url}: more than {MAX_REDIRECTS} redirects"
        )))
    };
    tokio::time::timeout(timeout, chain)
        .await
        .map_err(|_| crate::SessionError::Http(format!("{url}: timed out")))?
}

/// Announces for one torrent until the torrent stops: `started` first,
/// `completed` when the download finishes, then at the tracker's interval.
pub(crate) async fn announce_loop(
    shared: Arc<TorrentShared>,
    tiers: Vec<Vec<String>>,
    peer_id: [u8; 20],
    port: u16,
) {
    let mut tiers = build_tiers(tiers);
    if tiers.is_empty() {
        return;
    }
    let key = fastrand::u32(..);
    let mut completed = shared.completed.subscribe();
    let mut stopping = shared.stopping.subscribe();
    let mut event = Event::Started;
    let mut announced_complete = *completed.borrow();
    let mut retry = RETRY;
    let announce = |event: Event| {
        let stats = shared.stats();
        Announce {
            info_hash: shared.info_hash,
            peer_id,
            port,
            uploaded: stats.uploaded,
            downloaded: stats.downloaded,
            left: stats.bytes_left,
            event,
            key,
            numwant: NUMWANT,
        }
    };
    loop {
        let outcome = announce_tiers(&mut tiers, &announce(event), Some(&shared.announces)).await;
        let wait = match outcome {
            Some(outcome) => {
                shared.learn_peers(outcome.peers);
                event = Event::None;
                retry = RETRY;
                outcome
                    .interval
                    .max(outcome.min_interval.unwrap_or_default())
                    .clamp(MIN_INTERVAL, MAX_INTERVAL)
            }
            None => {
                retry = retry.saturating_mul(2).min(MAX_INTERVAL);
                retry / 2
            }
        };
        shared
            .announces
            .set_next(status::now_unix().saturating_add(wait.as_secs()));
        // `changed()` rather than `wait_for`: no watch guard may be held
        // across an await in a task that must be `Send`.
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            changed = completed.changed(), if !announced_complete => {
                let done = changed.is_ok() && *completed.borrow();
                if done {
                    announced_complete = true;
                    event = Event::Completed;
                }
            }
            // An announce asked for now (reannounce): same event as due.
            () = shared.reannounce.notified() => {}
            changed = stopping.changed() => {
                let stop = changed.is_err() || *stopping.borrow();
                if stop {
                    // Best effort: a tracker that does not answer quickly is
                    // left to expire us.
                    let stopped = announce(Event::Stopped);
                    let _ = tokio::time::timeout(STOP_TIMEOUT, announce_tiers(&mut tiers, &stopped, None)).await;
                    return;
                }
            }
        }
    }
}

/// Tries each tier in order and each tracker in a tier; the first that
/// answers moves to the front of its tier.
/// Parses each tier's URLs (skipping unusable ones) and shuffles within tiers.
fn build_tiers(tiers: Vec<Vec<String>>) -> Vec<Vec<(String, Tracker)>> {
    tiers
        .into_iter()
        .map(|tier| {
            let mut tier: Vec<(String, Tracker)> = tier
                .into_iter()
                .filter_map(|url| match Tracker::new(&url) {
                    Ok(t) => Some((url, t)),
                    Err(err) => {
                        tracing::warn!("skipping tracker: {err}");
                        None
                    }
                })
                .collect();
            fastrand::shuffle(&mut tier);
            tier
        })
        .filter(|tier| !tier.is_empty())
        .collect()
}

/// `left` announced while a magnet link's metadata is unknown: not zero, so
/// the tracker does not take us for a seed and hand us only leechers.
const UNKNOWN_LEFT: u64 = u32::MAX as u64;

/// Finds peers for a torrent whose metadata we do not have yet: announces
/// to `tiers` and sends every peer to `found`, again at the tracker's
/// interval, until `found` is closed.
pub(crate) async fn discover(
    tiers: Vec<Vec<String>>,
    info_hash: [u8; 20],
    peer_id: [u8; 20],
    port: u16,
    found: tokio::sync::mpsc::Sender<SocketAddr>,
) {
    let mut tiers = build_tiers(tiers);
    if tiers.is_empty() {
        return;
    }
    let request = Announce {
        info_hash,
        peer_id,
        port,
        uploaded: 0,
        downloaded: 0,
        left: UNKNOWN_LEFT,
        event: Event::Started,
        key: fastrand::u32(..),
        numwant: NUMWANT,
    };
    let mut retry = RETRY;
    loop {
        let wait = tokio::select! {
            outcome = announce_tiers(&mut tiers, &request, None) => match outcome {
                Some(outcome) => {
                    for addr in outcome.peers {
                        if found.send(addr).await.is_err() {
                            return;
                        }
                    }
                    outcome.interval.clamp(MIN_INTERVAL, MAX_INTERVAL)
                }
                None => {
                    retry = retry.saturating_mul(2).min(MAX_INTERVAL);
                    retry / 2
                }
            },
            () = found.closed() => return,
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = found.closed() => return,
        }
    }
}

/// Each attempt's result goes to `log` when given.
async fn announce_tiers(
    tiers: &mut [Vec<(String, Tracker)>],
    a: &Announce,
    log: Option<&AnnounceLog>,
) -> Option<AnnounceOutcome> {
    for tier in tiers.iter_mut() {
        for i in 0..tier.len() {
            let Some((url, tracker)) = tier.get_mut(i) else {
                continue;
            };
            match tracker.announce(a).await {
                Ok(outcome) => {
                    tracing::debug!(%url, peers = outcome.peers.len(), "announced");
                    if let Some(log) = log {
                        log.record(url, Ok(outcome.peers.len()));
                    }
                    tier.swap(0, i);
                    return Some(outcome);
                }
                Err(err) => {
                    tracing::info!(%url, "announce failed: {err}");
                    if let Some(log) = log {
                        log.record(url, Err(err.to_string()));
                    }
                }
            }
        }
    }
    None
}
