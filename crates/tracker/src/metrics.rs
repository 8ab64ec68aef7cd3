//! Prometheus counters. Each UDP worker batches its increments (one atomic add
//! per kind per receive batch) into a slot of its own, on its own cache lines,
//! so workers on different cores never write the same line; a scrape of
//! `/metrics` sums the slots.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::store::StoreStats;

/// One UDP worker's counters.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct UdpSlot {
    /// UDP connect requests answered.
    pub connects: AtomicU64,
    /// UDP announces answered.
    pub announces: AtomicU64,
    /// UDP scrapes answered.
    pub scrapes: AtomicU64,
    /// UDP error replies sent.
    pub errors: AtomicU64,
    /// UDP datagrams dropped without reply (junk).
    pub dropped: AtomicU64,
}

/// Request counters by protocol.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Per UDP worker (at least one slot).
    udp: Box<[UdpSlot]>,
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
    /// Zeroed counters with one UDP slot per worker.
    pub fn new(udp_workers: usize) -> Metrics {
        Metrics {
            udp: (0..udp_workers.max(1))
                .map(|_| UdpSlot::default())
                .collect(),
            ..Metrics::default()
        }
    }

    /// Adds a batch's UDP counts to `worker`'s slot.
    pub fn flush_udp(&self, worker: usize, c: &mut UdpCounts) {
        let Some(slot) = self.udp.get(worker).or(self.udp.first()) else {
            // `new` makes at least one slot; a default-built Metrics has none
            // and simply does not count UDP.
            *c = UdpCounts::default();
            return;
        };
        for (a, v) in [
            (&slot.connects, c.connects),
            (&slot.announces, c.announces),
            (&slot.scrapes, c.scrapes),
            (&slot.errors, c.errors),
            (&slot.dropped, c.dropped),
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
        let udp = |f: fn(&UdpSlot) -> &AtomicU64| self.udp.iter().map(|s| l(f(s))).sum::<u64>();
        counter(
            "shoal_tracker_announces_total",
            "Announces answered.",
            &[
                ("{proto=\"udp\"}", udp(|s| &s.announces)),
                ("{proto=\"http\"}", l(&self.http_announces)),
            ],
        );
        counter(
            "shoal_tracker_scrapes_total",
            "Scrapes answered.",
            &[
                ("{proto=\"udp\"}", udp(|s| &s.scrapes)),
                ("{proto=\"http\"}", l(&self.http_scrapes)),
            ],
        );
        counter(
            "shoal_tracker_connects_total",
            "UDP connect requests answered.",
            &[("", udp(|s| &s.connects))],
        );
        counter(
            "shoal_tracker_errors_total",
            "Requests answered with an error.",
            &[
                ("{proto=\"udp\"}", udp(|s| &s.errors)),
                ("{proto=\"http\"}", l(&self.http_errors)),
            ],
        );
        counter(
            "shoal_tracker_udp_dropped_total",
            "UDP datagrams dropped as junk.",
            &[("", udp(|s| &s.dropped))],
        );
        counter(
            "shoal_tracker_evictions_total",
            "Entries evicted by the memory caps.",
            &[
                ("{kind=\"torrent\"}", s.evicted_torrents),
                ("{kind=\"peer\"}", s.evicted_peers),
            ],
        );
        if self.udp.len() > 1 {
            let _ = writeln!(
                o,
                "# HELP shoal_tracker_udp_worker_requests_total UDP datagrams handled, by worker.\n# TYPE shoal_tracker_udp_worker_requests_total counter"
            );
            for (i, s) in self.udp.iter().enumerate() {
                let n =
                    l(&s.connects) + l(&s.announces) + l(&s.scrapes) + l(&s.errors) + l(&s.dropped);
                let _ = writeln!(
                    o,
                    "shoal_tracker_udp_worker_requests_total{{worker=\"{i}\"}} {n}"
                );
            }
        }
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
