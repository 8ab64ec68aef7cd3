//! What a running torrent's status line says: smoothed rates, an honest
//! ETA and the obstacle in the way, as pure functions of what was sampled
//! (the loops that sample and draw are in `live`).

use std::collections::VecDeque;
use std::time::Duration;

use shoal_session::{AnnounceStatus, SwarmCounts, TorrentStats};

use crate::units;

/// How far back a rate looks: long enough to smooth bursts and the rate
/// limiter's steps, short enough to follow a change within seconds.
pub const RATE_WINDOW: Duration = Duration::from_secs(5);

/// A byte counter's rate over the last [`RATE_WINDOW`]. Fed the session's
/// payload counters, which count only bytes that came over the wire: data
/// found on disk when a download resumes is never speed.
#[derive(Debug, Default)]
pub struct RateMeter {
    samples: VecDeque<(Duration, u64)>,
}

impl RateMeter {
    /// Records that the counter read `total` at `now`.
    pub fn record(&mut self, now: Duration, total: u64) {
        self.samples.push_back((now, total));
        // Keep one sample at or before the window's start, to span it all.
        while self
            .samples
            .get(1)
            .is_some_and(|(t, _)| now.saturating_sub(*t) >= RATE_WINDOW)
        {
            self.samples.pop_front();
        }
    }

    /// Bytes per second over the window, `None` until a second is sampled.
    pub fn rate(&self) -> Option<f64> {
        let (t0, b0) = self.samples.front()?;
        let (t1, b1) = self.samples.back()?;
        let span = t1.saturating_sub(*t0).as_secs_f64();
        (span >= 1.0).then(|| b1.saturating_sub(*b0) as f64 / span)
    }

    /// Whether a whole window has been sampled (a zero rate then means
    /// stalled, not just started).
    pub fn full(&self) -> bool {
        match (self.samples.front(), self.samples.back()) {
            (Some((t0, _)), Some((t1, _))) => {
                t1.saturating_sub(*t0) >= RATE_WINDOW - RATE_WINDOW / 5
            }
            _ => false,
        }
    }
}

/// One moment of a download, as the status line shows it.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The session's counters.
    pub stats: TorrentStats,
    /// Download rate, `None` while still unknown.
    pub down: Option<f64>,
    /// Upload rate, `None` while still unknown.
    pub up: Option<f64>,
    /// A whole rate window has been sampled.
    pub settled: bool,
    /// What stands in the way, if anything.
    pub obstacle: Option<String>,
    /// The swarm's size as the trackers last reported it.
    pub swarm: Option<SwarmCounts>,
    /// Peer addresses known, connected or not.
    pub known_peers: usize,
}

impl Snapshot {
    fn done(&self) -> u64 {
        self.stats
            .bytes_wanted
            .saturating_sub(self.stats.bytes_left)
    }

    fn percent(&self) -> f64 {
        // Counted over the selected files' pieces, so `--only` reaches 100 %.
        if self.stats.bytes_wanted == 0 {
            100.0
        } else {
            self.done() as f64 * 100.0 / self.stats.bytes_wanted as f64
        }
    }

    /// ` (swarm: 3 seeds, 1 leecher)` when a tracker told, else nothing.
    fn swarm_text(&self) -> String {
        self.swarm.map_or_else(String::new, |c| {
            format!(
                " (swarm: {}, {})",
                units::count(c.seeders as usize, "seed"),
                units::count(c.leechers as usize, "leecher")
            )
        })
    }

    /// `peers 5 (2 seeds)/12`: connected (the seeds among them), then
    /// known; `peers 0/12` with none connected.
    fn peers_text(&self) -> String {
        let seeds = match (self.stats.peers, self.stats.seeds) {
            (0, _) => String::new(),
            (_, n) => format!(" ({})", units::count(n, "seed")),
        };
        // A peer connected to us unasked is connected and known.
        let known = self.known_peers.max(self.stats.peers);
        format!("peers {}{seeds}/{known}", self.stats.peers)
    }

    /// `eta 3m 05s`, `done`, `eta ?` (rate not known yet) or `stalled`
    /// (nothing arrived over a whole window): never `eta 0s` at 0 B/s.
    pub fn eta(&self) -> String {
        if self.stats.bytes_left == 0 {
            return "done".to_owned();
        }
        match self.down {
            Some(rate) if rate >= 1.0 => format!(
                "eta {}",
                units::duration((self.stats.bytes_left as f64 / rate).ceil() as u64)
            ),
            _ if self.settled => "stalled".to_owned(),
            _ => "eta ?".to_owned(),
        }
    }

    /// The line printed every few seconds when stderr is not a terminal.
    pub fn plain_line(&self) -> String {
        let eta = match self.down {
            _ if self.stats.bytes_left == 0 => "done".to_owned(),
            Some(rate) if rate >= 1.0 => format!(
                "eta {}s",
                (self.stats.bytes_left as f64 / rate).ceil() as u64
            ),
            _ if self.settled => "stalled".to_owned(),
            _ => "eta ?".to_owned(),
        };
        let mut line = format!(
            "{:5.1}% {}/{}  down {}  up {}  peers {}{}  {eta}",
            self.percent(),
            units::bytes(self.done()),
            units::bytes(self.stats.bytes_wanted),
            units::rate(self.down.unwrap_or(0.0)),
            units::rate(self.up.unwrap_or(0.0)),
            self.stats.peers,
            self.swarm_text()
        );
        if let Some(obstacle) = &self.obstacle {
            line.push_str("  (");
            line.push_str(obstacle);
            line.push(')');
        }
        line
    }

    /// The live line on a terminal: a bar, then all the plain line says;
    /// an obstacle goes on a second line, so a narrow terminal that cuts
    /// the first does not hide it.
    pub fn live_line(&self) -> String {
        const WIDTH: usize = 12;
        let filled = ((self.percent() / 100.0) * WIDTH as f64).floor() as usize;
        let filled = filled.min(WIDTH);
        let bar: String = (0..WIDTH)
            .map(|i| match i.cmp(&filled) {
                std::cmp::Ordering::Less => '=',
                std::cmp::Ordering::Equal => '>',
                std::cmp::Ordering::Greater => ' ',
            })
            .collect();
        let rate = |r: Option<f64>| r.map_or_else(|| "?".to_owned(), units::rate);
        let mut line = format!(
            "[{bar}] {:5.1}% {}/{}  down {}  up {}  {}  {}",
            self.percent(),
            units::bytes(self.done()),
            units::bytes(self.stats.bytes_wanted),
            rate(self.down),
            rate(self.up),
            self.peers_text() + &self.swarm_text(),
            self.eta()
        );
        if let Some(obstacle) = &self.obstacle {
            line.push_str("\n  ");
            line.push_str(obstacle);
        }
        line
    }
}

/// Why a download without peers has none, from the trackers' last
/// answers; `None` while there are peers or nothing is known yet.
pub fn no_peers_reason(peers: usize, announces: &[AnnounceStatus], dht: bool) -> Option<String> {
    if peers > 0 {
        return None;
    }
    let failed: Vec<&AnnounceStatus> = announces.iter().filter(|a| a.result.is_err()).collect();
    if let Some(first) = failed.first() {
        let why = first.result.as_ref().err().map_or("", String::as_str);
        let more = match failed.len() {
            1 => String::new(),
            n => format!(" ({} more failed)", n - 1),
        };
        return Some(format!(
            "no peers yet: tracker {} failed: {why}{more}",
            first.url
        ));
    }
    if !announces.is_empty() {
        return Some(format!(
            "no peers yet: {} answered with no usable peer",
            units::count(announces.len(), "tracker")
        ));
    }
    Some(if dht {
        "no peers yet: searching the DHT".to_owned()
    } else {
        "no peers yet: no tracker has answered".to_owned()
    })
}

/// Why a download with peers gets nothing: they choke us or lack what we
/// still need. `None` unless `stalled` (nothing arrived over a window).
pub fn stall_reason(stats: &TorrentStats, stalled: bool) -> Option<String> {
    (stalled && stats.peers > 0 && stats.bytes_left > 0).then(|| {
        format!(
            "nothing from {} for {} s: they choke us or lack the pieces still needed",
            if stats.peers == 1 {
                "the connected peer".to_owned()
            } else {
                format!("the {} connected peers", stats.peers)
            },
            RATE_WINDOW.as_secs()
        )
    })
}

/// What the line of a metadata fetch says of it: the peers asked of those
/// known, then the pieces of the dictionary received once a peer told its
/// size.
pub fn metadata_progress(p: &shoal_session::MetadataProgress) -> Vec<String> {
    let mut parts = vec![format!(
        "waiting for metadata from {} of {}",
        p.peers_asked,
        units::count(p.peers_known, "peer")
    )];
    if p.pieces_total > 0 {
        parts.push(format!("metadata {}/{} pieces", p.pieces, p.pieces_total));
    }
    parts
}

/// What a seeder's line says: upload rate, peers, uploaded and ratio.
pub fn seed_line(stats: &TorrentStats, up: Option<f64>) -> String {
    format!(
        "seeding  up {}  {}  uploaded {}  ratio {:.2}",
        units::rate(up.unwrap_or(0.0)),
        units::count(stats.peers, "peer"),
        units::bytes(stats.uploaded),
        ratio(stats)
    )
}

/// Uploaded this run over the torrent's size.
pub fn ratio(stats: &TorrentStats) -> f64 {
    if stats.total_size == 0 {
        0.0
    } else {
        stats.uploaded as f64 / stats.total_size as f64
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const MIB: u64 = 1 << 20;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn rate_is_smoothed_over_the_window() {
        let mut m = RateMeter::default();
        m.record(secs(0.0), 0);
        assert_eq!(m.rate(), None);
        // 3 MiB/s in 250 ms steps, with one burst.
        for i in 1..=40u64 {
            let burst = if i >= 38 { MIB } else { 0 };
            m.record(secs(i as f64 * 0.25), i * 3 * MIB / 4 + burst);
        }
        let r = m.rate().unwrap();
        assert!((r - 3.2 * MIB as f64).abs() < 0.05 * MIB as f64, "{r}");
        assert!(m.full());
    }

    #[test]
    fn data_found_on_disk_is_not_speed() {
        // A resumed download: 40 of 48 MiB on disk, 1 MiB/s over the wire.
        let mut m = RateMeter::default();
        for i in 0..=20u64 {
            m.record(secs(i as f64 * 0.25), i * MIB / 4);
        }
        let snap = Snapshot {
            stats: TorrentStats {
                bytes_wanted: 48 * MIB,
                total_size: 48 * MIB,
                bytes_left: 3 * MIB,
                downloaded: 5 * MIB,
                peers: 1,
                ..TorrentStats::default()
            },
            down: m.rate(),
            up: Some(0.0),
            settled: m.full(),
            obstacle: None,
            swarm: Some(SwarmCounts {
                seeders: 1,
                leechers: 2,
                downloaded: 0,
            }),
            known_peers: 4,
        };
        let line = snap.live_line();
        assert!(line.contains(" 93.8% 45.0 MiB/48.0 MiB"), "{line}");
        assert!(line.contains("down 1.0 MiB/s"), "{line}");
        assert!(
            line.contains("up 0 B/s  peers 1 (0 seeds)/4 (swarm: 1 seed, 2 leechers)  eta 3s"),
            "{line}"
        );
        let seeds = Snapshot {
            stats: TorrentStats {
                peers: 5,
                seeds: 2,
                ..snap.stats
            },
            known_peers: 12,
            swarm: None,
            ..snap
        };
        assert!(seeds.live_line().contains("  peers 5 (2 seeds)/12  eta "));
        // The plain line stays as it was.
        assert!(seeds.plain_line().contains("  peers 5  eta "));
    }

    #[test]
    fn a_stall_says_so() {
        let mut m = RateMeter::default();
        for i in 0..=24u64 {
            m.record(secs(i as f64 * 0.25), 7);
        }
        let snap = Snapshot {
            stats: TorrentStats {
                bytes_wanted: 100,
                bytes_left: 50,
                ..TorrentStats::default()
            },
            down: m.rate(),
            up: m.rate(),
            settled: m.full(),
            obstacle: Some("no peers yet: searching the DHT".into()),
            swarm: None,
            known_peers: 3,
        };
        assert!(
            snap.live_line()
                .ends_with("peers 0/3  stalled\n  no peers yet: searching the DHT")
        );
        assert!(
            snap.plain_line()
                .ends_with("stalled  (no peers yet: searching the DHT)")
        );
        let early = Snapshot {
            settled: false,
            down: None,
            ..snap
        };
        assert!(
            early.live_line().contains("down ?"),
            "{}",
            early.live_line()
        );
        assert!(early.plain_line().contains("down 0 B/s"));
        assert!(early.eta() == "eta ?");
    }

    #[test]
    fn progress_counts_only_selected_files() {
        let stats = TorrentStats {
            total_size: 1000,
            bytes_wanted: 400,
            bytes_left: 100,
            ..TorrentStats::default()
        };
        let snap = Snapshot {
            stats,
            ..Snapshot::default()
        };
        assert!(
            snap.plain_line().starts_with(" 75.0% "),
            "{}",
            snap.plain_line()
        );
        let done = Snapshot {
            stats: TorrentStats {
                bytes_left: 0,
                ..stats
            },
            ..Snapshot::default()
        };
        assert!(done.plain_line().starts_with("100.0% ") && done.plain_line().ends_with("done"));
    }

    #[test]
    fn the_reason_for_no_peers_names_a_failed_tracker() {
        let failed = |url: &str| AnnounceStatus {
            url: url.into(),
            at: 0,
            result: Err("connection refused".into()),
        };
        assert_eq!(no_peers_reason(2, &[failed("http://a")], true), None);
        assert_eq!(
            no_peers_reason(0, &[failed("http://a"), failed("http://b")], false).unwrap(),
            "no peers yet: tracker http://a failed: connection refused (1 more failed)"
        );
        let ok = AnnounceStatus {
            result: Ok(0),
            ..failed("udp://c")
        };
        assert!(
            no_peers_reason(0, &[ok], true)
                .unwrap()
                .contains("1 tracker answered")
        );
    }

    #[test]
    fn a_stall_with_peers_says_they_send_nothing() {
        let stats = TorrentStats {
            peers: 2,
            bytes_left: 10,
            ..TorrentStats::default()
        };
        assert_eq!(stall_reason(&stats, false), None);
        assert_eq!(
            stall_reason(&stats, true).unwrap(),
            "nothing from the 2 connected peers for 5 s: they choke us or lack the pieces still needed"
        );
        let done = TorrentStats {
            bytes_left: 0,
            ..stats
        };
        assert_eq!(stall_reason(&done, true), None);
    }

    #[test]
    fn metadata_progress_names_peers_and_pieces() {
        let mut p = shoal_session::MetadataProgress {
            peers_known: 3,
            ..Default::default()
        };
        assert_eq!(
            metadata_progress(&p),
            ["waiting for metadata from 0 of 3 peers"]
        );
        p.peers_asked = 1;
        p.pieces = 2;
        p.pieces_total = 5;
        assert_eq!(
            metadata_progress(&p),
            [
                "waiting for metadata from 1 of 3 peers",
                "metadata 2/5 pieces"
            ]
        );
    }

    #[test]
    fn seeding_line() {
        let stats = TorrentStats {
            total_size: 4 * MIB,
            uploaded: 6 * MIB,
            peers: 2,
            ..TorrentStats::default()
        };
        assert_eq!(
            seed_line(&stats, Some(1536.0)),
            "seeding  up 1.5 KiB/s  2 peers  uploaded 6.0 MiB  ratio 1.50"
        );
    }
}
