//! `torrent-get`'s detail fields: files, peers, pieces, trackers and their
//! stats, which need the per-file and per-piece view of a torrent.

use serde_json::{Map, Value, json};

use super::args::Style;
use crate::snapshot::TorrentSnapshot;
use crate::view::{DetailView, FilePage, Status};

/// The detail fields of one torrent that `wanted` asks for, keyed in
/// snake_case; nested objects in `style`. Only the asked ones are built: the
/// per-piece ones are as long as a hostile torrent's piece list. The
/// per-file ones are `file_lists`' job.
pub(super) fn detail_fields(
    snap: &TorrentSnapshot,
    style: Style,
    wanted: impl Fn(&str) -> bool,
) -> Map<String, Value> {
    let detail = crate::view::detail(snap, FilePage::NONE);
    // Transmission's `availability`: peers with each piece, -1 for the
    // pieces we have; empty while the torrent is not running.
    let pieces = snap.handle.as_ref().map(|h| h.piece_availability());
    let mut m = Map::new();
    let mut put = |key: &str, value: &dyn Fn() -> Value| {
        if wanted(key) {
            m.insert(key.to_owned(), value());
        }
    };
    put("peers", &|| {
        detail
            .peers
            .iter()
            .map(|p| {
                style.object(json!({
                    "address": p.ip, "port": p.port, "client_name": p.client,
                    "client_is_choked": p.peer_choking, "client_is_interested": p.am_interested,
                    "peer_is_choked": p.am_choking, "peer_is_interested": p.peer_interested,
                    "is_downloading_from": p.am_interested && !p.peer_choking,
                    "is_uploading_to": p.peer_interested && !p.am_choking,
                    "is_incoming": p.incoming, "flag_str": p.flags, "progress": p.progress,
                    "rate_to_client": p.download_rate, "rate_to_peer": p.upload_rate,
                    "bytes_to_client": p.downloaded, "bytes_to_peer": p.uploaded,
                    "is_encrypted": p.encrypted, "is_utp": p.transport == "utp",
                }))
            })
            .collect()
    });
    put("peers_from", &|| {
        let from = |source: &str| detail.peers.iter().filter(|p| p.source == source).count();
        style.object(json!({
            "from_cache": 0, "from_dht": from("dht"), "from_incoming": from("incoming"),
            "from_lpd": from("lsd"), "from_ltep": 0, "from_pex": from("pex"), "from_tracker": from("tracker"),
        }))
    });
    put("trackers", &|| {
        let mut trackers = Vec::new();
        for (tier, urls) in detail.trackers.iter().enumerate() {
            for url in urls {
                trackers.push(style.object(json!({
                    "announce": url, "scrape": scrape_url(url), "tier": tier,
                    "id": trackers.len(), "sitename": sitename(url),
                })));
            }
        }
        trackers.into()
    });
    put("availability", &|| {
        pieces
            .as_ref()
            .map_or_else(Vec::new, |p| {
                p.iter()
                    .map(|a| Value::from(a.map_or(-1, i64::from)))
                    .collect()
            })
            .into()
    });
    put("desired_available", &|| {
        desired_available(snap, pieces.as_deref()).into()
    });
    put("pieces", &|| detail.pieces.clone().into());
    put("tracker_stats", &|| tracker_stats(&detail, style).into());
    put("magnet_link", &|| detail.magnet.clone().into());
    m
}

/// Bytes of wanted pieces we lack that a connected peer has
/// (Transmission's `desiredAvailable`); 0 while not running.
fn desired_available(snap: &TorrentSnapshot, pieces: Option<&[Option<u32>]>) -> u64 {
    let (Some(pieces), Some(torrent)) = (pieces, snap.torrent.as_ref()) else {
        return 0;
    };
    let info = &torrent.info;
    let mut wanted = vec![false; pieces.len()];
    for (index, file) in info.files.iter().enumerate() {
        let skipped = snap.record.file_priorities.get(index) == Some(&0);
        if file.attr.pad || skipped {
            continue;
        }
        for p in info.file_pieces(index) {
            if let Some(w) = wanted.get_mut(p) {
                *w = true;
            }
        }
    }
    pieces
        .iter()
        .zip(wanted)
        .enumerate()
        .filter(|(_, (a, w))| *w && a.is_some_and(|n| n > 0))
        .map(|(p, _)| info.piece_size(p))
        .sum()
}

/// A tracker's site name as Transmission shows it: the host's second-level
/// label ("example" for tracker.example.org), or the address itself for an
/// IP address.
fn sitename(url: &str) -> String {
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['/', '?'])
        .next()
        .unwrap_or_default();
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default().to_owned();
    }
    let host = authority.split(':').next().unwrap_or_default();
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return host.to_owned();
    }
    let labels: Vec<&str> = host.split('.').collect();
    match labels.len() {
        0 | 1 => host.to_owned(),
        n => labels.get(n - 2).copied().unwrap_or(host).to_owned(),
    }
}

/// Transmission's `trackerStats` of our tracker views.
fn tracker_stats(detail: &DetailView, style: Style) -> Vec<Value> {
    let running = matches!(detail.summary.status, Status::Downloading | Status::Seeding);
    detail
        .tracker_stats
        .iter()
        .enumerate()
        .map(|(id, t)| {
            // "scheme://host:port", as Transmission shows a tracker's host.
            let host = t
                .url
                .split_once("://")
                .map(|(scheme, rest)| {
                    let authority = rest.split(['/', '?']).next().unwrap_or_default();
                    format!("{scheme}://{authority}")
                })
                .unwrap_or_else(|| t.url.clone());
            let count = |c: Option<u32>| c.map_or(-1, i64::from);
            style.object(json!({
                "id": id,
                "tier": t.tier,
                "announce": t.url,
                "scrape": scrape_url(&t.url),
                "host": host,
                "sitename": sitename(&t.url),
                "is_backup": false,
                "has_announced": t.last_announce.is_some(),
                "last_announce_time": t.last_announce.unwrap_or(0),
                "last_announce_start_time": t.last_announce.unwrap_or(0),
                "last_announce_succeeded": t.last_announce_ok.unwrap_or(false),
                // Transmission's words: empty until the first announce.
                "last_announce_result": match (&t.last_announce_error, t.last_announce) {
                    (Some(e), _) => e.clone(),
                    (None, Some(_)) => "Success".to_owned(),
                    (None, None) => String::new(),
                },
                "last_announce_peer_count": t.last_announce_peers.unwrap_or(0),
                "last_announce_timed_out": t.last_announce_error.as_deref() == Some("timed out"),
                "next_announce_time": t.next_announce.unwrap_or(0),
                // 0 inactive, 1 waiting (tr_tracker_state).
                "announce_state": if running && t.next_announce.is_some() { 1 } else { 0 },
                "has_scraped": t.last_scrape.is_some(),
                "last_scrape_time": t.last_scrape.unwrap_or(0),
                "last_scrape_start_time": t.last_scrape.unwrap_or(0),
                "last_scrape_succeeded": t.last_scrape.is_some() && t.scrape_error.is_none(),
                "last_scrape_result": t.scrape_error.clone().unwrap_or_default(),
                "last_scrape_timed_out": t.scrape_error.as_deref() == Some("timed out"),
                "next_scrape_time": if running { t.last_scrape.map_or(0, |at| at + crate::scrape::SWEEP.as_secs()) } else { 0 },
                "scrape_state": if running { 1 } else { 0 },
                "seeder_count": count(t.seeders),
                "leecher_count": count(t.leechers),
                "download_count": count(t.downloads),
            }))
        })
        .collect()
}

/// The scrape URL BEP 48 derives from an announce URL (empty if none).
fn scrape_url(announce: &str) -> String {
    if announce.starts_with("udp://") {
        return announce.to_owned();
    }
    let (base, query) = announce.split_once('?').unwrap_or((announce, ""));
    let Some((dir, last)) = base.rsplit_once('/') else {
        return String::new();
    };
    let Some(rest) = last.strip_prefix("announce") else {
        return String::new();
    };
    let mut url = format!("{dir}/scrape{rest}");
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::sitename;

    #[test]
    fn site_names_are_the_second_level_label_or_the_address() {
        assert_eq!(
            sitename("https://tracker.example.org:443/announce"),
            "example"
        );
        assert_eq!(sitename("udp://opentracker:6969"), "opentracker");
        assert_eq!(sitename("http://127.0.0.1:1/announce"), "127.0.0.1");
        assert_eq!(sitename("http://[::1]:6969/announce"), "::1");
    }
}
