//! The [`Endpoint`]: every uTP connection on one UDP socket. It
//! demultiplexes datagrams by (address, connection id), keeps one timer per
//! connection in an ordered set (the earliest is `poll_timeout`, no scan),
//! and hands out datagrams from a round-robin queue of connections that may
//! have something to send.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use shoal_rng::Rng;

use crate::conn::{Conn, State};
use crate::packet::{self, HEADER_LEN, Header, PacketType};
use crate::{Config, ConnId, ConnStats, Error, Event, Transmit};

/// RESETs waiting to go out; beyond this, unknown packets go unanswered
/// (a flood of junk must not grow memory).
const MAX_PENDING_RESETS: usize = 256;

#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    conn: Option<Box<Conn>>,
    /// The deadline registered in `timers`.
    timer: Option<Duration>,
    /// In `ready`.
    queued: bool,
}

/// All uTP connections on one UDP socket: demultiplexes datagrams by
/// address and connection id, schedules transmissions and timers.
#[derive(Debug)]
pub struct Endpoint {
    config: Config,
    rng: Rng,
    accepting: bool,
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
    by_key: HashMap<(SocketAddr, u16), u32>,
    timers: BTreeSet<(Duration, u32)>,
    ready: VecDeque<u32>,
    events: VecDeque<Event>,
    resets: VecDeque<(SocketAddr, Header)>,
    last_now: Duration,
}

impl Endpoint {
    /// An endpoint with no connections; `seed` (from `getrandom`) picks
    /// connection ids and initial sequence numbers.
    pub fn new(config: Config, seed: u64) -> Endpoint {
        Endpoint {
            config,
            rng: Rng::new(seed),
            accepting: false,
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            by_key: HashMap::new(),
            timers: BTreeSet::new(),
            ready: VecDeque::new(),
            events: VecDeque::new(),
            resets: VecDeque::new(),
            last_now: Duration::ZERO,
        }
    }

    /// Cheap demultiplexing test: version 1 in the low nibble, a known
    /// packet type, at least a header's length.
    pub fn is_utp(datagram: &[u8]) -> bool {
        packet::looks_like_utp(datagram)
    }

    fn id_of(&self, index: u32) -> ConnId {
        let generation = self.slots.get(index as usize).map_or(0, |s| s.generation);
        ConnId(u64::from(generation) << 32 | u64::from(index))
    }

    fn index_of(&self, id: ConnId) -> Option<u32> {
        let index = (id.0 & 0xffff_ffff) as u32;
        let slot = self.slots.get(index as usize)?;
        let conn = slot.conn.as_ref()?;
        (u64::from(slot.generation) == id.0 >> 32 && !conn.detached).then_some(index)
    }

    fn conn(&self, id: ConnId) -> Option<&Conn> {
        let i = self.index_of(id)?;
        self.slots.get(i as usize)?.conn.as_deref()
    }

    fn conn_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        let i = self.index_of(id)?;
        self.slots.get_mut(i as usize)?.conn.as_deref_mut()
    }

    fn alloc(&mut self) -> u32 {
        if let Some(i) = self.free.pop() {
            return i;
        }
        self.slots.push(Slot::default());
        (self.slots.len() - 1) as u32
    }

    fn insert(&mut self, index: u32, conn: Conn) {
        self.by_key.insert((conn.addr, conn.recv_id), index);
        if let Some(slot) = self.slots.get_mut(index as usize) {
            slot.conn = Some(Box::new(conn));
        }
        self.live += 1;
        self.touch(index);
    }

    /// Brings the endpoint's view of one connection up to date after any
    /// call into it: events, timer, transmit queue, and freeing.
    fn touch(&mut self, index: u32) {
        self.update(index, true);
    }

    /// [`Endpoint::touch`]; `requeue` false after the connection just said
    /// it has nothing to send (only an ack, a timer or a write changes that).
    fn update(&mut self, index: u32, requeue: bool) {
        let Some(slot) = self.slots.get_mut(index as usize) else {
            return;
        };
        let Some(conn) = slot.conn.as_deref_mut() else {
            return;
        };
        self.events.extend(conn.events.drain(..));
        let finished = conn.is_finished();
        let deadline = if finished { None } else { conn.deadline() };
        let wants = requeue && !finished && conn.wants_transmit();
        let key = (conn.addr, conn.recv_id);
        if slot.timer != deadline {
            if let Some(old) = slot.timer {
                self.timers.remove(&(old, index));
            }
            if let Some(new) = deadline {
                self.timers.insert((new, index));
            }
            slot.timer = deadline;
        }
        if wants && !slot.queued {
            slot.queued = true;
            self.ready.push_back(index);
        }
        if finished {
            slot.conn = None;
            slot.generation = slot.generation.wrapping_add(1);
            if !slot.queued {
                self.free.push(index);
            }
            self.by_key.remove(&key);
            self.live -= 1;
        }
    }

    /// Dials `to`; the connection is usable after [`Event::Connected`].
    pub fn connect(&mut self, to: SocketAddr, now: Duration) -> Result<ConnId, Error> {
        self.last_now = now;
        if self.live >= self.config.max_connections {
            return Err(Error::TooManyConnections);
        }
        let recv_id = (0..64)
            .map(|_| self.rng.next_u64() as u16)
            .find(|&id| !self.by_key.contains_key(&(to, id)))
            .ok_or(Error::TooManyConnections)?;
        let isn = self.rng.next_u64() as u16;
        let index = self.alloc();
        let id = self.id_of(index);
        let conn = Conn::dial(id, to, recv_id, isn, &self.config, now);
        self.insert(index, conn);
        Ok(id)
    }

    /// Whether incoming SYNs are taken (otherwise, or when full, they are
    /// answered with RESET).
    pub fn set_accepting(&mut self, on: bool) {
        self.accepting = on;
    }

    fn queue_reset(&mut self, to: SocketAddr, h: &Header, now: Duration) {
        if self.resets.len() >= MAX_PENDING_RESETS {
            return;
        }
        let reset = Header {
            ty: PacketType::Reset,
            conn_id: h.conn_id,
            timestamp: crate::conn::micros(now),
            timestamp_diff: 0,
            wnd_size: 0,
            seq_nr: self.rng.next_u64() as u16,
            ack_nr: h.seq_nr,
        };
        self.resets.push_back((to, reset));
    }

    /// Feeds one received datagram; malformed ones are dropped.
    pub fn handle_datagram(&mut self, from: SocketAddr, datagram: &[u8], now: Duration) {
        self.last_now = now;
        let Ok(p) = packet::decode(datagram) else {
            return;
        };
        let h = p.header;
        let index = match h.ty {
            PacketType::Syn => {
                let key = (from, h.conn_id.wrapping_add(1));
                match self.by_key.get(&key) {
                    Some(&i) => Some(i),
                    None => {
                        self.accept(from, &h, now);
                        return;
                    }
                }
            }
            PacketType::Reset => self.find_for_reset(from, h.conn_id),
            _ => self.by_key.get(&(from, h.conn_id)).copied(),
        };
        let Some(index) = index else {
            if h.ty != PacketType::Reset {
                self.queue_reset(from, &h, now);
            }
            return;
        };
        if let Some(conn) = self
            .slots
            .get_mut(index as usize)
            .and_then(|s| s.conn.as_deref_mut())
        {
            conn.handle(&p, now);
        }
        self.touch(index);
    }

    /// A RESET carries the id its sender sends with, which is ours for
    /// libtorrent-style peers and one off for others: accept either, as
    /// long as the other id matches too.
    fn find_for_reset(&self, from: SocketAddr, conn_id: u16) -> Option<u32> {
        if let Some(&i) = self.by_key.get(&(from, conn_id)) {
            return Some(i);
        }
        [conn_id.wrapping_add(1), conn_id.wrapping_sub(1)]
            .into_iter()
            .filter_map(|recv| self.by_key.get(&(from, recv)).copied())
            .find(|&i| {
                self.slots
                    .get(i as usize)
                    .and_then(|s| s.conn.as_ref())
                    .is_some_and(|c| c.send_id == conn_id)
            })
    }

    fn accept(&mut self, from: SocketAddr, syn: &Header, now: Duration) {
        if !self.accepting || self.live >= self.config.max_connections {
            self.queue_reset(from, syn, now);
            return;
        }
        let isn = self.rng.next_u64() as u16;
        let index = self.alloc();
        let id = self.id_of(index);
        let conn = Conn::accept(id, from, syn, isn, &self.config, now);
        self.events.push_back(Event::Incoming(id, from));
        self.insert(index, conn);
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        self.last_now = now;
        let mut due = Vec::new();
        while let Some(&(t, index)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.pop_first();
            if let Some(slot) = self.slots.get_mut(index as usize) {
                slot.timer = None;
            }
            due.push(index);
        }
        for index in due {
            if let Some(conn) = self
                .slots
                .get_mut(index as usize)
                .and_then(|s| s.conn.as_deref_mut())
            {
                conn.on_timeout(now);
            }
            self.touch(index);
        }
    }

    /// The earliest deadline of any connection.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.timers.first().map(|&(t, _)| t)
    }

    /// The next datagram to send, allocated.
    pub fn poll_transmit(&mut self, now: Duration) -> Option<Transmit> {
        let mut buf = vec![0; self.config.max_packet.max(HEADER_LEN + 64)];
        let (to, len) = self.poll_transmit_into(now, &mut buf)?;
        buf.truncate(len);
        Some(Transmit { to, data: buf })
    }

    /// The next datagram to send, written into `buf` (which should hold
    /// `Config::max_packet` bytes); returns where to and its length.
    /// Allocates nothing.
    pub fn poll_transmit_into(
        &mut self,
        now: Duration,
        buf: &mut [u8],
    ) -> Option<(SocketAddr, usize)> {
        self.last_now = now;
        if let Some((to, h)) = self.resets.pop_front() {
            let n = packet::encode(&h, &[], &[], buf)?;
            return Some((to, n));
        }
        while let Some(index) = self.ready.pop_front() {
            let Some(slot) = self.slots.get_mut(index as usize) else {
                continue;
            };
            let Some(conn) = slot.conn.as_deref_mut() else {
                // Freed while queued.
                slot.queued = false;
                self.free.push(index);
                continue;
            };
            let sent = conn.poll_transmit(now, buf).map(|n| (conn.addr, n));
            if sent.is_some() {
                self.ready.push_back(index);
            } else {
                slot.queued = false;
            }
            self.update(index, sent.is_some());
            if sent.is_some() {
                return sent;
            }
        }
        None
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Queues bytes for sending; returns how many were taken (0 when the
    /// send buffer is full: wait for [`Event::Writable`]).
    pub fn write(&mut self, id: ConnId, data: &[u8], now: Duration) -> Result<usize, Error> {
        self.last_now = now;
        let index = self.index_of(id).ok_or(Error::UnknownConnection)?;
        let n = self
            .conn_mut(id)
            .ok_or(Error::UnknownConnection)?
            .write(data)?;
        self.touch(index);
        Ok(n)
    }

    /// Reads in-order bytes; `Ok(0)` means none now (or EOF, see
    /// [`Endpoint::is_readable_eof`]). Read until it returns 0: `Readable`
    /// is raised again only after that.
    pub fn read(&mut self, id: ConnId, buf: &mut [u8]) -> Result<usize, Error> {
        let index = self.index_of(id).ok_or(Error::UnknownConnection)?;
        let n = self.conn_mut(id).ok_or(Error::UnknownConnection)?.read(buf);
        self.touch(index);
        Ok(n)
    }

    /// Whether the peer sent FIN and every byte before it was read.
    pub fn is_readable_eof(&self, id: ConnId) -> bool {
        self.conn(id).is_some_and(Conn::is_readable_eof)
    }

    /// Whether the dial completed (or the connection was accepted).
    pub fn is_connected(&self, id: ConnId) -> bool {
        self.conn(id).is_some_and(|c| c.state() == State::Connected)
    }

    /// Sends FIN after the queued data; the connection stays readable.
    pub fn close(&mut self, id: ConnId, now: Duration) {
        self.last_now = now;
        if let Some(index) = self.index_of(id) {
            if let Some(c) = self.conn_mut(id) {
                c.close();
            }
            self.touch(index);
        }
    }

    /// Forgets a connection at once. One that was `close`d keeps
    /// delivering its queued data and FIN in the background (at most 10 s);
    /// one still open without `close` gets a RESET.
    pub fn remove(&mut self, id: ConnId) {
        let Some(index) = self.index_of(id) else {
            return;
        };
        let now = self.last_now;
        let mut reset = None;
        if let Some(c) = self.conn_mut(id) {
            if c.is_open() && !c.closing() {
                reset = Some((c.addr, c.reset_header(now)));
                c.detach(now);
                c.kill();
            } else {
                c.detach(now);
            }
        }
        if let Some(r) = reset
            && self.resets.len() < MAX_PENDING_RESETS
        {
            self.resets.push_back(r);
        }
        self.touch(index);
    }

    /// Measurements of one connection.
    pub fn stats(&self, id: ConnId) -> Option<ConnStats> {
        self.conn(id).map(Conn::stats)
    }

    /// Connections held, lingering ones included.
    pub fn connection_count(&self) -> usize {
        self.live
    }
}
