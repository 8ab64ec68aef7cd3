//! One request to a UDP tracker (BEP 15), without I/O: a `connect` first
//! unless the [`ConnectionIdCache`] holds a live id, then the announce or
//! scrape; every datagram is sent again after a wait that doubles
//! ([`Backoff`]) until [`SENDS`] sends went unanswered. Replies that do not
//! carry the transaction id of the datagram in flight (junk, answers to
//! earlier requests) are skipped.
//!
//! # How a driver calls it
//!
//! `new`, then loop: send every datagram `poll_transmit(now)` returns; stop
//! when `poll_outcome()` has the result; otherwise wait for a datagram
//! (`handle_datagram`) until `poll_timeout()`.

use std::time::Duration;

use super::{Backoff, ConnectionIdCache};
use crate::udp::{
    AddrFamily, AnnounceRequest, AnnounceResponse, ConnectRequest, HashList, Request, Response,
    ScrapeRequest, ScrapeResponse,
};
use crate::{Event, InfoHash, PeerId};

/// First wait for a reply; doubled after each send. BEP 15 starts at 15 s
/// and goes on for an hour; a client that a user is watching gives up
/// sooner, and the announcer moves on to the next tracker.
pub const FIRST_WAIT: Duration = Duration::from_secs(2);
/// Sends of one datagram before the exchange gives up (2 + 4 + 8 + 16 s).
pub const SENDS: u32 = 4;

/// The announce fields a client fills in (the exchange adds the
/// connection and transaction ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpAnnounce {
    /// The torrent.
    pub info_hash: InfoHash,
    /// Our peer id.
    pub peer_id: PeerId,
    /// Bytes downloaded so far.
    pub downloaded: u64,
    /// Bytes still missing.
    pub left: u64,
    /// Bytes uploaded so far.
    pub uploaded: u64,
    /// What we are doing.
    pub event: Event,
    /// Our key (lets the tracker recognise us across address changes).
    pub key: u32,
    /// Peers wanted (-1: the tracker's default).
    pub num_want: i32,
    /// Our listening port.
    pub port: u16,
    /// BEP 41 options (URL data), possibly empty.
    pub options: Vec<u8>,
}

/// What to ask a UDP tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpQuery {
    /// An announce.
    Announce(UdpAnnounce),
    /// The counts of up to [`crate::limits::MAX_UDP_SCRAPE_HASHES`]
    /// torrents in one request (BEP 15); hashes past that are left out.
    Scrape(Vec<InfoHash>),
}

/// The tracker's answer to a [`UdpQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpReply {
    /// Answer to an announce.
    Announce(AnnounceResponse),
    /// Answer to a scrape.
    Scrape(ScrapeResponse),
}

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UdpFailure {
    /// No answer after [`SENDS`] sends.
    #[error("timed out")]
    TimedOut,
    /// The tracker answered with an error message.
    #[error("tracker says: {0}")]
    Refused(String),
    /// The tracker answered with the wrong kind of reply.
    #[error("unexpected reply to {0}")]
    Unexpected(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connect,
    Request { connection_id: u64 },
}

/// One query's exchange with a UDP tracker (see the module docs).
#[derive(Debug, Clone)]
pub struct UdpExchange {
    query: UdpQuery,
    family: AddrFamily,
    phase: Phase,
    /// Transaction ids of the `connect` and of the query.
    transaction_ids: [u32; 2],
    wait: Backoff,
    sends: u32,
    /// When the datagram is (re)sent, or the exchange gives up.
    next: Duration,
    /// The result, until taken.
    outcome: Option<Result<UdpReply, UdpFailure>>,
    /// A result was reached (taken or not): nothing more to do.
    done: bool,
}

impl UdpExchange {
    /// An exchange for `query` with a tracker at an address of `family`,
    /// starting at `now`. The transaction ids are drawn by the caller from
    /// a source an attacker cannot predict: one for the `connect`, one for
    /// the query.
    pub fn new(
        query: UdpQuery,
        family: AddrFamily,
        cache: &ConnectionIdCache,
        transaction_ids: [u32; 2],
        now: Duration,
    ) -> UdpExchange {
        let phase = match cache.get(now) {
            Some(connection_id) => Phase::Request { connection_id },
            None => Phase::Connect,
        };
        UdpExchange {
            query,
            family,
            phase,
            transaction_ids,
            wait: Backoff::new(FIRST_WAIT, Duration::MAX),
            sends: 0,
            next: now,
            outcome: None,
            done: false,
        }
    }

    /// The datagram to send at `now`, if one is due (the first at once,
    /// then each retransmit); past the last wait, the exchange times out.
    pub fn poll_transmit(&mut self, now: Duration) -> Option<Vec<u8>> {
        if self.done || now < self.next {
            return None;
        }
        if self.sends >= SENDS {
            self.finish(Err(UdpFailure::TimedOut));
            return None;
        }
        self.sends += 1;
        self.next = now.saturating_add(self.wait.next_delay());
        Some(self.datagram())
    }

    /// When [`UdpExchange::poll_transmit`] next has work (a retransmit or
    /// giving up); `None` once the exchange is over.
    pub fn poll_timeout(&self) -> Option<Duration> {
        (!self.done).then_some(self.next)
    }

    /// A datagram from the tracker. A `connect` reply's id goes into
    /// `cache` (and the query is sent next); an error reply to the query
    /// drops the cached id, since a stale id is a common cause.
    pub fn handle_datagram(
        &mut self,
        datagram: &[u8],
        cache: &mut ConnectionIdCache,
        now: Duration,
    ) {
        if self.done {
            return;
        }
        let Ok(response) = Response::decode(datagram, self.family) else {
            return;
        };
        if response_transaction(&response) != self.transaction_id() {
            return;
        }
        let outcome = match (self.phase, response) {
            (Phase::Connect, Response::Connect(c)) => {
                cache.store(c.connection_id, now);
                self.phase = Phase::Request {
                    connection_id: c.connection_id,
                };
                self.wait.reset();
                self.sends = 0;
                self.next = now;
                return;
            }
            (Phase::Connect, Response::Error(e)) => Err(UdpFailure::Refused(e.message)),
            (Phase::Connect, _) => Err(UdpFailure::Unexpected("connect")),
            (Phase::Request { .. }, Response::Error(e)) => {
                cache.forget();
                Err(UdpFailure::Refused(e.message))
            }
            (Phase::Request { .. }, Response::Announce(r))
                if matches!(self.query, UdpQuery::Announce(_)) =>
            {
                Ok(UdpReply::Announce(r))
            }
            (Phase::Request { .. }, Response::Scrape(r))
                if matches!(self.query, UdpQuery::Scrape(_)) =>
            {
                Ok(UdpReply::Scrape(r))
            }
            (Phase::Request { .. }, _) => Err(UdpFailure::Unexpected(match self.query {
                UdpQuery::Announce(_) => "announce",
                UdpQuery::Scrape(_) => "scrape",
            })),
        };
        self.finish(outcome);
    }

    fn finish(&mut self, outcome: Result<UdpReply, UdpFailure>) {
        self.outcome = Some(outcome);
        self.done = true;
    }

    /// The result, once there is one (taken: later calls give `None`).
    pub fn poll_outcome(&mut self) -> Option<Result<UdpReply, UdpFailure>> {
        self.outcome.take()
    }

    fn transaction_id(&self) -> u32 {
        let [connect, query] = self.transaction_ids;
        match self.phase {
            Phase::Connect => connect,
            Phase::Request { .. } => query,
        }
    }

    /// The datagram of the current phase.
    fn datagram(&self) -> Vec<u8> {
        let transaction_id = self.transaction_id();
        let mut packet = Vec::with_capacity(100);
        let connection_id = match self.phase {
            Phase::Connect => {
                Request::Connect(ConnectRequest { transaction_id }).encode(&mut packet);
                return packet;
            }
            Phase::Request { connection_id } => connection_id,
        };
        match &self.query {
            UdpQuery::Announce(a) => AnnounceRequest {
                connection_id,
                transaction_id,
                info_hash: a.info_hash,
                peer_id: a.peer_id,
                downloaded: a.downloaded,
                left: a.left,
                uploaded: a.uploaded,
                event: a.event,
                ip: 0,
                key: a.key,
                num_want: a.num_want,
                port: a.port,
                options: &a.options,
            }
            .encode(&mut packet),
            UdpQuery::Scrape(hashes) => {
                let flat: Vec<u8> = hashes
                    .iter()
                    .take(crate::limits::MAX_UDP_SCRAPE_HASHES)
                    .flatten()
                    .copied()
                    .collect();
                // 1 to 74 whole hashes are always a valid list.
                if let Ok(info_hashes) = HashList::new(&flat) {
                    Request::Scrape(ScrapeRequest {
                        connection_id,
                        transaction_id,
                        info_hashes,
                    })
                    .encode(&mut packet);
                }
            }
        }
        packet
    }
}

fn response_transaction(r: &Response) -> u32 {
    match r {
        Response::Connect(c) => c.transaction_id,
        Response::Announce(a) => a.transaction_id,
        Response::Scrape(s) => s.transaction_id,
        Response::Error(e) => e.transaction_id,
    }
}

#[cfg(test)]
mod tests;
