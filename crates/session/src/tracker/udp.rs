//! A BEP 15 UDP tracker client for one torrent: announces and scrapes as
//! exchanges on its host (`udp_host.rs`: the socket, the connection id and
//! the clock around [`shoal_tracker_proto::announce::UdpExchange`]).

use std::sync::Arc;
use std::time::Duration;

use shoal_tracker_proto::announce::{UdpAnnounce, UdpQuery, UdpReply};

use super::udp_host::{UdpHost, UdpHosts};
use super::{Announce, AnnounceOutcome, SwarmCounts, TrackerError};

/// One UDP tracker as one torrent uses it: the host at one address of each
/// family we listen on (socket and connection id, shared with the session's
/// other torrents when it has a [`UdpHosts`]) and the URL data this torrent
/// sends.
pub(crate) struct UdpTracker {
    /// Never empty; at most one per family ([`super::udp_host::open_all`]).
    hosts: Vec<Arc<UdpHost>>,
    /// BEP 41 options carrying the URL's path and query (empty if none).
    url_options: Vec<u8>,
}

impl UdpTracker {
    /// The host `host:port` (the session's shared one when `hosts` is
    /// given, else one of its own); `url_data` (the URL's path and query)
    /// goes with every announce; the host is reached at an address of each
    /// of `families` it has one of.
    pub async fn new(
        host: &str,
        port: u16,
        url_data: &str,
        hosts: Option<&UdpHosts>,
        families: Option<crate::dht::Families>,
    ) -> Result<UdpTracker, TrackerError> {
        let hosts = match hosts {
            Some(hosts) => hosts.get(host, port, families).await?,
            None => super::udp_host::open_all(host, port, families, &[]).await?,
        };
        Ok(UdpTracker {
            hosts,
            url_options: if url_data.is_empty() {
                Vec::new()
            } else {
                let mut options = Vec::new();
                shoal_tracker_proto::udp::write_url_data(&mut options, url_data.as_bytes());
                options
            },
        })
    }

    /// Announces at each of the host's addresses at once and returns the
    /// peers all of them gave, with the interval of the first that
    /// answered; fails only if none did (with the first one's error).
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
        let results = match self.hosts.as_slice() {
            [first, second, ..] => {
                let (a, b) = tokio::join!(
                    announce_at(first, query.clone()),
                    announce_at(second, query)
                );
                vec![a, b]
            }
            [only] => vec![announce_at(only, query).await],
            [] => vec![Err(TrackerError::Timeout)],
        };
        let mut merged: Option<AnnounceOutcome> = None;
        let mut first_error = None;
        for result in results {
            match (result, &mut merged) {
                (Ok(outcome), None) => merged = Some(outcome),
                (Ok(outcome), Some(m)) => m.peers.extend(outcome.peers),
                (Err(e), _) => {
                    tracing::debug!("UDP announce at one of the tracker's addresses failed: {e}");
                    first_error.get_or_insert(e);
                }
            }
        }
        merged.ok_or_else(|| first_error.unwrap_or(TrackerError::Timeout))
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
        let host = self.hosts.first().ok_or(TrackerError::Timeout)?;
        match host.exchange(UdpQuery::Scrape(batch.to_vec())).await? {
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
}

/// One announce exchange with `host`.
async fn announce_at(host: &UdpHost, query: UdpQuery) -> Result<AnnounceOutcome, TrackerError> {
    match host.exchange(query).await? {
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
