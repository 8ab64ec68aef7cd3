//! A BEP 15 UDP tracker client: the I/O around
//! [`shoal_tracker_proto::announce::UdpExchange`], which decides what to
//! send when (connect, cached connection ids, retransmits) and what a reply
//! means; this file owns the socket and the clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use shoal_tracker_proto::announce::{
    ConnectionIdCache, UdpAnnounce, UdpExchange, UdpFailure, UdpQuery, UdpReply,
};
use shoal_tracker_proto::udp::AddrFamily;
use tokio::net::UdpSocket;

use super::{Announce, AnnounceOutcome, SwarmCounts, TrackerError};

/// Largest datagram read.
const MAX_DATAGRAM: usize = 2048;

/// One UDP tracker and its cached connection id.
pub(crate) struct UdpTracker {
    addr: SocketAddr,
    socket: UdpSocket,
    connection: ConnectionIdCache,
    /// The exchanges' time zero.
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
        let query = UdpQuery::Announce(UdpAnnounce {
            info_hash: a.info_hash,
            peer_id: a.peer_id,
            downloaded: a.downloaded,
            left: a.left,
            uploaded: a.uploaded,
            event: a.event,
            key: a.key,
            num_want: a.numwant.try_into().unwrap_or(-1),
            port: a.port,
            options: self.url_options.clone(),
        });
        match self.exchange(query).await? {
            UdpReply::Announce(r) => Ok(AnnounceOutcome {
                interval: Duration::from_secs(u64::from(r.interval)),
                min_interval: None,
                peers: r.peers,
            }),
            UdpReply::Scrape(_) => Err(TrackerError::Malformed(
                "unexpected reply to announce".into(),
            )),
        }
    }

    /// Scrapes up to 74 torrents in one request (BEP 15); their counts in
    /// the order given (zero for any the reply leaves out).
    pub async fn scrape(
        &mut self,
        info_hashes: &[[u8; 20]],
    ) -> Result<Vec<SwarmCounts>, TrackerError> {
        let batch = info_hashes
            .get(..info_hashes.len().min(super::SCRAPE_BATCH))
            .unwrap_or_default();
        match self.exchange(UdpQuery::Scrape(batch.to_vec())).await? {
            UdpReply::Scrape(r) => {
                let mut stats = r.stats.into_iter();
                Ok(batch
                    .iter()
                    .map(|_| {
                        let s = stats.next().unwrap_or_default();
                        SwarmCounts {
                            seeders: s.seeders,
                            leechers: s.leechers,
                            downloaded: s.completed,
                        }
                    })
                    .collect())
            }
            UdpReply::Announce(_) => {
                Err(TrackerError::Malformed("unexpected reply to scrape".into()))
            }
        }
    }

    /// Runs one exchange: sends what it says when it says, hands it every
    /// datagram that arrives, until it has a result.
    async fn exchange(&mut self, query: UdpQuery) -> Result<UdpReply, TrackerError> {
        let family = if self.addr.is_ipv4() {
            AddrFamily::V4
        } else {
            AddrFamily::V6
        };
        // Transaction ids must not be guessable by an off-path spoofer:
        // from the OS, not a fast PRNG (`secure.rs`).
        let ids = [crate::secure::u32(), crate::secure::u32()];
        let now = self.epoch.elapsed();
        let mut ex = UdpExchange::new(query, family, &self.connection, ids, now);
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            while let Some(packet) = ex.poll_transmit(self.epoch.elapsed()) {
                self.socket.send(&packet).await?;
            }
            if let Some(outcome) = ex.poll_outcome() {
                return outcome.map_err(|failure| match failure {
                    UdpFailure::TimedOut => TrackerError::Timeout,
                    UdpFailure::Refused(message) => TrackerError::Failure(message),
                    // "unexpected reply to …", and whatever comes later.
                    other => TrackerError::Malformed(other.to_string()),
                });
            }
            let Some(next) = ex.poll_timeout() else {
                return Err(TrackerError::Timeout);
            };
            let deadline = tokio::time::Instant::from_std(self.epoch + next);
            if let Ok(received) =
                tokio::time::timeout_at(deadline, self.socket.recv(&mut buf)).await
            {
                let datagram = buf.get(..received?).unwrap_or_default();
                ex.handle_datagram(datagram, &mut self.connection, self.epoch.elapsed());
            }
        }
    }
}
