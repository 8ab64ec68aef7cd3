//! A deterministic, seeded simulated link between two uTP endpoints in one
//! process: delay, jitter (reordering), loss, duplication, a rate-limited
//! bottleneck with a byte-limited queue, and a path MTU. Virtual time only.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::Duration;

use shoal_rng::Rng;
use shoal_utp::{CloseReason, Config, ConnId, Endpoint, Event};

/// One direction of the link.
#[derive(Clone)]
pub struct Link {
    pub delay: Duration,
    /// Extra random delay in `0..jitter`, which reorders packets.
    pub jitter: Duration,
    pub loss: f64,
    pub dup: f64,
    /// Bottleneck rate in bytes per second (none: infinite).
    pub rate: Option<u64>,
    /// Bytes the bottleneck queue holds before it drops (tail drop).
    pub queue_limit: usize,
    /// Path MTU: a datagram above it is dropped (don't-fragment set, or
    /// a receiver that reads into a smaller buffer).
    pub mtu: Option<usize>,
    /// Drop everything (a cut cable).
    pub cut: bool,
}

impl Default for Link {
    fn default() -> Self {
        Self {
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            dup: 0.0,
            rate: None,
            queue_limit: usize::MAX,
            mtu: None,
            cut: false,
        }
    }
}

#[derive(Default)]
struct LinkState {
    busy_until: Duration,
    /// (time entered, queueing delay) of every packet through the bottleneck.
    queue_samples: Vec<(Duration, Duration)>,
    delivered_bytes: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Side {
    A,
    B,
    /// The competing TCP flow's ack reaches its sender.
    TcpAck,
    /// The competing TCP flow's sender learns a packet was dropped.
    TcpLoss,
}

/// A loss-based competitor (TCP Reno in packets: slow start, +1 per RTT,
/// halve once per window on loss) sharing the A→B bottleneck.
#[derive(Default)]
pub struct Reno {
    pub on: bool,
    cwnd: f64,
    ssthresh: f64,
    in_flight: u32,
    /// Packets sent; a loss of one sent before `recovery_until` is part of
    /// the same window and halves nothing.
    sent: u64,
    recovery_until: u64,
    /// Bytes it delivered, with when.
    pub delivered: Vec<(Duration, u64)>,
}

const RENO_PACKET: usize = 1500;

/// A datagram on its way: arrival time, tie-breaker, receiver, bytes.
type InFlight = (Duration, u64, Side, Vec<u8>);
/// Decides whether to drop a datagram (`true`), and may rewrite it.
pub type Filter = Box<dyn FnMut(&mut Vec<u8>) -> bool>;

/// The two endpoints, the link, and one transfer's application state.
pub struct Sim {
    pub a: Endpoint,
    pub b: Endpoint,
    pub addr_a: SocketAddr,
    pub addr_b: SocketAddr,
    pub now: Duration,
    pub ab: Link,
    pub ba: Link,
    state_ab: LinkState,
    state_ba: LinkState,
    rng: Rng,
    counter: u64,
    queue: BinaryHeap<Reverse<InFlight>>,
    /// Data A writes to its connection.
    pub to_send: Vec<u8>,
    pub sent: usize,
    /// Whether A closes once everything is written.
    pub close_when_sent: bool,
    pub closed_sent: bool,
    /// What B read.
    pub received: Vec<u8>,
    /// B leaves its data unread (its receive window fills up).
    pub b_not_reading: bool,
    pub conn_a: Option<ConnId>,
    pub conn_b: Option<ConnId>,
    pub events: Vec<(Duration, Side, Event)>,
    /// Called on every datagram A sends; `true` drops it.
    pub filter_ab: Option<Filter>,
    /// Called on every datagram B sends; `true` drops it.
    pub filter_ba: Option<Filter>,
    buf: Vec<u8>,
    pub datagrams: u64,
    /// Competing TCP-like traffic A→B (off unless `reno.on`).
    pub reno: Reno,
    /// (time, bytes B has read), sampled at every step.
    pub progress: Vec<(Duration, usize)>,
    /// The connection id on the latest datagram A sent, and B sent.
    pub wire_ids: (u16, u16),
    /// (seq_nr, ack_nr) on the latest datagram A sent, and B sent.
    pub wire_seqs: ((u16, u16), (u16, u16)),
}

impl Sim {
    pub fn new(config: Config, seed: u64) -> Self {
        Self::with_configs(config.clone(), config, seed, seed ^ 0x5eed, seed ^ 0x11)
    }

    pub fn with_configs(ca: Config, cb: Config, seed_a: u64, seed_b: u64, link_seed: u64) -> Self {
        let max = ca.max_packet.max(cb.max_packet) + 64;
        let mut b = Endpoint::new(cb, seed_b);
        b.set_accepting(true);
        Self {
            a: Endpoint::new(ca, seed_a),
            b,
            addr_a: "127.0.0.1:1001".parse().unwrap(),
            addr_b: "127.0.0.1:1002".parse().unwrap(),
            now: Duration::from_secs(1),
            ab: Link::default(),
            ba: Link::default(),
            state_ab: LinkState::default(),
            state_ba: LinkState::default(),
            rng: Rng::new(link_seed),
            counter: 0,
            queue: BinaryHeap::new(),
            to_send: Vec::new(),
            sent: 0,
            close_when_sent: true,
            closed_sent: false,
            received: Vec::new(),
            b_not_reading: false,
            conn_a: None,
            conn_b: None,
            events: Vec::new(),
            filter_ab: None,
            filter_ba: None,
            buf: vec![0; max],
            datagrams: 0,
            reno: Reno::default(),
            progress: Vec::new(),
            wire_ids: (0, 0),
            wire_seqs: ((0, 0), (0, 0)),
        }
    }

    /// Random bytes for a transfer.
    pub fn random_data(len: usize, seed: u64) -> Vec<u8> {
        let mut rng = Rng::new(seed);
        let mut v = vec![0u8; len];
        for chunk in v.chunks_mut(8) {
            let x = rng.next_u64().to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
        v
    }

    pub fn dial(&mut self) -> ConnId {
        let id = self.a.connect(self.addr_b, self.now).unwrap();
        self.conn_a = Some(id);
        id
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    fn send_on_link(&mut self, from: Side, data: Vec<u8>) {
        self.datagrams += 1;
        let id = u16::from_be_bytes([data[2], data[3]]);
        let seqs = (
            u16::from_be_bytes([data[16], data[17]]),
            u16::from_be_bytes([data[18], data[19]]),
        );
        match from {
            Side::A => (self.wire_ids.0, self.wire_seqs.0) = (id, seqs),
            Side::B | Side::TcpAck | Side::TcpLoss => {
                (self.wire_ids.1, self.wire_seqs.1) = (id, seqs)
            }
        }
        let (link, to) = match from {
            Side::A => (self.ab.clone(), Side::B),
            Side::B | Side::TcpAck | Side::TcpLoss => (self.ba.clone(), Side::A),
        };
        let mut data = data;
        let filter = match from {
            Side::A => self.filter_ab.as_mut(),
            Side::B | Side::TcpAck | Side::TcpLoss => self.filter_ba.as_mut(),
        };
        if let Some(f) = filter
            && f(&mut data)
        {
            return;
        }
        if link.cut || self.chance(link.loss) {
            return;
        }
        let now = self.now;
        let state = match from {
            Side::A => &mut self.state_ab,
            Side::B | Side::TcpAck | Side::TcpLoss => &mut self.state_ba,
        };
        if link.mtu.is_some_and(|mtu| data.len() > mtu) {
            return;
        }
        let mut at = now;
        if let Some(rate) = link.rate {
            let start = state.busy_until.max(now);
            let waiting = start - now;
            let queued_bytes = waiting.as_secs_f64() * rate as f64;
            if queued_bytes > link.queue_limit as f64 {
                return;
            }
            state.queue_samples.push((now, waiting));
            state.busy_until = start + Duration::from_secs_f64(data.len() as f64 / rate as f64);
            at = state.busy_until;
        }
        state.delivered_bytes += data.len() as u64;
        let jitter = if link.jitter > Duration::ZERO {
            Duration::from_nanos(self.rng.next_u64() % link.jitter.as_nanos() as u64)
        } else {
            Duration::ZERO
        };
        let deliver = at + link.delay + jitter;
        let copies = if self.chance(link.dup) { 2 } else { 1 };
        for _ in 0..copies {
            self.counter += 1;
            self.queue
                .push(Reverse((deliver, self.counter, to, data.clone())));
        }
    }

    /// Puts one competitor packet into the A→B bottleneck: its ack (or the
    /// news of its loss, a round trip later) comes back as an event.
    fn reno_send(&mut self) {
        let link = self.ab.clone();
        let now = self.now;
        let rate = link.rate.unwrap_or(u64::MAX);
        let state = &mut self.state_ab;
        let start = state.busy_until.max(now);
        let waiting = start - now;
        let rtt = link.delay + self.ba.delay;
        self.reno.sent += 1;
        self.reno.in_flight += 1;
        self.counter += 1;
        let id = self.reno.sent.to_le_bytes().to_vec();
        if waiting.as_secs_f64() * rate as f64 > link.queue_limit as f64 {
            self.queue
                .push(Reverse((now + rtt, self.counter, Side::TcpLoss, id)));
            return;
        }
        state.queue_samples.push((now, waiting));
        state.busy_until = start + Duration::from_secs_f64(RENO_PACKET as f64 / rate as f64);
        let ack_at = state.busy_until + rtt;
        self.queue
            .push(Reverse((ack_at, self.counter, Side::TcpAck, id)));
    }

    fn reno_event(&mut self, to: Side, id: &[u8]) {
        let r = &mut self.reno;
        r.in_flight -= 1;
        if to == Side::TcpAck {
            r.delivered.push((self.now, RENO_PACKET as u64));
            if r.cwnd < r.ssthresh {
                r.cwnd += 1.0;
            } else {
                r.cwnd += 1.0 / r.cwnd;
            }
        } else {
            let n = u64::from_le_bytes(id.try_into().unwrap());
            if n > r.recovery_until {
                r.cwnd = (r.cwnd / 2.0).max(2.0);
                r.ssthresh = r.cwnd;
                r.recovery_until = r.sent;
            }
        }
        self.reno_fill();
    }

    fn reno_fill(&mut self) {
        while self.reno.on && f64::from(self.reno.in_flight) < self.reno.cwnd {
            self.reno_send();
        }
    }

    /// Starts the competitor.
    pub fn start_reno(&mut self) {
        self.reno.on = true;
        self.reno.cwnd = 2.0;
        self.reno.ssthresh = f64::MAX;
        self.reno_fill();
    }

    /// Bytes the competitor delivered in `[from, to)`.
    pub fn reno_bytes(&self, from: Duration, to: Duration) -> u64 {
        self.reno
            .delivered
            .iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .map(|(_, b)| b)
            .sum()
    }

    /// Bytes B read by `t`.
    pub fn received_by(&self, t: Duration) -> usize {
        self.progress
            .iter()
            .take_while(|(at, _)| *at <= t)
            .last()
            .map_or(0, |&(_, n)| n)
    }

    /// Queueing delays seen at the A→B bottleneck after `since`.
    pub fn queue_delays_ab(&self, since: Duration) -> Vec<Duration> {
        self.state_ab
            .queue_samples
            .iter()
            .filter(|(t, _)| *t >= since)
            .map(|&(_, d)| d)
            .collect()
    }

    fn pump(&mut self) {
        let mut rounds = 0u64;
        loop {
            rounds += 1;
            assert!(
                rounds < 1_000_000,
                "pump does not settle: {:?}",
                self.events.last()
            );
            let mut progressed = false;
            for side in [Side::A, Side::B] {
                loop {
                    let ep = match side {
                        Side::A => &mut self.a,
                        Side::B | Side::TcpAck | Side::TcpLoss => &mut self.b,
                    };
                    let Some((to, n)) = ep.poll_transmit_into(self.now, &mut self.buf) else {
                        break;
                    };
                    let expected = match side {
                        Side::A => self.addr_b,
                        Side::B | Side::TcpAck | Side::TcpLoss => self.addr_a,
                    };
                    assert_eq!(to, expected);
                    let data = self.buf[..n].to_vec();
                    if rounds > 999_990 {
                        eprintln!(
                            "{side:?} sends {:?}",
                            shoal_utp::packet::decode(&data).map(|p| p.header)
                        );
                    }
                    self.send_on_link(side, data);
                    progressed = true;
                }
                while let Some(ev) = match side {
                    Side::A => self.a.poll_event(),
                    Side::B | Side::TcpAck | Side::TcpLoss => self.b.poll_event(),
                } {
                    self.events.push((self.now, side, ev));
                    self.on_event(side, ev);
                    progressed = true;
                }
            }
            if self.fill_sender() {
                progressed = true;
            }
            if !progressed {
                break;
            }
        }
    }

    fn fill_sender(&mut self) -> bool {
        let Some(id) = self.conn_a else { return false };
        if !self.a.is_connected(id) {
            return false;
        }
        let mut wrote = false;
        while self.sent < self.to_send.len() {
            let end = (self.sent + 256 * 1024).min(self.to_send.len());
            match self.a.write(id, &self.to_send[self.sent..end], self.now) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    self.sent += n;
                    wrote = true;
                }
            }
        }
        if self.sent == self.to_send.len() && self.close_when_sent && !self.closed_sent {
            self.closed_sent = true;
            self.a.close(id, self.now);
            wrote = true;
        }
        wrote
    }

    fn on_event(&mut self, side: Side, ev: Event) {
        match (side, ev) {
            (Side::B, Event::Incoming(id, from)) => {
                assert_eq!(from, self.addr_a);
                self.conn_b = Some(id);
            }
            (Side::B, Event::Readable(id)) if !self.b_not_reading => self.read_b(id),
            _ => {}
        }
    }

    /// Reads everything B has.
    pub fn read_b(&mut self, id: ConnId) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = self.b.read(id, &mut buf).unwrap();
            if n == 0 {
                break;
            }
            self.received.extend_from_slice(&buf[..n]);
        }
    }

    /// Advances to the next delivery or deadline; false when nothing is left
    /// before `until`.
    pub fn step(&mut self, until: Duration) -> bool {
        self.pump();
        let next_packet = self.queue.peek().map(|Reverse((t, ..))| *t);
        let next = [next_packet, self.a.poll_timeout(), self.b.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { return false };
        if next > until {
            self.now = until;
            return false;
        }
        self.now = self.now.max(next);
        while let Some(Reverse((t, ..))) = self.queue.peek() {
            if *t > self.now {
                break;
            }
            let Reverse((_, _, to, data)) = self.queue.pop().unwrap();
            match to {
                Side::A => self.a.handle_datagram(self.addr_b, &data, self.now),
                Side::B => self.b.handle_datagram(self.addr_a, &data, self.now),
                Side::TcpAck | Side::TcpLoss => self.reno_event(to, &data),
            }
        }
        if self.a.poll_timeout().is_some_and(|t| t <= self.now) {
            self.a.handle_timeout(self.now);
        }
        if self.b.poll_timeout().is_some_and(|t| t <= self.now) {
            self.b.handle_timeout(self.now);
        }
        if self
            .progress
            .last()
            .is_none_or(|&(_, n)| n != self.received.len())
        {
            self.progress.push((self.now, self.received.len()));
        }
        true
    }

    /// Runs until `done` or `limit` of virtual time passes.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Sim) -> bool) -> bool {
        let until = self.now + limit;
        while !done(self) {
            if !self.step(until) {
                return done(self);
            }
        }
        true
    }

    /// Whether `side` saw `Closed` with `reason`.
    pub fn closed(&self, side: Side, reason: CloseReason) -> bool {
        self.events
            .iter()
            .any(|&(_, s, e)| s == side && matches!(e, Event::Closed(_, r) if r == reason))
    }

    /// Transfers `data` A→B and checks it arrived byte-exact; returns the
    /// virtual time it took.
    pub fn transfer(&mut self, data: Vec<u8>, limit: Duration) -> Duration {
        let start = self.now;
        self.to_send = data;
        self.dial();
        let len = self.to_send.len();
        let ok = self.run_until(limit, |s| {
            s.received.len() >= len && s.closed(Side::B, CloseReason::Finished)
        });
        assert!(
            ok,
            "transfer stalled: {} of {} bytes at {:?}, A {:?}, B {:?}",
            self.received.len(),
            len,
            self.now - start,
            self.conn_a.and_then(|id| self.a.stats(id)),
            self.conn_b.and_then(|id| self.b.stats(id)),
        );
        assert!(self.received == self.to_send, "data differs");
        self.now - start
    }
}
