//! A datagram network for transports with congestion control of their own:
//! a dumbbell whose senders share one bottleneck toward their receivers (a
//! rate and a tail-drop queue of a given depth, as `tc tbf` makes one),
//! with a propagation delay each way and optional random loss on the way
//! in. uTP flows run two whole `shoal_utp::Endpoint`s each, so LEDBAT is
//! measured exactly as shoal runs it; TCP Reno flows (`reno.rs`) are the
//! loss-based traffic it must yield to. Virtual time, one seed, no
//! threads: a run replays exactly.
//!
//! The swarm simulator's network (`crate::sim`) shares capacity in fluid
//! steps and has no queue; this one moves single packets through one,
//! which is what delay-based congestion control needs to be tested on.

mod record;
mod reno;
mod utp_flow;

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::Duration;

use shoal_swarm::Rng;
use shoal_utp::{Config, ConnStats};

use record::Recorder;
use reno::Reno;
use utp_flow::{End, UtpFlow};

/// IPv4 and UDP header bytes around a uTP datagram on the wire.
const UDP_IP_OVERHEAD: usize = 28;

/// The shared link.
#[derive(Debug, Clone, PartialEq)]
pub struct Bottleneck {
    /// Rate in bytes per second.
    pub rate: u64,
    /// Queue depth, as the time the link takes to send it (tbf's
    /// `latency`): a packet that would wait longer is dropped.
    pub buffer: Duration,
    /// One-way propagation delay, each way (the base round trip is twice this).
    pub delay: Duration,
    /// Probability that a packet is lost before the queue.
    pub loss: f64,
}

/// A flow of a [`Dumbbell`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowId(usize);

enum Flow {
    Utp(Box<UtpFlow>),
    Reno(Reno),
}

/// What arrives when.
enum Arrival {
    /// A uTP datagram reaches one end of flow `.0`.
    Utp(usize, End, Vec<u8>),
    /// Reno flow `.0` hears its packet was acknowledged.
    RenoAck(usize),
    /// Reno flow `.0` learns its packet `.1` was dropped.
    RenoLoss(usize, u64),
}

/// An arrival in the event queue, ordered by time, then by scheduling order.
struct Pending {
    at: Duration,
    order: u64,
    what: Arrival,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// Senders on one side, receivers on the other, one bottleneck between.
pub struct Dumbbell {
    link: Bottleneck,
    now: Duration,
    rng: Rng,
    seed: u64,
    order: u64,
    queue: BinaryHeap<Reverse<Pending>>,
    /// When the bottleneck has sent everything queued so far.
    busy_until: Duration,
    flows: Vec<Flow>,
    record: Recorder,
    /// Datagrams collected from a flow, before they enter the network.
    scratch: Vec<(End, Vec<u8>)>,
}

impl Dumbbell {
    /// An empty network over `link`; `seed` drives loss and the endpoints.
    pub fn new(link: Bottleneck, seed: u64) -> Self {
        Self {
            link,
            now: Duration::ZERO,
            rng: Rng::new(seed),
            seed,
            order: 0,
            queue: BinaryHeap::new(),
            busy_until: Duration::ZERO,
            flows: Vec::new(),
            record: Recorder::default(),
            scratch: Vec::new(),
        }
    }

    /// The virtual time.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Starts a uTP transfer of `bytes` (`None`: endless) now.
    pub fn add_utp(&mut self, config: Config, bytes: Option<u64>) -> FlowId {
        let i = self.flows.len();
        let seed = self.seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let flow = UtpFlow::new(config, seed, i, bytes, self.now);
        self.flows.push(Flow::Utp(Box::new(flow)));
        self.record.add_flow(i);
        FlowId(i)
    }

    /// Starts an endless TCP Reno flow now.
    pub fn add_reno(&mut self) -> FlowId {
        let i = self.flows.len();
        self.flows.push(Flow::Reno(Reno::new()));
        self.record.add_flow(i);
        FlowId(i)
    }

    /// Wire bytes (headers included) `flow` sent through the bottleneck in
    /// `[from, to)`, to the nearest 10 ms.
    pub fn link_bytes(&self, flow: FlowId, from: Duration, to: Duration) -> u64 {
        self.record.link_bytes(flow.0, from, to)
    }

    /// Payload bytes `flow`'s receiver got in `[from, to)`.
    pub fn payload_bytes(&self, flow: FlowId, from: Duration, to: Duration) -> u64 {
        self.record.payload_bytes(flow.0, from, to)
    }

    /// Mean and largest queueing delay of the packets that reached the
    /// bottleneck in `[from, to)`.
    pub fn queue_delay(&self, from: Duration, to: Duration) -> (Duration, Duration) {
        self.record.delay(from, to)
    }

    /// The uTP sender's view of `flow` (none for Reno flows).
    pub fn utp_stats(&self, flow: FlowId) -> Option<ConnStats> {
        match self.flows.get(flow.0)? {
            Flow::Utp(f) => f.stats(),
            Flow::Reno(_) => None,
        }
    }

    /// Runs the network for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        loop {
            self.pump();
            let next_arrival = self.queue.peek().map(|Reverse(p)| p.at);
            let next = self
                .flows
                .iter()
                .filter_map(|f| match f {
                    Flow::Utp(u) => u.poll_timeout(),
                    Flow::Reno(_) => None,
                })
                .chain(next_arrival)
                .min();
            match next {
                Some(t) if t <= until => self.now = self.now.max(t),
                _ => {
                    self.now = until;
                    return;
                }
            }
            while self.queue.peek().is_some_and(|Reverse(p)| p.at <= self.now) {
                if let Some(Reverse(p)) = self.queue.pop() {
                    self.arrive(p.what);
                }
            }
            let now = self.now;
            for f in &mut self.flows {
                if let Flow::Utp(u) = f {
                    u.handle_timeout(now);
                }
            }
        }
    }

    fn arrive(&mut self, what: Arrival) {
        let now = self.now;
        match what {
            Arrival::Utp(i, to, data) => {
                if let Some(Flow::Utp(f)) = self.flows.get_mut(i) {
                    f.deliver(to, &data, now);
                }
            }
            Arrival::RenoAck(i) => {
                if let Some(Flow::Reno(r)) = self.flows.get_mut(i) {
                    r.on_ack();
                }
            }
            Arrival::RenoLoss(i, n) => {
                if let Some(Flow::Reno(r)) = self.flows.get_mut(i) {
                    r.on_loss(n);
                }
            }
        }
    }

    /// Lets every flow send what it may now.
    fn pump(&mut self) {
        let now = self.now;
        for i in 0..self.flows.len() {
            let mut out = std::mem::take(&mut self.scratch);
            match self.flows.get_mut(i) {
                Some(Flow::Utp(f)) => {
                    let read = f.pump(now, &mut out);
                    if read > 0 {
                        self.record.received(i, now, read);
                    }
                    for (from, data) in out.drain(..) {
                        self.send_utp(i, from, data);
                    }
                }
                Some(Flow::Reno(_)) => self.reno_fill(i),
                None => {}
            }
            self.scratch = out;
        }
    }

    fn schedule(&mut self, at: Duration, what: Arrival) {
        self.order += 1;
        self.queue.push(Reverse(Pending {
            at,
            order: self.order,
            what,
        }));
    }

    /// Puts `wire` bytes of `flow` into the bottleneck: when they will have
    /// left it, or `None` if they were lost or the queue was full.
    fn enqueue(&mut self, flow: usize, wire: usize) -> Option<Duration> {
        if self.link.loss > 0.0 && self.rng.unit() < self.link.loss {
            return None;
        }
        let rate = self.link.rate.max(1) as f64;
        let start = self.busy_until.max(self.now);
        let waits = start - self.now;
        if (waits + Duration::from_secs_f64(wire as f64 / rate)) > self.link.buffer {
            return None;
        }
        self.record.queued(self.now, waits);
        self.busy_until = start + Duration::from_secs_f64(wire as f64 / rate);
        self.record.sent(flow, self.busy_until, wire);
        Some(self.busy_until)
    }

    fn send_utp(&mut self, i: usize, from: End, data: Vec<u8>) {
        let delay = self.link.delay;
        match from {
            End::Sender => {
                if let Some(left) = self.enqueue(i, data.len() + UDP_IP_OVERHEAD) {
                    self.schedule(left + delay, Arrival::Utp(i, End::Receiver, data));
                }
            }
            // The way back is not congested.
            End::Receiver => {
                let at = self.now + delay;
                self.schedule(at, Arrival::Utp(i, End::Sender, data));
            }
        }
    }

    fn reno_fill(&mut self, i: usize) {
        let rtt = self.link.delay * 2;
        loop {
            let n = match self.flows.get_mut(i) {
                Some(Flow::Reno(r)) if r.can_send() => r.on_send(),
                _ => return,
            };
            match self.enqueue(i, reno::PACKET) {
                Some(left) => {
                    self.record
                        .received(i, left + self.link.delay, reno::PAYLOAD);
                    self.schedule(left + rtt, Arrival::RenoAck(i));
                }
                None => {
                    // Found lost when the packets behind it are acked.
                    let at = self.busy_until.max(self.now) + rtt;
                    self.schedule(at, Arrival::RenoLoss(i, n));
                }
            }
        }
    }
}
