//! A BEP 15 UDP tracker client: connect (ids cached for a minute by
//! [`ConnectionIdCache`]), announce, retransmits with [`Backoff`], error
//! replies.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use shoal_tracker_proto::announce::{Backoff, ConnectionIdCache};

use shoal_tracker_proto::udp::{
    AddrFamily, ConnectRequest, HashList, Request, Response, ScrapeRequest,
};
use tokio::net::UdpSocket;

use super::{Announce, AnnounceOutcome, SwarmCounts, TrackerError};

/// First wait for a reply; doubled on each retransmit. BEP 15 starts at 15 s
/// and goes up to an hour; a client that the user is watching gives up sooner.
const FIRST_TIMEOUT: Duration = Duration::from_secs(2);
/// Sends per request before giving up.
const TRIES: u32 = 4;
/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;

/// One UDP tracker and its cached connection id.
pub(crate) struct UdpTracker {
    addr: SocketAddr,
    socket: UdpSocket,
    connection: ConnectionIdCache,
    /// The cache's time zero.
    epoch: Instant,
    /// BEP 41 options carrying the URL's path and query (empty if none).
    url_options: Vec<u8>,
}

impl UdpTracker {
    /// Resolves `host:port` and opens a socket of the matching family;
    /// `url_data` (the URL's path and query) goes with every announce.
    pub async fn new(host: &str, port: u16, url_data: &str) -> Result<UdpTracker, TrackerError> {
        let addr = tokio::net::lookup_host((host, port))
            .await?
            .next()
            .ok_or_else(|| TrackerError::BadUrl(format!("{host} has no address")))?;
        let local: SocketAddr = if addr.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(addr).await?;
        Ok(UdpTracker {
            addr,
            socket,
            connection: ConnectionIdCache::default(),
            epoch: Instant::now(),
            url_options: if url_data.is_empty() {
                Vec::new()
            } else {
                let mut options = Vec::new();
                shoal_tracker_proto::udp::write_url_data(&mut options, url_data.as_bytes());
                options
            },
        })
    }

    /// Announces and returns the peers and interval.
    pub async fn announce(&mut self, a: &Announce) -> Result<AnnounceOutcome, TrackerError> {
        let connection_id = self.connection_id().await?;
        let transaction_id = fastrand::u32(..);
        let mut packet = Vec::with_capacity(98);
        shoal_tracker_proto::udp::AnnounceRequest {
            connection_id,
            transaction_id,
            info_hash: a.info_hash,
            peer_id: a.peer_id,
            downloaded: a.downloaded,
            left: a.left,
            uploaded: a.uploaded,
            event: a.event,
            ip: 0,
            key: a.key,
            num_want: a.numwant.try_into().unwrap_or(-1),
            port: a.port,
            options: &self.url_options,
        }
        .encode(&mut packet);
        match self.exchange(&packet, transaction_id).await? {
            Response::Announce(r) => Ok(AnnounceOutcome {
                interval: Duration::from_secs(u64::from(r.interval)),
                min_interval: None,
                peers: r.peers,
            }),
            Response::Error(e) => {
                // A stale connection id is a common cause; get a fresh one next time.
                self.connection.forget();
                Err(TrackerError::Failure(e.message))
            }
            _ => Err(TrackerError::Malformed(
                "unexpected reply to announce".into(),
            )),
        }
    }

    /// Scrapes one torrent.
    pub async fn scrape(&mut self, info_hash: [u8; 20]) -> Result<SwarmCounts, TrackerError> {
        let connection_id = self.connection_id().await?;
        let transaction_id = fastrand::u32(..);
        let mut packet = Vec::with_capacity(36);
        Request::Scrape(ScrapeRequest {
            connection_id,
            transaction_id,
            info_hashes: HashList::new(&info_hash)
                .map_err(|e| TrackerError::Malformed(e.to_string()))?,
        })
        .encode(&mut packet);
        match self.exchange(&packet, transaction_id).await? {
            Response::Scrape(r) => {
                let s = r.stats.first().copied().unwrap_or_default();
                Ok(SwarmCounts {
                    seeders: s.seeders,
                    leechers: s.leechers,
                    downloaded: s.completed,
                })
            }
            Response::Error(e) => {
                self.connection.forget();
                Err(TrackerError::Failure(e.message))
            }
            _ => Err(TrackerError::Malformed("unexpected reply to scrape".into())),
        }
    }

    async fn connection_id(&mut self) -> Result<u64, TrackerError> {
        if let Some(id) = self.connection.get(self.epoch.elapsed()) {
            return Ok(id);
        }
        let transaction_id = fastrand::u32(..);
        let mut packet = Vec::with_capacity(16);
        Request::Connect(ConnectRequest { transaction_id }).encode(&mut packet);
        match self.exchange(&packet, transaction_id).await? {
            Response::Connect(c) => {
                self.connection.store(c.connection_id, self.epoch.elapsed());
                Ok(c.connection_id)
            }
            Response::Error(e) => Err(TrackerError::Failure(e.message)),
            _ => Err(TrackerError::Malformed(
                "unexpected reply to connect".into(),
            )),
        }
    }

    /// Sends `packet` until a reply with `transaction_id` arrives.
    async fn exchange(&self, packet: &[u8], transaction_id: u32) -> Result<Response, TrackerError> {
        let family = if self.addr.is_ipv4() {
            AddrFamily::V4
        } else {
            AddrFamily::V6
        };
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut backoff = Backoff::new(FIRST_TIMEOUT, Duration::MAX);
        for _ in 0..TRIES {
            let wait = backoff.next_delay();
            self.socket.send(packet).await?;
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                let received = tokio::time::timeout_at(deadline, self.socket.recv(&mut buf)).await;
                let Ok(n) = received else { break };
                let datagram = buf.get(..n?).unwrap_or_default();
                // Junk and replies to older requests are skipped, not fatal.
                match Response::decode(datagram, family) {
                    Ok(r) if response_transaction(&r) == transaction_id => return Ok(r),
                    _ => continue,
                }
            }
        }
        Err(TrackerError::Timeout)
    }
}

fn response_transaction(r: &Response) -> u32 {
    match r {
        Response::Connect(c) => c.transaction_id,
        Response::Announce(a) => a.transaction_id,
        Response::Scrape(s) => s.transaction_id,
        Response::Error(e) => e.transaction_id,
    }
}
