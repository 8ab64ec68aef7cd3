//! Snapshots of torrents as the APIs and the UI show them.

use serde::Serialize;

use crate::snapshot::{Activity, TorrentSnapshot};

/// What a torrent is doing, for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Stopped by the user.
    Stopped,
    /// Waiting for a download slot.
    Queued,
    /// Waiting for a check slot (a few checks run at once; the rest wait
    /// their turn, as after a restart with thousands of torrents).
    QueuedForCheck,
    /// Checking data on disk.
    Checking,
    /// Fetching a magnet link's metadata from peers.
    FetchingMetadata,
    /// Fetching pieces.
    Downloading,
    /// Complete and uploading.
    Seeding,
    /// Stopped by an error (see `error`).
    Error,
}

/// One torrent, as the native API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct TorrentView {
    /// Numeric id (also used by the Transmission RPC).
    pub id: u32,
    /// Info-hash, hex.
    pub info_hash: String,
    /// Name.
    pub name: String,
    /// What it is doing.
    pub status: Status,
    /// Stopped by the user.
    pub paused: bool,
    /// Share of wanted bytes verified, 0–1.
    pub progress: f64,
    /// Size of all files.
    pub total_size: u64,
    /// Size of the wanted files.
    pub size_when_done: u64,
    /// Wanted bytes still missing.
    pub left_until_done: u64,
    /// Download rate, bytes per second.
    pub download_rate: u64,
    /// Upload rate, bytes per second.
    pub upload_rate: u64,
    /// Seconds to completion at the current rate (-1: unknown or done).
    pub eta: i64,
    /// Connected peers.
    pub peers: usize,
    /// Bytes received over the torrent's life.
    pub downloaded: u64,
    /// Bytes sent over the torrent's life.
    pub uploaded: u64,
    /// uploaded / size when done.
    pub ratio: f64,
    /// Verified pieces.
    pub pieces_have: u32,
    /// Pieces in the torrent.
    pub pieces_total: u32,
    /// Piece size, bytes.
    pub piece_size: u64,
    /// Where the content lives.
    pub download_dir: String,
    /// When it was added (Unix seconds).
    pub added_at: u64,
    /// When it completed (Unix seconds).
    pub done_at: Option<u64>,
    /// Why it stopped, if it failed.
    pub error: Option<String>,
    /// A problem that has not stopped it yet: its download directory has
    /// less free space than it still has to download.
    pub warning: Option<String>,
    /// Pieces are fetched in order.
    pub sequential: bool,
    /// Each wanted file's first and last pieces are fetched first.
    pub first_last_pieces: bool,
    /// Own upload limit, bytes per second.
    pub max_upload: Option<u64>,
    /// Own download limit, bytes per second.
    pub max_download: Option<u64>,
    /// Seed ratio limit in force (its own, else the session's).
    pub seed_ratio_limit: Option<f64>,
    /// Seed idle limit in force: seconds without upload before seeding stops.
    pub seed_idle_limit: Option<u64>,
    /// Stopped by its seed ratio or idle limit.
    pub finished: bool,
    /// Whether the torrent's metadata is known (false while a magnet link's
    /// is being fetched).
    pub has_metadata: bool,
    /// The magnet link it was added by, if any.
    pub magnet: Option<String>,
    /// Pieces that failed their hash check over the torrent's life.
    pub hash_failures: u64,
    /// The user's labels (qBittorrent's tags).
    pub labels: Vec<String>,
    /// Its category (qBittorrent's), if any.
    pub category: Option<String>,
    /// Place in the queue, 0 first.
    pub queue_position: usize,
    /// Seconds it ran while incomplete.
    pub seconds_downloading: u64,
    /// Seconds it ran while complete.
    pub seconds_seeding: u64,
    /// When it last started (Unix seconds).
    pub started_at: Option<u64>,
    /// When it last sent or received payload (Unix seconds).
    pub active_at: Option<u64>,
    /// When its options last changed (Unix seconds).
    pub edited_at: Option<u64>,
    /// The BEP 46 key it follows, if it was added by a `urn:btpk` link.
    pub subscription: Option<Box<crate::Subscription>>,
}

/// The bytes of files with a non-zero priority (pad files excluded).
pub(crate) fn wanted_size(e: &TorrentSnapshot) -> u64 {
    let Some(torrent) = &e.torrent else {
        return 0;
    };
    torrent
        .info
        .files
        .iter()
        .enumerate()
        .filter(|(i, f)| !f.attr.pad && e.record.file_priorities.get(*i).is_none_or(|p| *p > 0))
        .map(|(_, f)| f.length)
        .sum()
}

/// BEP 47 symlinks the session refused to make (they would lead outside
/// the download directory, or a file is in the way): the data is there,
/// the links are not.
fn link_warning(e: &TorrentSnapshot) -> Option<String> {
    let errors = e.handle.as_ref()?.link_errors();
    (!errors.is_empty()).then(|| errors.join("; "))
}

/// The view of `e`.
pub(crate) fn of(e: &TorrentSnapshot) -> TorrentView {
    let s = &e.stats;
    let size_when_done = wanted_size(e);
    let left = s.bytes_left.min(size_when_done);
    let progress = if e.torrent.is_none() {
        0.0
    } else if size_when_done == 0 {
        1.0
    } else {
        (size_when_done - left) as f64 / size_when_done as f64
    };
    let (status, peers) = match e.activity {
        Activity::Stopped if e.error.is_some() => (Status::Error, 0),
        Activity::Stopped => (Status::Stopped, 0),
        Activity::Queued => (Status::Queued, 0),
        Activity::CheckWait => (Status::QueuedForCheck, 0),
        Activity::Checking => (Status::Checking, 0),
        Activity::Fetching => (Status::FetchingMetadata, 0),
        Activity::Running if left == 0 => (Status::Seeding, s.peers),
        Activity::Running => (Status::Downloading, s.peers),
        // A start shows at once, before the session has the torrent.
        Activity::Starting if left == 0 && e.torrent.is_some() => (Status::Seeding, 0),
        Activity::Starting => (Status::Downloading, 0),
    };
    let eta = if left == 0 || e.down_rate < 1.0 {
        -1
    } else {
        (left as f64 / e.down_rate).ceil() as i64
    };
    TorrentView {
        id: e.record.id,
        info_hash: e.record.info_hash.clone(),
        name: e.record.name.clone(),
        status,
        paused: e.record.paused,
        progress,
        total_size: s.total_size,
        size_when_done,
        left_until_done: left,
        download_rate: e.down_rate as u64,
        upload_rate: e.up_rate as u64,
        eta,
        peers,
        downloaded: e.counters.downloaded,
        uploaded: e.counters.uploaded,
        ratio: if size_when_done == 0 {
            0.0
        } else {
            e.counters.uploaded as f64 / size_when_done as f64
        },
        pieces_have: s.pieces_have,
        pieces_total: s.pieces_total,
        piece_size: e.torrent.as_ref().map_or(0, |t| t.info.piece_length),
        download_dir: e.record.download_dir.display().to_string(),
        added_at: e.record.added_at,
        done_at: e.record.done_at,
        error: e.error.clone(),
        warning: e.warning.clone().or_else(|| link_warning(e)),
        sequential: e.record.sequential,
        first_last_pieces: e.record.first_last_pieces,
        max_upload: e.record.max_upload,
        max_download: e.record.max_download,
        seed_ratio_limit: e.seed_ratio_limit,
        seed_idle_limit: e.seed_idle_limit,
        finished: e.record.finished,
        has_metadata: e.torrent.is_some(),
        magnet: e.record.magnet.clone(),
        hash_failures: e.counters.hash_failures,
        labels: e.record.labels.clone(),
        category: e.record.category.clone(),
        queue_position: e.queue_position,
        seconds_downloading: e.counters.seconds_downloading,
        seconds_seeding: e.counters.seconds_seeding,
        started_at: e.counters.started_at,
        active_at: e.counters.active_at,
        edited_at: e.record.edited_at,
        subscription: e.record.subscription.clone(),
    }
}

/// One file of a torrent, for detail views.
#[derive(Debug, Clone, Serialize)]
pub struct FileView {
    /// Index in the torrent.
    pub index: usize,
    /// Path inside the torrent, `/`-separated.
    pub name: String,
    /// Size, bytes.
    pub length: u64,
    /// Verified bytes.
    pub bytes_completed: u64,
    /// 0 skip, 1–7, 4 normal.
    pub priority: u8,
}

/// Which of a torrent's files (pad files not counted) a detail view lists:
/// a hostile torrent lists 500k files, and a view of all of them per
/// request is hundreds of megabytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilePage {
    /// Files skipped.
    pub offset: usize,
    /// Most files listed.
    pub limit: usize,
}

impl FilePage {
    /// No files (views that need only peers, trackers or pieces).
    pub const NONE: FilePage = FilePage {
        offset: 0,
        limit: 0,
    };
    /// Every file.
    pub const ALL: FilePage = FilePage {
        offset: 0,
        limit: usize::MAX,
    };
}

/// Details of one torrent: the summary, files, peers, trackers, pieces.
#[derive(Debug, Clone, Serialize)]
pub struct DetailView {
    /// The summary.
    #[serde(flatten)]
    pub summary: TorrentView,
    /// The asked page of the files (pad files left out).
    pub files: Vec<FileView>,
    /// Files in all (pad files left out).
    pub files_total: usize,
    /// Index among them of `files`' first.
    pub files_offset: usize,
    /// Connected peers' addresses.
    pub peer_list: Vec<String>,
    /// Connected peers with their rates, progress, flags and client.
    pub peers: Vec<crate::PeerView>,
    /// Tracker tiers.
    pub trackers: Vec<Vec<String>>,
    /// Each tracker's last announce and scrape.
    pub tracker_stats: Vec<TrackerView>,
    /// BEP 19 web seeds and what each is doing.
    pub web_seeds: Vec<WebSeedView>,
    /// Verified pieces, base64 of a bitfield (first piece = high bit of the first byte).
    pub pieces: String,
    /// A magnet link.
    pub magnet: String,
    /// Comment from the .torrent.
    pub comment: Option<String>,
    /// Private torrent.
    pub private: bool,
}

/// One tracker: its last announce (while the torrent runs) and scrape.
#[derive(Debug, Clone, Serialize)]
pub struct TrackerView {
    /// Announce URL.
    pub url: String,
    /// Tier (0 first).
    pub tier: usize,
    /// When the last announce finished (Unix seconds).
    pub last_announce: Option<u64>,
    /// Whether it succeeded.
    pub last_announce_ok: Option<bool>,
    /// Peers it gave.
    pub last_announce_peers: Option<usize>,
    /// Why it failed.
    pub last_announce_error: Option<String>,
    /// When the torrent announces next (Unix seconds).
    pub next_announce: Option<u64>,
    /// When the tracker was last scraped (Unix seconds).
    pub last_scrape: Option<u64>,
    /// Why the last scrape failed.
    pub scrape_error: Option<String>,
    /// Seeders the tracker knows of.
    pub seeders: Option<u32>,
    /// Leechers the tracker knows of.
    pub leechers: Option<u32>,
    /// Completed downloads the tracker has seen.
    pub downloads: Option<u32>,
}

/// One web seed (BEP 19): its URL and, while the torrent runs, its work.
#[derive(Debug, Clone, Serialize)]
pub struct WebSeedView {
    /// The URL from the torrent's `url-list` or the magnet link's `ws=`.
    pub url: String,
    /// Whether a request to it is in flight now.
    pub sending: bool,
    /// Payload bytes it delivered since the torrent started.
    pub downloaded: u64,
    /// Failed requests since the last that worked.
    pub failures: u32,
    /// It sent data that failed a hash check and is no longer used.
    pub banned: bool,
    /// Its last error.
    pub last_error: Option<String>,
    /// Connections it may be asked over now (adapted to its speed; 0
    /// while the torrent does not run).
    pub connections: usize,
}

/// The web seeds of `e`: the session's status while it runs, else the
/// torrent's list.
pub(crate) fn web_seeds(e: &TorrentSnapshot) -> Vec<WebSeedView> {
    if let Some(h) = &e.handle {
        return h
            .web_seeds()
            .into_iter()
            .map(|s| WebSeedView {
                url: s.url,
                sending: s.sending > 0,
                downloaded: s.downloaded,
                failures: s.failures,
                banned: s.banned,
                last_error: s.last_error,
                connections: s.connections,
            })
            .collect();
    }
    let urls = e.torrent.as_ref().map(|t| t.web_seeds.clone());
    urls.unwrap_or_default()
        .into_iter()
        .map(|url| WebSeedView {
            url,
            sending: false,
            downloaded: 0,
            failures: 0,
            banned: false,
            last_error: None,
            connections: 0,
        })
        .collect()
}

/// The trackers of `e` with what is known of each.
pub(crate) fn trackers(e: &TorrentSnapshot) -> Vec<TrackerView> {
    let (announces, next) = match &e.handle {
        Some(h) => h.announces(),
        None => (Vec::new(), None),
    };
    let mut out = Vec::new();
    for (tier, urls) in e.trackers().iter().enumerate() {
        for url in urls {
            let announce = announces.iter().find(|a| *a.url == **url);
            let scrape = e.scrape.iter().find(|s| &s.url == url);
            let counts = scrape.and_then(|s| s.counts.as_ref().ok());
            out.push(TrackerView {
                url: url.clone(),
                tier,
                last_announce: announce.map(|a| a.at),
                last_announce_ok: announce.map(|a| a.result.is_ok()),
                last_announce_peers: announce.and_then(|a| a.result.as_ref().ok().copied()),
                last_announce_error: announce.and_then(|a| a.result.as_ref().err().cloned()),
                next_announce: next,
                last_scrape: scrape.and(e.scraped_at),
                scrape_error: scrape.and_then(|s| s.counts.as_ref().err().cloned()),
                seeders: counts.map(|c| c.seeders),
                leechers: counts.map(|c| c.leechers),
                downloads: counts.map(|c| c.downloaded),
            });
        }
    }
    out
}

/// Details of `e`; `have` is the verified-piece bitfield when known.
pub(crate) fn detail(e: &TorrentSnapshot, page: FilePage) -> DetailView {
    use base64::Engine as _;
    let (have, summaries) = match &e.handle {
        Some(h) => (Some(h.have_bitfield()), h.peers()),
        None => (None, Vec::new()),
    };
    let peer_list: Vec<String> = summaries.iter().map(|p| p.addr.to_string()).collect();
    let peers: Vec<crate::PeerView> = summaries.iter().map(crate::peers::view).collect();
    let Some(torrent) = &e.torrent else {
        return DetailView {
            summary: of(e),
            files: Vec::new(),
            files_total: 0,
            files_offset: page.offset,
            peer_list,
            peers,
            trackers: e.trackers(),
            tracker_stats: trackers(e),
            web_seeds: web_seeds(e),
            pieces: String::new(),
            magnet: e.record.magnet.clone().unwrap_or_default(),
            comment: None,
            private: false,
        };
    };
    let info = &torrent.info;
    let files = file_views(e, have.as_deref(), page).collect();
    DetailView {
        summary: of(e),
        files,
        files_total: info.files.iter().filter(|f| !f.attr.pad).count(),
        files_offset: page.offset,
        peer_list,
        peers,
        trackers: torrent.trackers.clone(),
        tracker_stats: trackers(e),
        web_seeds: web_seeds(e),
        pieces: base64::engine::general_purpose::STANDARD.encode(have.unwrap_or_default()),
        magnet: torrent.magnet().to_string(),
        comment: torrent.comment.clone(),
        private: info.private,
    }
}

/// The views of a page of `e`'s files (pad files left out), made one at a
/// time so that an API can write each as it goes; `have` is the torrent's
/// bitfield (none while it is not running).
pub(crate) fn file_views<'e>(
    e: &'e TorrentSnapshot,
    have: Option<&'e [u8]>,
    page: FilePage,
) -> impl Iterator<Item = FileView> + 'e {
    let has = move |p: usize| {
        have.is_some_and(|b| {
            b.get(p / 8)
                .is_some_and(|byte| byte & (0x80 >> (p % 8)) != 0)
        })
    };
    let complete = e.stats.bytes_left == 0 && e.stats.pieces_have == e.stats.pieces_total;
    let files = e.torrent.as_ref().map(|t| &t.info.files);
    files
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, f)| !f.attr.pad)
        .skip(page.offset)
        .take(page.limit)
        .map(move |(index, f)| {
            let span = f.span();
            let bytes_completed = match &e.torrent {
                Some(t) if !complete => {
                    let info = &t.info;
                    // A piece's bytes in this file: its range cut to the file's
                    // span (no `piece_size`, which lists every file of the
                    // piece: a piece of 1,000 small files cost 1,000 slices per
                    // file, 10^8 steps for a torrent of 100k such files).
                    info.file_pieces(index)
                        .filter(|p| has(*p))
                        .map(|p| {
                            let start = p as u64 * info.piece_length;
                            let end = start.saturating_add(info.piece_length);
                            end.min(span.end).saturating_sub(start.max(span.start))
                        })
                        .sum()
                }
                _ => f.length,
            };
            FileView {
                index,
                name: f.display_path(),
                length: f.length,
                bytes_completed,
                priority: e.record.file_priorities.get(index).copied().unwrap_or(4),
            }
        })
}
