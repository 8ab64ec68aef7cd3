//! Prometheus counters. The UDP worker batches its increments (one atomic add
//! per kind per receive batch) so metrics cost nothing measurable per packet.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::store::StoreStats;

/// Request counters by protocol.
#[derive(Debug, Default)]
pub struct Metrics {
    /// UDP connect requests answered.
    pub udp_connects: AtomicU64,
    /// UDP announces answered.
    pub udp_announces: AtomicU64,
    /// UDP scrapes answered.
    pub udp_scrapes: AtomicU64,
    /// UDP error replies sent.
    pub udp_errors: AtomicU64,
    /// UDP datagrams dropped without reply (junk).
    pub udp_dropped: AtomicU64,
    /// HTTP announces answered (including refusals).
    pub http_announces: AtomicU64,
    /// HTTP scrapes answered.
    pub http_scrapes: AtomicU64,
    /// HTTP requests answered with an error (failure reason or 4xx).
    pub http_errors: AtomicU64,
}

/// Per-batch counts, flushed into [`Metrics`] once per batch.
#[derive(Debug, Default, Clone, Copy)]
pub struct UdpCounts {
    /// Connects.
    pub connects: u64,
    /// Announces.
    pub announces: u64,
    /// Scrapes.
    pub scrapes: u64,
    /// Errors.
    pub errors: u64,
    /// Dropped.
    pub dropped: u64,
}

impl Metrics {
    /// Adds a batch's UDP counts.
    pub fn flush_udp(&self, c: &mut UdpCounts) {
        for (a, v) in [
            (&self.udp_connects, c.connects),
            (&self.udp_announces, c.announces),
            (&self.udp_scrapes, c.scrapes),
            (&self.udp_errors, c.errors),
            (&self.udp_dropped, c.dropped),
        ] {
            if v > 0 {
                a.fetch_add(v, Relaxed);
            }
        }
        *c = UdpCounts::default();
    }

    /// The Prometheus text exposition.
    pub fn render(&self, s: &StoreStats) -> String {
        let mut o = String::with_capacity(2048);
        let mut counter = |name: &str, help: &str, series: &[(&str, u64)]| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, v) in series {
                let _ = writeln!(o, "{name}{labels} {v}");
            }
        };
        let l = |a: &AtomicU64| a.load(Relaxed);
        counter(
            "shoal_tracker_announces_total",
            "Announces answered.",
            &[
                ("{proto=\"udp\"}", l(&self.udp_announces)),
                ("{proto=\"http\"}", l(&self.http_announces)),
            ],
        );
        counter(
            "shoal_tracker_scrapes_total",
            "Scrapes answered.",
            &[
                ("{proto=\"udp\"}", l(&self.udp_scrapes)),
                ("{proto=\"http\"}", l(&self.http_scrapes)),
            ],
        );
        counter(
            "shoal_tracker_connects_total",
            "UDP connect requests answered.",
            &[("", l(&self.udp_connects))],
        );
        counter(
            "shoal_tracker_errors_total",
            "Requests answered with an error.",
            &[
                ("{proto=\"udp\"}", l(&self.udp_errors)),
                ("{proto=\"http\"}", l(&self.http_errors)),
            ],
        );
        counter(
            "shoal_tracker_udp_dropped_total",
            "UDP datagrams dropped as junk.",
            &[("", l(&self.udp_dropped))],
        );
        counter(
            "shoal_tracker_evictions_total",
            "Entries evicted by the memory caps.",
            &[
                ("{kind=\"torrent\"}", s.evicted_torrents),
                ("{kind=\"peer\"}", s.evicted_peers),
            ],
        );
        let _ = writeln!(
            o,
            "# HELP shoal_tracker_torrents Torrents tracked.\n# TYPE shoal_tracker_torrents gauge"
        );
        let _ = writeln!(o, "shoal_tracker_torrents {}", s.torrents);
        let _ = writeln!(
            o,
            "# HELP shoal_tracker_peers Peers tracked.\n# TYPE shoal_tracker_peers gauge"
        );
        let _ = writeln!(o, "shoal_tracker_peers{{state=\"seeder\"}} {}", s.seeders);
        let _ = writeln!(o, "shoal_tracker_peers{{state=\"leecher\"}} {}", s.leechers);
        o
    }
}
