//! Per-peer request pipelining: how many block requests to keep in flight.
//!
//! A fixed small queue caps throughput at `depth × 16 KiB / rtt` (4 blocks
//! over a 1 ms loopback is 64 MB/s), so the depth follows the
//! bandwidth-delay product with slack for scheduling delays on our side and
//! the sender's:
//!
//! `depth = ceil(rate × (min_rtt + slack) / 16 KiB)`, clamped to
//! `min_depth ..= min(max_depth, reqq)`.
//!
//! `rate` is the measured download rate from the peer (bytes per sample
//! interval, smoothed). `min_rtt` is the lowest request→block time seen: the
//! path's latency without our own queue in it (the smoothed RTT would include
//! the queue and feed back on itself). Because the measured rate is itself
//! limited by the depth, a new connection starts in **slow start**: the
//! depth grows by one per block received (doubling every round trip, like
//! TCP) until a rate sample grows by less than 10 % over the previous one.
//! After that, headroom from `slack` still lets the depth grow whenever the
//! rate does. A timeout halves the depth and ends slow start.
//!
//! The pipeline also tracks the outstanding requests with their send times
//! (oldest first; blocks usually arrive in order, so matching one is O(1)),
//! which yields RTT samples and request timeouts. It reads no clock: `now`
//! is the caller's [`Duration`] since its epoch.

use crate::{BLOCK_SIZE, BlockRequest};
use std::collections::VecDeque;
use std::time::Duration;

/// Tunables of [`Pipeline`].
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    /// Depth on a new connection.
    pub initial_depth: u32,
    /// Never fewer requests in flight than this.
    pub min_depth: u32,
    /// Never more than this. 256 blocks are 4 MiB in flight (40 MB/s from
    /// one peer at 100 ms RTT); each in-flight piece holds a whole piece
    /// buffer, and 500 (libtorrent's `reqq`) cost 8 MiB more memory with no
    /// gain on a 1 GiB loopback transfer (bench/loopback.sh).
    pub max_depth: u32,
    /// Scheduling delay to cover on top of the path latency.
    pub slack: Duration,
    /// Length of a rate sample.
    pub sample_interval: Duration,
    /// A request is timed out after `max(min_timeout, 4 × smoothed rtt)`.
    pub min_timeout: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            initial_depth: 4,
            min_depth: 2,
            max_depth: 256,
            slack: Duration::from_millis(100),
            sample_interval: Duration::from_millis(250),
            min_timeout: Duration::from_secs(15),
        }
    }
}

/// The bandwidth-delay depth for a link, clamped by `config` (not `reqq`).
pub fn depth_for(rate: f64, latency: Duration, config: &PipelineConfig) -> u32 {
    let blocks = (rate * (latency + config.slack).as_secs_f64() / f64::from(BLOCK_SIZE)).ceil();
    // `as` saturates for huge and NaN values, which the clamp then bounds.
    (blocks as u32).clamp(config.min_depth, config.max_depth.max(config.min_depth))
}

/// Request queue state of one peer connection.
#[derive(Debug, Clone)]
pub struct Pipeline {
    config: PipelineConfig,
    reqq: u32,
    outstanding: VecDeque<(BlockRequest, Duration)>,
    /// `outstanding` is oldest first (always, unless a caller's clock went
    /// back), so the front is the next to time out.
    in_send_order: bool,
    depth: u32,
    slow_start: bool,
    min_rtt: Option<Duration>,
    srtt: Option<Duration>,
    /// Smoothed download rate, bytes per second.
    rate: f64,
    last_sample: Option<f64>,
    window_start: Duration,
    window_bytes: u64,
}

impl Pipeline {
    /// A fresh pipeline for a connection made at `now`.
    pub fn new(config: PipelineConfig, now: Duration) -> Self {
        let depth = config
            .initial_depth
            .clamp(config.min_depth, config.max_depth.max(config.min_depth));
        Self {
            config,
            reqq: u32::MAX,
            outstanding: VecDeque::new(),
            in_send_order: true,
            depth,
            slow_start: true,
            min_rtt: None,
            srtt: None,
            rate: 0.0,
            last_sample: None,
            window_start: now,
            window_bytes: 0,
        }
    }

    /// The peer's `reqq` from its extension handshake: never exceed it.
    pub fn set_reqq(&mut self, reqq: u32) {
        self.reqq = reqq.max(1);
        self.depth = self.clamp(self.depth);
    }

    fn clamp(&self, depth: u32) -> u32 {
        let max = self.config.max_depth.min(self.reqq);
        depth.clamp(self.config.min_depth.min(max), max)
    }

    /// Target number of requests in flight.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// Requests in flight.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// How many more requests to send now (pass to [`crate::Picker::pick`]).
    pub fn room(&self) -> usize {
        (self.depth as usize).saturating_sub(self.outstanding.len())
    }

    /// Smoothed download rate from this peer, bytes per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Lowest round-trip time seen, if any block arrived yet.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }

    /// Whether the depth is still in slow start.
    pub fn in_slow_start(&self) -> bool {
        self.slow_start
    }

    /// We sent `block` at `now`.
    pub fn request_sent(&mut self, block: BlockRequest, now: Duration) {
        if self.outstanding.is_empty()
            && now.saturating_sub(self.window_start) > self.config.sample_interval
        {
            // We were idle (nothing to ask): that gap says nothing about the
            // link, so start a fresh sample instead of averaging it in.
            self.window_start = now;
            self.window_bytes = 0;
        }
        match self.outstanding.back() {
            None => self.in_send_order = true,
            Some((_, sent)) if *sent > now => self.in_send_order = false,
            Some(_) => {}
        }
        self.outstanding.push_back((block, now));
    }

    /// A block arrived at `now`; returns its RTT when it matched a request.
    pub fn block_received(&mut self, block: BlockRequest, now: Duration) -> Option<Duration> {
        let rtt = self
            .outstanding
            .iter()
            .position(|(b, _)| *b == block)
            .and_then(|i| self.outstanding.remove(i))
            .map(|(_, sent)| now.saturating_sub(sent));
        self.record_block(block.length, rtt, now);
        rtt
    }

    /// The measurement core: `bytes` arrived at `now`, `rtt` after its
    /// request (when known). Updates rate, latency and depth.
    pub fn record_block(&mut self, bytes: u32, rtt: Option<Duration>, now: Duration) {
        if let Some(rtt) = rtt {
            self.min_rtt = Some(self.min_rtt.map_or(rtt, |m| m.min(rtt)));
            // RFC 6298 smoothing (gain 1/8).
            self.srtt = Some(
                self.srtt
                    .map_or(rtt, |s| s.saturating_mul(7).saturating_add(rtt) / 8),
            );
        }
        self.window_bytes += u64::from(bytes);
        let elapsed = now.saturating_sub(self.window_start);
        if elapsed >= self.config.sample_interval {
            let sample = self.window_bytes as f64 / elapsed.as_secs_f64();
            self.rate = match self.last_sample {
                None => sample,
                Some(_) => 0.5 * self.rate + 0.5 * sample,
            };
            if self.slow_start && self.last_sample.is_some_and(|prev| sample < prev * 1.1) {
                self.slow_start = false;
            }
            self.last_sample = Some(sample);
            self.window_start = now;
            self.window_bytes = 0;
        }
        let latency = self.min_rtt.unwrap_or_default();
        let mut depth = if self.rate > 0.0 {
            depth_for(self.rate, latency, &self.config)
        } else {
            self.depth
        };
        if self.slow_start {
            depth = depth.max(self.depth.saturating_add(1));
        }
        self.depth = self.clamp(depth);
    }

    /// A request was cancelled or rejected: it no longer counts.
    pub fn request_cancelled(&mut self, block: BlockRequest) -> bool {
        match self.outstanding.iter().position(|(b, _)| *b == block) {
            Some(i) => self.outstanding.remove(i).is_some(),
            None => false,
        }
    }

    /// The peer choked us: every request is void. Returns them.
    pub fn clear(&mut self) -> Vec<BlockRequest> {
        self.outstanding.drain(..).map(|(b, _)| b).collect()
    }

    /// How long a request may stay unanswered.
    pub fn timeout(&self) -> Duration {
        self.config
            .min_timeout
            .max(self.srtt.unwrap_or_default().saturating_mul(4))
    }

    /// When the oldest request will time out (arm a timer for it).
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.outstanding
            .iter()
            .map(|(_, sent)| *sent)
            .min()
            .map(|t| t.saturating_add(self.timeout()))
    }

    /// Removes and returns the requests that timed out by `now` (tell the
    /// picker: [`crate::Picker::request_timed_out`]); halves the depth.
    pub fn timed_out(&mut self, now: Duration) -> Vec<BlockRequest> {
        let timeout = self.timeout();
        if self.in_send_order
            && self
                .outstanding
                .front()
                .is_none_or(|(_, sent)| now.saturating_sub(*sent) < timeout)
        {
            // The oldest request has not timed out, so none has: the check
            // runs for every peer on every tick.
            return Vec::new();
        }
        let mut expired = Vec::new();
        self.outstanding.retain(|(b, sent)| {
            let keep = now.saturating_sub(*sent) < timeout;
            if !keep {
                expired.push(*b);
            }
            keep
        });
        if !expired.is_empty() {
            self.slow_start = false;
            self.depth = self.clamp(self.depth / 2);
        }
        expired
    }
}

#[cfg(test)]
mod tests;
