//! What the bottleneck saw, in 10 ms bins: bytes through it per flow and
//! the queueing delay packets met on arrival. Bins rather than one entry
//! per packet keep a minute at 50 Mbit/s to a few hundred kilobytes.

use std::time::Duration;

/// Width of one bin.
pub(super) const BIN: Duration = Duration::from_millis(10);

/// Queueing delay met by the packets that arrived in one bin.
#[derive(Default, Clone, Copy)]
struct DelayBin {
    sum: Duration,
    count: u32,
    max: Duration,
}

/// Per-bin records of a run.
#[derive(Default)]
pub(super) struct Recorder {
    /// Per flow, wire bytes that left the bottleneck in each bin.
    link: Vec<Vec<u64>>,
    /// Per flow, payload bytes its receiver got in each bin.
    payload: Vec<Vec<u64>>,
    delay: Vec<DelayBin>,
}

fn bin(at: Duration) -> usize {
    usize::try_from(at.as_nanos() / BIN.as_nanos()).unwrap_or(usize::MAX)
}

/// Adds `n` to bin `at` of `bins`, growing it as needed.
fn add(bins: &mut Vec<u64>, at: Duration, n: u64) {
    let i = bin(at);
    if bins.len() <= i {
        bins.resize(i + 1, 0);
    }
    if let Some(b) = bins.get_mut(i) {
        *b += n;
    }
}

/// Sum of the bins of `bins` in `[from, to)`.
fn sum(bins: &[u64], from: Duration, to: Duration) -> u64 {
    bins.get(bin(from)..bin(to).min(bins.len()))
        .unwrap_or_default()
        .iter()
        .sum()
}

impl Recorder {
    /// Makes room for flow `flow`.
    pub(super) fn add_flow(&mut self, flow: usize) {
        if self.link.len() <= flow {
            self.link.resize_with(flow + 1, Vec::new);
            self.payload.resize_with(flow + 1, Vec::new);
        }
    }

    /// `bytes` of `flow` left the bottleneck at `at`.
    pub(super) fn sent(&mut self, flow: usize, at: Duration, bytes: usize) {
        if let Some(bins) = self.link.get_mut(flow) {
            add(bins, at, bytes as u64);
        }
    }

    /// `flow`'s receiver got `bytes` of payload at `at`.
    pub(super) fn received(&mut self, flow: usize, at: Duration, bytes: u64) {
        if let Some(bins) = self.payload.get_mut(flow) {
            add(bins, at, bytes);
        }
    }

    /// A packet entering the queue at `at` waits `waits` there.
    pub(super) fn queued(&mut self, at: Duration, waits: Duration) {
        let i = bin(at);
        if self.delay.len() <= i {
            self.delay.resize(i + 1, DelayBin::default());
        }
        if let Some(b) = self.delay.get_mut(i) {
            b.sum += waits;
            b.count += 1;
            b.max = b.max.max(waits);
        }
    }

    /// Wire bytes of `flow` through the bottleneck in `[from, to)`.
    pub(super) fn link_bytes(&self, flow: usize, from: Duration, to: Duration) -> u64 {
        self.link.get(flow).map_or(0, |b| sum(b, from, to))
    }

    /// Payload bytes `flow`'s receiver got in `[from, to)`.
    pub(super) fn payload_bytes(&self, flow: usize, from: Duration, to: Duration) -> u64 {
        self.payload.get(flow).map_or(0, |b| sum(b, from, to))
    }

    /// Mean and largest queueing delay of the packets that arrived in
    /// `[from, to)` (zero when none did).
    pub(super) fn delay(&self, from: Duration, to: Duration) -> (Duration, Duration) {
        let bins = self
            .delay
            .get(bin(from)..bin(to).min(self.delay.len()))
            .unwrap_or_default();
        let (sum, count, max) = bins
            .iter()
            .fold((Duration::ZERO, 0u32, Duration::ZERO), |(s, c, m), b| {
                (s + b.sum, c + b.count, m.max(b.max))
            });
        (sum.checked_div(count).unwrap_or_default(), max)
    }
}
