//! One torrent as qBittorrent's `torrents/info` (and `sync/maindata`)
//! describes it: a typed struct borrowing from the snapshot and its view,
//! written straight to JSON. qBittorrent has no field selection, so every
//! call writes its ~60 fields for every torrent: built as a JSON tree (a
//! map of owned keys and values per torrent) that cost a few hundred
//! allocations each; here the keys are the struct's and most values are
//! borrowed or written as they are serialised. The text of each torrent is
//! kept in the shared table's row (`table::Row::qbt_json`), so reads of
//! one table build each object once.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::options;
use crate::snapshot::TorrentSnapshot;
use crate::store::{LimitMode, TorrentRecord};
use crate::view::{Status, TorrentView};

/// qBittorrent 5's state name (its `stoppedUP`/`stoppedDL` were
/// `pausedUP`/`pausedDL` before 5.0).
pub(super) fn state(v: &TorrentView) -> &'static str {
    let done = v.has_metadata && v.left_until_done == 0;
    match (v.status, done) {
        (Status::Error, _) => "error",
        (Status::Stopped, true) => "stoppedUP",
        (Status::Stopped, false) => "stoppedDL",
        (Status::Queued, true) => "queuedUP",
        (Status::Queued, false) => "queuedDL",
        // qBittorrent's WebUI and its clients know this state (libtorrent's
        // queued_for_checking).
        (Status::QueuedForCheck, _) => "queuedForChecking",
        (Status::Checking, true) => "checkingUP",
        (Status::Checking, false) => "checkingDL",
        (Status::FetchingMetadata, _) => "metaDL",
        (Status::Seeding, _) if v.upload_rate == 0 => "stalledUP",
        (Status::Seeding, _) => "uploading",
        (Status::Downloading, _) if v.download_rate == 0 => "stalledDL",
        (Status::Downloading, _) => "downloading",
    }
}

/// A `torrents/info` object.
#[derive(Serialize)]
pub(super) struct TorrentObject<'a> {
    hash: &'a str,
    infohash_v1: &'a str,
    infohash_v2: &'static str,
    name: &'a str,
    size: u64,
    total_size: u64,
    progress: f64,
    dlspeed: u64,
    upspeed: u64,
    /// Its place in the queue (1 first), as qBittorrent shows it for
    /// torrents still downloading; 0 once complete.
    priority: usize,
    num_seeds: usize,
    num_leechs: usize,
    /// The swarm as the trackers' last scrape saw it (the largest answer,
    /// as qBittorrent takes); -1 before any.
    num_complete: i64,
    num_incomplete: i64,
    ratio: f64,
    eta: i64,
    state: &'static str,
    seq_dl: bool,
    f_l_piece_prio: bool,
    category: &'a str,
    #[serde(serialize_with = "display")]
    tags: Joined<'a>,
    super_seeding: bool,
    force_start: bool,
    save_path: &'a str,
    download_path: &'a str,
    #[serde(serialize_with = "display")]
    content_path: ContentPath<'a>,
    #[serde(serialize_with = "display")]
    root_path: ContentPath<'a>,
    added_on: u64,
    completion_on: i64,
    /// The first tracker whose last announce worked.
    tracker: String,
    trackers_count: usize,
    dl_limit: i64,
    up_limit: i64,
    downloaded: u64,
    uploaded: u64,
    downloaded_session: u64,
    uploaded_session: u64,
    amount_left: u64,
    completed: u64,
    max_ratio: f64,
    max_seeding_time: i64,
    max_inactive_seeding_time: i64,
    ratio_limit: f64,
    seeding_time_limit: i64,
    inactive_seeding_time_limit: i64,
    seen_complete: u64,
    last_activity: u64,
    time_active: u64,
    seeding_time: u64,
    auto_tmm: bool,
    availability: i8,
    #[serde(serialize_with = "display")]
    magnet_uri: MagnetUri<'a>,
    private: bool,
    comment: &'a str,
    reannounce: u8,
    popularity: u8,
    has_metadata: bool,
}

/// The object of `snap` and its view `v`.
pub(super) fn object<'a>(snap: &'a TorrentSnapshot, v: &'a TorrentView) -> TorrentObject<'a> {
    let r = &snap.record;
    let torrent = snap.torrent.as_deref();
    // Where the files are: under the torrent's own name, whatever name it
    // is shown under.
    let root = torrent.map_or(v.name.as_str(), |t| t.info.name.as_str());
    let content_path = ContentPath {
        dir: &v.download_dir,
        root,
    };
    let tracker = snap
        .handle
        .as_ref()
        .and_then(|h| {
            h.announces()
                .0
                .into_iter()
                .find(|a| a.result.is_ok())
                .map(|a| a.url.to_string())
        })
        .unwrap_or_default();
    let seeds = connected_seeds(snap, v);
    let limit = |b: Option<u64>| b.map_or(-1, |b| i64::try_from(b).unwrap_or(-1));
    TorrentObject {
        hash: &v.info_hash,
        infohash_v1: &v.info_hash,
        infohash_v2: "",
        name: &v.name,
        size: v.size_when_done,
        total_size: v.total_size,
        progress: v.progress,
        dlspeed: v.download_rate,
        upspeed: v.upload_rate,
        priority: if v.has_metadata && v.left_until_done == 0 {
            0
        } else {
            v.queue_position.saturating_add(1)
        },
        num_seeds: seeds,
        num_leechs: v.peers.saturating_sub(seeds),
        num_complete: swarm_count(snap, |c| c.seeders),
        num_incomplete: swarm_count(snap, |c| c.leechers),
        ratio: v.ratio,
        eta: if v.eta < 0 { 8_640_000 } else { v.eta },
        state: state(v),
        seq_dl: v.sequential,
        f_l_piece_prio: v.first_last_pieces,
        category: r.category.as_deref().unwrap_or(""),
        tags: Joined(&v.labels),
        super_seeding: stored_flag(r, options::SUPER_SEEDING),
        force_start: stored_flag(r, options::FORCE_START),
        save_path: &v.download_dir,
        download_path: stored_path(r),
        content_path,
        root_path: content_path,
        added_on: v.added_at,
        completion_on: v.done_at.map_or(-1, |t| i64::try_from(t).unwrap_or(-1)),
        tracker,
        trackers_count: snap.trackers().iter().map(Vec::len).sum(),
        dl_limit: limit(v.max_download),
        up_limit: limit(v.max_upload),
        downloaded: v.downloaded,
        uploaded: v.uploaded,
        downloaded_session: v.downloaded,
        uploaded_session: v.uploaded,
        amount_left: v.left_until_done,
        completed: v.size_when_done.saturating_sub(v.left_until_done),
        max_ratio: v.seed_ratio_limit.unwrap_or(-1.0),
        max_seeding_time: snap.seed_time_limit.map_or(-1, minutes),
        max_inactive_seeding_time: v
            .seed_idle_limit
            .map_or(-1, |s| i64::try_from(s.div_ceil(60)).unwrap_or(-1)),
        ratio_limit: match r.seed_ratio_mode {
            Some(LimitMode::Unlimited) => -1.0,
            Some(LimitMode::Session) => -2.0,
            _ => r.seed_ratio_limit.unwrap_or(-2.0),
        },
        seeding_time_limit: own_limit(r.seed_time_mode, r.seed_time_limit),
        inactive_seeding_time_limit: own_limit(r.seed_idle_mode, r.seed_idle_limit),
        seen_complete: v.done_at.unwrap_or(0),
        last_activity: v.active_at.unwrap_or(0),
        time_active: v.seconds_downloading.saturating_add(v.seconds_seeding),
        seeding_time: v.seconds_seeding,
        auto_tmm: stored_flag(r, options::AUTO_TMM),
        availability: -1,
        magnet_uri: MagnetUri(snap, v),
        private: torrent.is_some_and(|t| t.info.private),
        comment: torrent.and_then(|t| t.comment.as_deref()).unwrap_or(""),
        reannounce: 0,
        popularity: 0,
        has_metadata: v.has_metadata,
    }
}

/// The object of `snap` and `v` as JSON text.
pub(super) fn object_json(snap: &TorrentSnapshot, v: &TorrentView) -> String {
    serde_json::to_string(&object(snap, v)).unwrap_or_else(|_| "null".into())
}

/// Writes a value through its `Display`, escaped as a JSON string, with no
/// string built first.
fn display<T: fmt::Display, S: serde::Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// Labels joined as qBittorrent joins tags.
struct Joined<'a>(&'a [String]);

impl fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, label) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(label)?;
        }
        Ok(())
    }
}

/// The torrent's top-level file or folder under its download directory.
#[derive(Clone, Copy)]
struct ContentPath<'a> {
    dir: &'a str,
    root: &'a str,
}

impl fmt::Display for ContentPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As `Path::join`: download directories are absolute and names
        // are sanitised, so only a trailing separator needs care.
        f.write_str(self.dir)?;
        if !self.dir.ends_with('/') {
            f.write_str("/")?;
        }
        f.write_str(self.root)
    }
}

/// The magnet link it was added by, else one built from its metainfo.
struct MagnetUri<'a>(&'a TorrentSnapshot, &'a TorrentView);

impl fmt::Display for MagnetUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.1.magnet, &self.0.torrent) {
            (Some(link), _) => f.write_str(link),
            (None, Some(t)) => fmt::Display::fmt(&t.magnet(), f),
            (None, None) => Ok(()),
        }
    }
}

/// Whole minutes of `secs`, rounded up (qBittorrent counts limits in
/// minutes).
fn minutes(secs: u64) -> i64 {
    i64::try_from(secs.div_ceil(60)).unwrap_or(i64::MAX)
}

/// A torrent's own time limit as qBittorrent shows it: minutes, -2 for
/// the session's, -1 for none.
fn own_limit(mode: Option<LimitMode>, own: Option<u64>) -> i64 {
    match (mode, own) {
        (Some(LimitMode::Unlimited), _) => -1,
        (Some(LimitMode::Session), _) | (None | Some(LimitMode::Own), None) => -2,
        (_, Some(secs)) => minutes(secs),
    }
}

/// The largest of the trackers' scraped counts, -1 when none answered.
fn swarm_count(snap: &TorrentSnapshot, count: impl Fn(&shoal_session::SwarmCounts) -> u32) -> i64 {
    snap.scrape
        .iter()
        .filter_map(|s| s.counts.as_ref().ok())
        .map(|c| i64::from(count(c)))
        .max()
        .unwrap_or(-1)
}

/// Connected peers that have every piece (none while not running).
pub(super) fn connected_seeds(snap: &TorrentSnapshot, v: &TorrentView) -> usize {
    if v.peers == 0 {
        0
    } else {
        snap.stats.seeds.min(v.peers)
    }
}

/// A stored-only flag of qBittorrent's (see `options`).
fn stored_flag(r: &TorrentRecord, key: &str) -> bool {
    r.stored.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// The stored-only incomplete-download path (see `options`).
pub(super) fn stored_path(r: &TorrentRecord) -> &str {
    r.stored
        .get(options::DOWNLOAD_PATH)
        .and_then(Value::as_str)
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use shoal_metainfo::{ContentHashes, NewFile, Torrent, TorrentSpec, Version};

    use super::*;
    use crate::snapshot::Activity;

    fn snapshot() -> TorrentSnapshot {
        let files = vec![NewFile {
            path: vec!["f.bin".into()],
            length: 1000,
            executable: false,
        }];
        let mut spec = TorrentSpec::new("top".into(), files, false, 16 * 1024);
        spec.version = Version::V1;
        spec.trackers = vec![vec!["http://127.0.0.1:1/announce".into()]];
        let hashes = ContentHashes {
            v1_pieces: vec![[7u8; 20]],
            v2_files: vec![],
        };
        let torrent = Torrent::from_bytes(&spec.encode(&hashes).unwrap()).unwrap();
        let hex = shoal_metainfo::infohash::hex(&torrent.info_hashes.wire_id().unwrap());
        let mut record = TorrentRecord::new(3, hex, "shown".into(), "/srv/dl/".into());
        record.labels = vec!["tv".into(), "hd".into()];
        record.category = Some("films".into());
        TorrentSnapshot {
            counters: crate::store::Counters::of(&record),
            record: record.into(),
            torrent: Some(Arc::new(torrent)),
            activity: Activity::Stopped,
            handle: None,
            error: None,
            warning: None,
            stats: Default::default(),
            down_rate: 0.0,
            up_rate: 0.0,
            scrape: Vec::new(),
            scraped_at: None,
            seed_ratio_limit: None,
            seed_idle_limit: None,
            seed_time_limit: None,
            queue_position: 0,
        }
    }

    #[test]
    fn the_object_has_every_field_written_in_place() {
        let snap = snapshot();
        let view = crate::view::of(&snap);
        let text = object_json(&snap, &view);
        let o: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(o, serde_json::to_value(object(&snap, &view)).unwrap());
        // The fields of qBittorrent's `torrents/info` (WebAPI v2) objects.
        for key in [
            "added_on",
            "amount_left",
            "auto_tmm",
            "availability",
            "category",
            "completed",
            "completion_on",
            "content_path",
            "dl_limit",
            "dlspeed",
            "downloaded",
            "downloaded_session",
            "eta",
            "f_l_piece_prio",
            "force_start",
            "hash",
            "infohash_v1",
            "infohash_v2",
            "last_activity",
            "magnet_uri",
            "max_ratio",
            "max_seeding_time",
            "name",
            "num_complete",
            "num_incomplete",
            "num_leechs",
            "num_seeds",
            "priority",
            "progress",
            "ratio",
            "ratio_limit",
            "save_path",
            "seeding_time",
            "seeding_time_limit",
            "seen_complete",
            "seq_dl",
            "size",
            "state",
            "super_seeding",
            "tags",
            "time_active",
            "total_size",
            "tracker",
            "trackers_count",
            "up_limit",
            "uploaded",
            "uploaded_session",
            "upspeed",
            "private",
            "comment",
            "has_metadata",
        ] {
            assert!(o.get(key).is_some(), "{key} missing: {o}");
        }
        assert_eq!(o["tags"], "tv, hd");
        assert_eq!(o["category"], "films");
        assert_eq!(o["name"], "shown");
        assert_eq!(o["content_path"], "/srv/dl/top");
        assert_eq!(o["root_path"], o["content_path"]);
        assert_eq!(o["trackers_count"], 1);
        assert_eq!(o["state"], "stoppedUP", "no bytes left");
        let magnet = o["magnet_uri"].as_str().unwrap();
        assert!(
            magnet.starts_with(&format!("magnet:?xt=urn:btih:{}", snap.record.info_hash)),
            "{magnet}"
        );
    }
}
