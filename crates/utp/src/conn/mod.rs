//! One uTP connection: the state machine between the endpoint's demux and
//! the send window, receive buffer, RTT estimator, LEDBAT and packet-size
//! search. `input` takes packets, `output` builds them, `timer` runs the
//! deadlines.

mod input;
mod output;
mod timer;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use crate::ledbat::Ledbat;
use crate::mtu::Mtu;
use crate::packet::Header;
use crate::recv::RecvBuf;
use crate::rtt::Rtt;
use crate::send::{Kind, SendWindow};
use crate::{CloseReason, Config, ConnId, ConnStats, Error, Event};

/// A delayed ack waits at most this long for a second packet to ack with it.
const ACK_DELAY: Duration = Duration::from_millis(2);
/// A removed connection still delivering its FIN gives up after this.
const LINGER: Duration = Duration::from_secs(10);

/// Handshake progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// SYN sent, no answer yet.
    SynSent,
    /// Either side may send data.
    Connected,
}

/// Microseconds on the wire clock (wrapping).
pub(crate) fn micros(now: Duration) -> u32 {
    now.as_micros() as u32
}

/// One connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) id: ConnId,
    pub(crate) addr: SocketAddr,
    pub(crate) recv_id: u16,
    pub(crate) send_id: u16,
    cfg: Config,
    state: State,
    send: SendWindow,
    /// Bytes written and not yet packetised.
    unsent: VecDeque<u8>,
    recv: RecvBuf,
    rtt: Rtt,
    cc: Ledbat,
    mtu: Mtu,
    peer_wnd: usize,
    /// Our clock minus the peer's timestamp on its latest packet.
    reply_micro: u32,
    dup_acks: u32,
    /// No further window halving until the cumulative ack passes this.
    recovery_until: Option<u16>,
    syn_due: bool,
    ack_due: bool,
    ack_deadline: Option<Duration>,
    in_order_unacked: u32,
    rto_deadline: Option<Duration>,
    connect_deadline: Duration,
    last_recv: Duration,
    last_send: Duration,
    nagle_since: Option<Duration>,
    nagle_expired: bool,
    window_probe: bool,
    last_adv_wnd: usize,
    /// Acceptor only, until the dialler sends anything but SYN: our ISN,
    /// which every STATE must carry (the dialler takes `seq_nr - 1` as
    /// received, so a later number would skip our data it never got).
    syn_reply_seq: Option<u16>,
    fin_queued: bool,
    fin_sent: bool,
    fin_acked: bool,
    /// Terminal failure (RESET, timeout, refused): nothing more is sent.
    dead: bool,
    /// The user removed it; it lingers only to deliver its FIN.
    pub(crate) detached: bool,
    linger_deadline: Option<Duration>,
    closed_reported: bool,
    readable_signalled: bool,
    want_writable: bool,
    pub(crate) events: Vec<Event>,
    stats: ConnStats,
}

impl Conn {
    fn new(
        id: ConnId,
        addr: SocketAddr,
        ids: (u16, u16),
        isn: u16,
        cfg: &Config,
        now: Duration,
    ) -> Self {
        let mtu = Mtu::new(cfg.initial_packet, cfg.max_packet);
        // Reordering deeper than a window of ~1100-byte packets is dropped
        // (as libtorrent does): it bounds the ring a hostile sender can make
        // us allocate by sending far ahead.
        let max_ooo = cfg.recv_window / 1100 + 16;
        Self {
            id,
            addr,
            recv_id: ids.0,
            send_id: ids.1,
            state: State::SynSent,
            send: SendWindow::new(isn, cfg.max_in_flight_packets),
            unsent: VecDeque::new(),
            recv: RecvBuf::new(cfg.recv_window, max_ooo),
            rtt: Rtt::new(),
            cc: Ledbat::new(mtu.size(), cfg.send_buffer, cfg.target_delay),
            mtu,
            peer_wnd: cfg.initial_packet,
            reply_micro: 0,
            dup_acks: 0,
            recovery_until: None,
            syn_due: false,
            ack_due: false,
            ack_deadline: None,
            in_order_unacked: 0,
            rto_deadline: None,
            connect_deadline: now + cfg.connect_timeout,
            last_recv: now,
            last_send: now,
            nagle_since: None,
            nagle_expired: false,
            window_probe: false,
            last_adv_wnd: cfg.recv_window,
            syn_reply_seq: None,
            fin_queued: false,
            fin_sent: false,
            fin_acked: false,
            dead: false,
            detached: false,
            linger_deadline: None,
            closed_reported: false,
            readable_signalled: false,
            want_writable: false,
            events: Vec::new(),
            stats: ConnStats::default(),
            cfg: cfg.clone(),
        }
    }

    /// A connection we dial: `recv_id` is ours, the SYN carries it, and
    /// every later packet carries `recv_id + 1`.
    pub(crate) fn dial(
        id: ConnId,
        addr: SocketAddr,
        recv_id: u16,
        isn: u16,
        cfg: &Config,
        now: Duration,
    ) -> Self {
        let mut c = Self::new(id, addr, (recv_id, recv_id.wrapping_add(1)), isn, cfg, now);
        // The SYN takes sequence number `isn`; its ack completes the dial.
        let syn = c.send.buffer();
        let _ = c.send.push(Kind::Syn, syn, now, 0);
        c.syn_due = true;
        c
    }

    /// A connection the peer dialled with `syn`: we answer with STATE; our
    /// first DATA takes `isn`.
    pub(crate) fn accept(
        id: ConnId,
        addr: SocketAddr,
        syn: &Header,
        isn: u16,
        cfg: &Config,
        now: Duration,
    ) -> Self {
        let ids = (syn.conn_id.wrapping_add(1), syn.conn_id);
        let mut c = Self::new(id, addr, ids, isn, cfg, now);
        c.state = State::Connected;
        c.recv.set_ack_nr(syn.seq_nr);
        c.peer_wnd = syn.wnd_size as usize;
        c.reply_micro = micros(now).wrapping_sub(syn.timestamp);
        c.syn_reply_seq = Some(isn);
        c.ack_due = true;
        c
    }

    pub(crate) fn state(&self) -> State {
        self.state
    }

    /// Ends the connection for `reason`: nothing more is sent.
    fn fail(&mut self, reason: CloseReason) {
        self.dead = true;
        self.unsent.clear();
        self.syn_due = false;
        self.ack_due = false;
        self.report_closed(reason);
    }

    fn report_closed(&mut self, reason: CloseReason) {
        if !self.closed_reported {
            self.closed_reported = true;
            self.events.push(Event::Closed(self.id, reason));
        }
    }

    /// Whether a RESET is owed when the user forgets it now.
    pub(crate) fn is_open(&self) -> bool {
        !(self.dead || (self.fin_acked && self.recv.fin_reached()))
    }

    /// Whether the endpoint may free it (detached and done).
    pub(crate) fn is_finished(&self) -> bool {
        self.detached && (self.dead || self.fin_acked)
    }

    /// Detaches it: the FIN (after queued data) still goes out; RESET is
    /// the caller's job when `close` was never called.
    pub(crate) fn detach(&mut self, now: Duration) {
        self.detached = true;
        self.fin_queued = true;
        self.recv.discard();
        self.linger_deadline = Some(now + LINGER);
        self.events.clear();
    }

    /// Ends it silently (the caller sends the RESET).
    pub(crate) fn kill(&mut self) {
        self.dead = true;
        self.closed_reported = true;
    }

    /// Whether the user asked to close.
    pub(crate) fn closing(&self) -> bool {
        self.fin_queued
    }

    /// A RESET header for this connection.
    pub(crate) fn reset_header(&self, now: Duration) -> Header {
        Header {
            ty: crate::packet::PacketType::Reset,
            conn_id: self.send_id,
            timestamp: micros(now),
            timestamp_diff: self.reply_micro,
            wnd_size: 0,
            seq_nr: self.send.next_seq(),
            ack_nr: self.recv.ack_nr(),
        }
    }

    fn send_room(&self) -> usize {
        self.cfg
            .send_buffer
            .saturating_sub(self.unsent.len() + self.send.held())
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> Result<usize, Error> {
        if self.dead || self.fin_queued {
            return Err(Error::Closed);
        }
        let n = data.len().min(self.send_room());
        self.unsent.extend(data.get(..n).unwrap_or_default());
        if n < data.len() {
            self.want_writable = true;
        }
        Ok(n)
    }

    pub(crate) fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = self.recv.read(buf);
        if self.recv.readable_len() == 0 {
            self.readable_signalled = false;
        }
        self.stats.bytes_received += n as u64;
        // Tell a peer stalled on our window that it opened again.
        let wnd = self.recv.window_left();
        if self.last_adv_wnd < self.cfg.recv_window / 2 && wnd >= self.cfg.recv_window / 2 {
            self.ack_due = true;
        }
        self.check_eof();
        n
    }

    fn check_eof(&mut self) {
        if self.recv.is_eof() {
            self.report_closed(CloseReason::Finished);
        }
    }

    pub(crate) fn is_readable_eof(&self) -> bool {
        self.recv.is_eof()
    }

    pub(crate) fn close(&mut self) {
        self.fin_queued = true;
    }

    /// Whether `poll_transmit` may have something (a cheap over-estimate).
    pub(crate) fn wants_transmit(&self) -> bool {
        !self.dead
            && (self.syn_due
                || self.ack_due
                || !self.unsent.is_empty()
                || (self.fin_queued && !self.fin_sent && self.state == State::Connected)
                || self.send.has_resend())
    }

    /// The earliest deadline.
    pub(crate) fn deadline(&self) -> Option<Duration> {
        if self.dead {
            return None;
        }
        let mut d = [
            self.rto_deadline,
            self.ack_deadline,
            self.linger_deadline,
            self.nagle_since
                .filter(|_| !self.nagle_expired)
                .map(|t| t + self.cfg.nagle_delay),
            Some(self.last_recv + self.cfg.idle_timeout),
        ]
        .into_iter()
        .flatten()
        .min();
        let extra = match self.state {
            State::SynSent => self.connect_deadline,
            State::Connected if self.syn_reply_seq.is_some() => self
                .connect_deadline
                .min(self.last_send + self.cfg.keepalive_interval),
            State::Connected => self.last_send + self.cfg.keepalive_interval,
        };
        d = Some(d.map_or(extra, |d| d.min(extra)));
        d
    }

    pub(crate) fn stats(&self) -> ConnStats {
        ConnStats {
            rtt: self.rtt.srtt(),
            rto: self.rtt.rto(),
            cwnd: self.cc.cwnd(),
            in_flight: self.send.flight(),
            queue_delay: self.cc.queue_delay(),
            packet_size: self.mtu.size(),
            ..self.stats.clone()
        }
    }

    /// Room freed in the send buffer: tell a writer that waited.
    fn maybe_writable(&mut self) {
        if self.want_writable && self.send_room() > 0 && !self.fin_queued && !self.dead {
            self.want_writable = false;
            self.events.push(Event::Writable(self.id));
        }
    }
}
