//! What a simulation found: completion times, the fluid lower bound, and
//! who uploaded how much. Serialises to the JSON of `shoal sim --json`.

use std::fmt::Write;

use serde::Serialize;

use crate::Scenario;

/// One peer's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerReport {
    /// `group-index`.
    pub name: String,
    /// Its group's name.
    pub group: String,
    /// Started with the whole content.
    pub seeder: bool,
    /// Never uploaded by design.
    pub free_rider: bool,
    /// When it joined, seconds (absent if the run ended first).
    pub arrived_s: Option<f64>,
    /// When it left, seconds.
    pub left_s: Option<f64>,
    /// When its download completed, seconds since the start of the run.
    pub completed_s: Option<f64>,
    /// How long its download took from its arrival, seconds.
    pub download_s: Option<f64>,
    /// Payload bytes it sent.
    pub uploaded: u64,
    /// Payload bytes it received.
    pub downloaded: u64,
    /// Its upload capacity, bytes/s (absent: unlimited).
    pub upload_capacity: Option<u64>,
    /// Its download capacity, bytes/s (absent: unlimited).
    pub download_capacity: Option<u64>,
    /// A magnet peer: when it had the checked info dictionary, seconds.
    pub metadata_s: Option<f64>,
    /// Copies of the info dictionary it refused (they failed the hash check).
    pub bad_metadata: u32,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Bytes of content.
    pub content_size: u64,
    /// Bytes per piece.
    pub piece_size: u64,
    /// The scenario's seed.
    pub seed: u64,
    /// When the last leecher that stays completed, seconds (absent if one
    /// never did).
    pub swarm_time_s: Option<f64>,
    /// The fluid lower bound T* = max(F/U_seed, N·F/(U_seed + ΣU_leechers)),
    /// seconds (free riders count with no upload; 0 when capacities are
    /// unlimited).
    pub lower_bound_s: f64,
    /// The slowest leecher's own bound, F / its download capacity, seconds.
    pub download_bound_s: f64,
    /// `swarm_time_s` over the larger of the two bounds.
    pub ratio: Option<f64>,
    /// Peers that did not start as seeders.
    pub leechers: usize,
    /// Of them, those that completed.
    pub completed: usize,
    /// Payload the initial seeders sent, in copies of the content.
    pub seeder_copies: f64,
    /// The run stopped because nothing was verified for 300 s.
    pub stalled: bool,
    /// Virtual time when the run stopped, seconds.
    pub end_s: f64,
    /// Every peer, in scenario order.
    pub peers: Vec<PeerReport>,
}

impl Report {
    /// Summarises `peers` of a run of `scenario` that stopped at `end_s`.
    pub fn new(scenario: &Scenario, peers: Vec<PeerReport>, end_s: f64, stalled: bool) -> Report {
        let f = scenario.content_size as f64;
        let cap = |c: Option<u64>| c.map_or(f64::INFINITY, |c| c as f64);
        let (mut u_seed, mut u_leech, mut n, mut dl_bound) = (0.0, 0.0, 0usize, 0.0f64);
        for g in &scenario.groups {
            let up = if g.free_rider { 0.0 } else { cap(g.upload) };
            let count = g.count as f64;
            if g.seeder {
                u_seed += up * count;
            } else {
                u_leech += up * count;
                n += g.count;
                if g.count > 0 {
                    dl_bound = dl_bound.max(f / cap(g.download));
                }
            }
        }
        let lower_bound_s = if n == 0 {
            0.0
        } else {
            (f / u_seed).max(n as f64 * f / (u_seed + u_leech))
        };
        // A leecher counts unless it left before completing (churn).
        let staying: Vec<&PeerReport> = peers
            .iter()
            .filter(|p| !p.seeder && (p.left_s.is_none() || p.completed_s.is_some()))
            .collect();
        let swarm_time_s = if staying.iter().all(|p| p.completed_s.is_some()) {
            staying
                .iter()
                .filter_map(|p| p.completed_s)
                .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))))
        } else {
            None
        };
        let bound = lower_bound_s.max(dl_bound);
        let seeder_up: u64 = peers.iter().filter(|p| p.seeder).map(|p| p.uploaded).sum();
        Report {
            content_size: scenario.content_size,
            piece_size: scenario.piece_size,
            seed: scenario.seed,
            ratio: swarm_time_s.filter(|_| bound > 0.0).map(|t| t / bound),
            swarm_time_s,
            lower_bound_s,
            download_bound_s: dl_bound,
            leechers: peers.iter().filter(|p| !p.seeder).count(),
            completed: peers
                .iter()
                .filter(|p| !p.seeder && p.completed_s.is_some())
                .count(),
            seeder_copies: seeder_up as f64 / f,
            stalled,
            end_s,
            peers,
        }
    }

    /// The report as readable text: totals, one line per group, one per peer.
    pub fn to_text(&self) -> String {
        let mib = |b: u64| b as f64 / f64::from(1u32 << 20);
        let opt = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
        let mut s = String::new();
        let _ = writeln!(
            s,
            "content      {:.1} MiB in {} KiB pieces, {} peers ({} leechers), seed {}",
            mib(self.content_size),
            self.piece_size >> 10,
            self.peers.len(),
            self.leechers,
            self.seed
        );
        let _ = writeln!(
            s,
            "swarm time   {} s   ({} of {} leechers complete{})",
            opt(self.swarm_time_s),
            self.completed,
            self.leechers,
            if self.stalled { ", stalled" } else { "" }
        );
        let _ = writeln!(
            s,
            "lower bound  {:.2} s   T* = max(F/U_seed, N·F/(U_seed + ΣU_leechers)); download bound {:.2} s",
            self.lower_bound_s, self.download_bound_s
        );
        let _ = writeln!(s, "ratio        {}", opt(self.ratio));
        let _ = writeln!(s, "seeders sent {:.2} copies", self.seeder_copies);
        let total_up: u64 = self.peers.iter().map(|p| p.uploaded).sum();
        let share = |up: u64| {
            if total_up == 0 {
                0.0
            } else {
                100.0 * up as f64 / total_up as f64
            }
        };
        let _ = writeln!(
            s,
            "\n{:<16} {:>5} {:>5} {:>9} {:>9} {:>9} {:>10} {:>8}",
            "group", "peers", "done", "median s", "max s", "up MiB", "down MiB", "up share"
        );
        let mut groups: Vec<&str> = Vec::new();
        for p in &self.peers {
            if !groups.contains(&p.group.as_str()) {
                groups.push(&p.group);
            }
        }
        for g in groups {
            let members: Vec<&PeerReport> = self.peers.iter().filter(|p| p.group == g).collect();
            let mut times: Vec<f64> = members.iter().filter_map(|p| p.download_s).collect();
            times.sort_by(f64::total_cmp);
            let up: u64 = members.iter().map(|p| p.uploaded).sum();
            let down: u64 = members.iter().map(|p| p.downloaded).sum();
            let _ = writeln!(
                s,
                "{:<16} {:>5} {:>5} {:>9} {:>9} {:>9.1} {:>10.1} {:>7.1}%",
                g,
                members.len(),
                times.len(),
                opt(times.get(times.len() / 2).copied()),
                opt(times.last().copied()),
                mib(up),
                mib(down),
                share(up)
            );
        }
        let _ = writeln!(
            s,
            "\n{:<20} {:>8} {:>9} {:>9} {:>9} {:>10} {:>8}",
            "peer", "arrived", "done at", "took s", "up MiB", "down MiB", "up/down"
        );
        for p in &self.peers {
            let ratio = if p.downloaded == 0 {
                "-".to_owned()
            } else {
                format!("{:.2}", p.uploaded as f64 / p.downloaded as f64)
            };
            let _ = writeln!(
                s,
                "{:<20} {:>8} {:>9} {:>9} {:>9.1} {:>10.1} {:>8}",
                p.name,
                opt(p.arrived_s),
                opt(p.completed_s),
                opt(p.download_s),
                mib(p.uploaded),
                mib(p.downloaded),
                ratio
            );
        }
        s
    }
}
