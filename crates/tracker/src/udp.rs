//! The UDP tracker logic: one decoded datagram in, at most one reply out.
//! The socket loop lives in [`crate::udp_io`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::MutexGuard;

use shoal_tracker_proto::InfoHash;
use shoal_tracker_proto::udp::{
    self, AddrFamily, Request, ScrapeStats, UdpError, write_announce_header,
    write_connect_response, write_error, write_scrape_header, write_scrape_stats,
};

use crate::access::{Access, split_path};
use crate::metrics::UdpCounts;
use crate::state::Shared;
use crate::store::{Announce, PeerAddr, Shards, Store};

/// The shard lock a batch holds: kept from one packet to the next while they
/// hit the same shard (with one worker there is one shard, so one lock per
/// batch), released when another shard is needed or the batch ends. A thread
/// never holds two, so workers cannot deadlock.
pub struct Held<'a> {
    shards: &'a Shards,
    guard: Option<(usize, MutexGuard<'a, Store>)>,
}

impl<'a> Held<'a> {
    /// Nothing locked yet.
    pub fn new(shards: &'a Shards) -> Held<'a> {
        Held {
            shards,
            guard: None,
        }
    }

    /// The store holding `h`'s swarm, locked.
    pub fn store(&mut self, h: &InfoHash) -> &mut Store {
        let i = self.shards.index(h);
        if self.guard.as_ref().is_some_and(|(j, _)| *j != i) {
            // Unlock before locking the next one: one lock per thread at a time.
            self.guard = None;
        }
        let (_, g) = self.guard.get_or_insert_with(|| (i, self.shards.lock(i)));
        g
    }
}

/// What one batch needs: taken once per batch, used per packet.
pub struct Ctx<'a> {
    /// Shared state (settings, connection ids).
    pub shared: &'a Shared,
    /// The store, locked shard by shard as packets need it.
    pub store: Held<'a>,
    /// Access rules at batch start.
    pub access: &'a Access,
    /// Store clock.
    pub now: u32,
    /// Counters to flush after the batch.
    pub counts: &'a mut UdpCounts,
}

fn error(ctx: &mut Ctx<'_>, out: &mut Vec<u8>, tid: u32, msg: &str) -> bool {
    ctx.counts.errors += 1;
    write_error(out, tid, msg.as_bytes());
    true
}

/// Handles one datagram from `src`; writes the reply into `out` (empty on entry)
/// and returns whether to send it. Junk gets silence: answering unauthenticated
/// garbage would make us a reflector.
pub fn handle(ctx: &mut Ctx<'_>, src: SocketAddr, pkt: &[u8], out: &mut Vec<u8>) -> bool {
    let src = SocketAddr::new(src.ip().to_canonical(), src.port());
    let req = match Request::decode(pkt) {
        Ok(r) => r,
        Err(e) => return decode_error(ctx, src, pkt, e, out),
    };
    match req {
        Request::Connect(c) => {
            ctx.counts.connects += 1;
            write_connect_response(
                out,
                c.transaction_id,
                ctx.shared.connids.issue(&src, ctx.now),
            );
            true
        }
        Request::Announce(a) => {
            if !ctx.shared.connids.check(&src, a.connection_id, ctx.now) {
                return bad_connection_id(ctx, out, a.transaction_id, pkt.len());
            }
            announce(ctx, src, &a, out)
        }
        Request::Scrape(s) => {
            if !ctx.shared.connids.check(&src, s.connection_id, ctx.now) {
                return bad_connection_id(ctx, out, s.transaction_id, pkt.len());
            }
            if ctx.access.private() {
                // A UDP scrape has no room for a passkey (BEP 41 URL data
                // rides on announces only): private swarms are scraped over
                // HTTP with the key, or not at all.
                return error(ctx, out, s.transaction_id, "scrape needs a passkey");
            }
            ctx.counts.scrapes += 1;
            write_scrape_header(out, s.transaction_id);
            for h in s.info_hashes.iter() {
                let st = scrape_one(&mut ctx.store, ctx.access, &h);
                write_scrape_stats(out, st);
            }
            true
        }
    }
}

/// The error for a request whose connection id is not valid for its source,
/// never longer than the request: the source address may be spoofed, and a
/// reply larger than what it cost to send would make us an amplifier.
fn bad_connection_id(ctx: &mut Ctx<'_>, out: &mut Vec<u8>, tid: u32, request_len: usize) -> bool {
    error(ctx, out, tid, "invalid or expired connection id");
    out.truncate(request_len);
    true
}

fn scrape_one(store: &mut Held<'_>, access: &Access, h: &InfoHash) -> ScrapeStats {
    if !access.allows(h) {
        return ScrapeStats::default();
    }
    store
        .store(h)
        .scrape(h)
        .map(|c| ScrapeStats {
            seeders: c.seeders,
            completed: c.completed,
            leechers: c.leechers,
        })
        .unwrap_or_default()
}

/// A packet that did not decode. If it carries a valid connection id for this
/// sender, the client is real and gets an error it can show; otherwise silence.
fn decode_error(
    ctx: &mut Ctx<'_>,
    src: SocketAddr,
    pkt: &[u8],
    e: UdpError,
    out: &mut Vec<u8>,
) -> bool {
    let authenticated = match (pkt.get(..8), pkt.get(12..16)) {
        (Some(cid), Some(_))
            if matches!(
                e,
                UdpError::UnknownAction(_)
                    | UdpError::UnknownEvent(_)
                    | UdpError::BadScrapeLength(_)
                    | UdpError::Truncated { .. }
            ) =>
        {
            let cid = u64::from_be_bytes(cid.try_into().unwrap_or([0; 8]));
            ctx.shared.connids.check(&src, cid, ctx.now)
        }
        _ => false,
    };
    if !authenticated {
        ctx.counts.dropped += 1;
        return false;
    }
    let tid = pkt
        .get(12..16)
        .map_or(0, |t| u32::from_be_bytes(t.try_into().unwrap_or([0; 4])));
    let msg = match e {
        UdpError::UnknownAction(_) => "unknown action",
        UdpError::UnknownEvent(_) => "unknown event",
        UdpError::BadScrapeLength(_) => "bad scrape request",
        _ => "truncated request",
    };
    error(ctx, out, tid, msg)
}

fn announce(
    ctx: &mut Ctx<'_>,
    src: SocketAddr,
    a: &udp::AnnounceRequest<'_>,
    out: &mut Vec<u8>,
) -> bool {
    if ctx.access.private() {
        // BEP 41 carries the announce URL path: /announce/<passkey>.
        let url = a.url_data();
        let path = url.split(|&b| b == b'?').next().unwrap_or(&[]);
        if !ctx.access.passkey_ok(split_path(path).1) {
            return error(ctx, out, a.transaction_id, "unknown passkey");
        }
    }
    if !ctx.access.allows(&a.info_hash) {
        return error(
            ctx,
            out,
            a.transaction_id,
            "Requested download is not authorized",
        );
    }
    if a.port == 0 {
        return error(ctx, out, a.transaction_id, "invalid port");
    }
    let ip = match (ctx.shared.cfg.trust_ip_param, a.ip) {
        (true, ip) if ip != 0 => IpAddr::V4(Ipv4Addr::from(ip)),
        _ => src.ip(),
    };
    let addr = PeerAddr::from_ip_port(ip, a.port);
    // The reply format follows the family the request came over (BEP 15).
    let family = if src.is_ipv4() {
        AddrFamily::V4
    } else {
        AddrFamily::V6
    };
    let cap = ctx.shared.cfg.numwant_max.min(family.max_peers());
    let want = if a.num_want <= 0 {
        ctx.shared.cfg.numwant_default
    } else {
        a.num_want as usize
    }
    .min(cap);
    let (want4, want6) = if family == AddrFamily::V4 {
        (want, 0)
    } else {
        (0, want)
    };
    let ann = Announce {
        info_hash: a.info_hash,
        addr,
        seeder: a.left == 0,
        event: a.event,
        peer_id: None,
    };
    write_announce_header(out, a.transaction_id, ctx.shared.cfg.interval, 0, 0);
    // Peers are appended straight after the header; the unused family's buffer
    // stays empty and never allocates.
    let mut none = Vec::new();
    let store = ctx.store.store(&a.info_hash);
    let counts = if family == AddrFamily::V4 {
        store.announce(&ann, ctx.now, want4, want6, out, &mut none)
    } else {
        store.announce(&ann, ctx.now, want4, want6, &mut none, out)
    };
    if let Some(h) = out.get_mut(12..20) {
        let (l, s) = h.split_at_mut(4);
        l.copy_from_slice(&counts.leechers.to_be_bytes());
        s.copy_from_slice(&counts.seeders.to_be_bytes());
    }
    ctx.counts.announces += 1;
    true
}
