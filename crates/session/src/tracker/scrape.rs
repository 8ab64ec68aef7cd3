//! Asking trackers how big a swarm is (scrape: BEP 48 over HTTP(S), BEP 15
//! over UDP), one torrent at a time.

use shoal_tracker_proto::http::{ScrapeReply, ScrapeRequest};

use super::{HTTP_TIMEOUT, Tracker, TrackerError};
use crate::http::{self, HttpUrl};

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

/// Scrapes every tracker of `tiers` for `info_hash`, one after another.
pub async fn scrape(tiers: &[Vec<String>], info_hash: [u8; 20]) -> Vec<ScrapeResult> {
    let mut results = Vec::new();
    for url in tiers.iter().flatten() {
        let counts = match Tracker::new(url) {
            Ok(mut tracker) => tracker.scrape(info_hash).await,
            Err(err) => Err(err),
        };
        results.push(ScrapeResult {
            url: url.clone(),
            counts: counts.map_err(|e| e.to_string()),
        });
    }
    results
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

/// Scrapes one HTTP(S) tracker.
pub(crate) async fn http_scrape(
    announce: &str,
    info_hash: [u8; 20],
) -> Result<SwarmCounts, TrackerError> {
    let base = scrape_url(announce)
        .ok_or_else(|| TrackerError::Unsupported(format!("{announce} has no scrape URL")))?;
    let query = ScrapeRequest {
        info_hashes: vec![info_hash],
    }
    .to_query();
    let sep = if base.contains('?') { '&' } else { '?' };
    let target = HttpUrl::parse(&format!("{base}{sep}{query}"))?;
    let body = http::get(&target, HTTP_TIMEOUT).await?;
    match ScrapeReply::decode(&body).map_err(|e| TrackerError::Malformed(e.to_string()))? {
        ScrapeReply::Failure(reason) => Err(TrackerError::Failure(reason)),
        ScrapeReply::Files(files) => {
            let s = files.get(&info_hash).copied().unwrap_or_default();
            Ok(SwarmCounts {
                seeders: s.complete,
                leechers: s.incomplete,
                downloaded: s.downloaded,
            })
        }
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
