//! Asking trackers how big swarms are (scrape: BEP 48 over HTTP(S), BEP 15
//! over UDP), many torrents per request: up to [`SCRAPE_BATCH`] info-hashes
//! in one (`info_hash=` repeated over HTTP, one packet over UDP).

use shoal_tracker_proto::http::{ScrapeReply, ScrapeRequest};

use super::{HTTP_TIMEOUT, Tracker, TrackerError};
use crate::http::{self, HttpUrl};

/// Most info-hashes in one scrape request: what fits one UDP packet
/// (BEP 15), and an HTTP request line of about 5 KiB, under the 8 KiB
/// request heads servers commonly accept.
pub const SCRAPE_BATCH: usize = shoal_tracker_proto::limits::MAX_UDP_SCRAPE_HASHES;

/// A swarm's size as one tracker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SwarmCounts {
    /// Peers with the whole torrent.
    pub seeders: u32,
    /// Peers still downloading.
    pub leechers: u32,
    /// Completed downloads the tracker has seen.
    pub downloaded: u32,
}

/// One tracker's answer to a scrape.
#[derive(Debug, Clone)]
pub struct ScrapeResult {
    /// The tracker's announce URL.
    pub url: String,
    /// Its counts, or why there are none.
    pub counts: Result<SwarmCounts, String>,
}

/// One torrent's counts from a batch, or why the batch failed.
pub type ScrapeCounts = Result<SwarmCounts, String>;

/// Scrapes every tracker of `tiers` for one torrent, one after another
/// (`shoal info --scrape`; a daemon batches with [`scrape_many`]).
pub async fn scrape(tiers: &[Vec<String>], info_hash: [u8; 20]) -> Vec<ScrapeResult> {
    let mut results = Vec::new();
    for url in tiers.iter().flatten() {
        let counts = scrape_many(url, &[info_hash])
            .await
            .pop()
            .map_or_else(|| Err("no reply".to_owned()), |(_, c)| c);
        results.push(ScrapeResult {
            url: url.clone(),
            counts,
        });
    }
    results
}

/// Scrapes `info_hashes` at the tracker with announce URL `url`, in
/// requests of at most [`SCRAPE_BATCH`] hashes, one request after another;
/// each hash gets its counts or its request's error, in the order given.
/// A hash the tracker leaves out of its reply counts zero (it has no swarm).
pub async fn scrape_many(url: &str, info_hashes: &[[u8; 20]]) -> Vec<([u8; 20], ScrapeCounts)> {
    let mut out = Vec::with_capacity(info_hashes.len());
    let mut tracker = match Tracker::new(url.into()) {
        Ok(t) => t,
        Err(err) => {
            let err = err.to_string();
            return info_hashes.iter().map(|h| (*h, Err(err.clone()))).collect();
        }
    };
    for batch in info_hashes.chunks(SCRAPE_BATCH) {
        match tracker.scrape(batch).await {
            Ok(counts) => out.extend(batch.iter().copied().zip(counts.into_iter().map(Ok))),
            Err(err) => {
                let err = err.to_string();
                out.extend(batch.iter().map(|h| (*h, Err(err.clone()))));
            }
        }
    }
    out
}

/// The scrape URL BEP 48 derives from an announce URL: the last path
/// element must start with `announce`, which becomes `scrape`.
pub(crate) fn scrape_url(announce: &str) -> Option<String> {
    let (base, query) = match announce.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (announce, None),
    };
    let slash = base.rfind('/')?;
    let last = base.get(slash + 1..)?;
    let rest = last.strip_prefix("announce")?;
    let mut url = format!("{}/scrape{rest}", base.get(..slash)?);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    Some(url)
}

/// Scrapes `info_hashes` (at most [`SCRAPE_BATCH`]) at one HTTP(S)
/// tracker in one request; their counts in the order given.
pub(crate) async fn http_scrape(
    announce: &str,
    info_hashes: &[[u8; 20]],
) -> Result<Vec<SwarmCounts>, TrackerError> {
    let base = scrape_url(announce)
        .ok_or_else(|| TrackerError::Unsupported(format!("{announce} has no scrape URL")))?;
    let query = ScrapeRequest {
        info_hashes: info_hashes.iter().take(SCRAPE_BATCH).copied().collect(),
    }
    .to_query();
    let sep = if base.contains('?') { '&' } else { '?' };
    let target = HttpUrl::parse(&format!("{base}{sep}{query}"))?;
    let body = http::get(&target, HTTP_TIMEOUT).await?;
    match ScrapeReply::decode(&body).map_err(|e| TrackerError::Malformed(e.to_string()))? {
        ScrapeReply::Failure(reason) => Err(TrackerError::Failure(reason)),
        ScrapeReply::Files(files) => Ok(info_hashes
            .iter()
            .take(SCRAPE_BATCH)
            .map(|h| {
                let s = files.get(h).copied().unwrap_or_default();
                SwarmCounts {
                    seeders: s.complete,
                    leechers: s.incomplete,
                    downloaded: s.downloaded,
                }
            })
            .collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrape_urls_follow_bep_48() {
        let cases = [
            ("http://t/announce", Some("http://t/scrape")),
            ("http://t/x/announce?k=1", Some("http://t/x/scrape?k=1")),
            ("http://t/announce.php", Some("http://t/scrape.php")),
            ("http://t/announce/abc", None),
            ("http://t/a", None),
            ("https://t:443/announce", Some("https://t:443/scrape")),
        ];
        for (announce, want) in cases {
            assert_eq!(scrape_url(announce).as_deref(), want, "{announce}");
        }
    }
}
