//! Two uTP endpoints joined by a script: real traffic between them mixed
//! with fuzzed datagrams (raw, or patched to carry a live connection's id
//! and nearby sequence numbers so they reach the state machine), clock
//! steps, writes, reads, closes and removes. Never panics; everything sent
//! decodes as uTP and fits `max_packet`.
#![no_main]

#[path = "common/cursor.rs"]
mod cursor;

use std::net::SocketAddr;
use std::time::Duration;

use cursor::Cursor;
use libfuzzer_sys::fuzz_target;
use shoal_utp::{Config, ConnId, Endpoint, Event, packet};

struct Side {
    ep: Endpoint,
    addr: SocketAddr,
    conn: Option<ConnId>,
    /// (conn_id, seq_nr, ack_nr) of the last datagram it sent.
    last: (u16, u16, u16),
    outbox: Vec<Vec<u8>>,
}

fn drain(side: &mut Side, now: Duration, max_packet: usize) {
    let mut buf = vec![0u8; max_packet];
    while let Some((_, n)) = side.ep.poll_transmit_into(now, &mut buf) {
        let d = buf.get(..n).expect("length within the buffer");
        let p = packet::decode(d).expect("the endpoint sends valid uTP");
        assert!(n <= max_packet);
        side.last = (p.header.conn_id, p.header.seq_nr, p.header.ack_nr);
        if side.outbox.len() < 256 {
            side.outbox.push(d.to_vec());
        }
    }
    while let Some(ev) = side.ep.poll_event() {
        match ev {
            Event::Incoming(id, _) | Event::Connected(id) => side.conn = Some(id),
            Event::Readable(id) => {
                let mut out = [0u8; 4096];
                while let Ok(n) = side.ep.read(id, &mut out) {
                    if n == 0 {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor(data);
    let max_packet = 1500;
    let config = Config {
        max_packet,
        max_connections: 4,
        ..Config::default()
    };
    let mut a = Side {
        ep: Endpoint::new(config.clone(), 1),
        addr: "127.0.0.1:1".parse().expect("address"),
        conn: None,
        last: (0, 0, 0),
        outbox: Vec::new(),
    };
    let mut b = Side {
        ep: Endpoint::new(config, 2),
        addr: "[::1]:2".parse().expect("address"),
        conn: None,
        last: (0, 0, 0),
        outbox: Vec::new(),
    };
    b.ep.set_accepting(true);
    let mut now = Duration::from_secs(1);
    let _ = a.ep.connect(b.addr, now);
    let mut steps = 0;
    while !input.is_empty() && steps < 256 {
        steps += 1;
        drain(&mut a, now, max_packet);
        drain(&mut b, now, max_packet);
        let op = input.byte();
        let (from, to) = if op & 0x80 == 0 {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        match op & 0x7f {
            0..=39 => {
                // Real traffic: deliver what `from` sent, maybe dropping
                // or duplicating one.
                let skip = usize::from(input.byte());
                for (i, d) in std::mem::take(&mut from.outbox).iter().enumerate() {
                    if i != skip {
                        to.ep.handle_datagram(from.addr, d, now);
                    }
                    if i == skip / 2 {
                        to.ep.handle_datagram(from.addr, d, now);
                    }
                }
            }
            40..=59 => {
                // A fuzzed datagram, posing as `from`'s connection.
                let mut d = input.chunk(max_packet).to_vec();
                if d.len() >= 20 && op & 0x40 != 0 {
                    let (id, seq, ack) = from.last;
                    d[2..4].copy_from_slice(&id.to_be_bytes());
                    let seq = seq.wrapping_add(u16::from(d[16] % 32)).wrapping_sub(8);
                    let ack = ack.wrapping_add(u16::from(d[18] % 8)).wrapping_sub(4);
                    d[16..18].copy_from_slice(&seq.to_be_bytes());
                    d[18..20].copy_from_slice(&ack.to_be_bytes());
                }
                to.ep.handle_datagram(from.addr, &d, now);
            }
            60..=79 => {
                now += Duration::from_millis(u64::from(input.u16()));
                from.ep.handle_timeout(now);
                to.ep.handle_timeout(now);
            }
            80..=99 => {
                if let Some(id) = from.conn {
                    let len = usize::from(input.u16());
                    let _ = from.ep.write(id, &vec![op; len], now);
                }
            }
            100..=104 => {
                if let Some(id) = from.conn {
                    from.ep.close(id, now);
                }
            }
            105..=107 => {
                if let Some(id) = from.conn.take() {
                    from.ep.remove(id);
                }
            }
            108..=110 => {
                if let Ok(id) = from.ep.connect(to.addr, now) {
                    from.conn = Some(id);
                }
            }
            111..=113 => from.ep.set_accepting(op & 1 == 0),
            _ => {
                if let Some(t) = from.ep.poll_timeout() {
                    now = now.max(t);
                    from.ep.handle_timeout(now);
                }
                if let Some(id) = from.conn {
                    let _ = from.ep.stats(id);
                    let _ = from.ep.is_readable_eof(id);
                }
            }
        }
    }
});
