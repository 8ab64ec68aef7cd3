//! Interop smoke check, the other way: seeds one single-file torrent over
//! uTP on a plain UDP socket to whoever dials (e.g. libtorrent leeching
//! with `../shared/interop/lt_peer.py leech ... --peer 127.0.0.1:PORT
//! --no-tcp`), speaking just enough BitTorrent (handshake, bitfield,
//! unchoke, pieces). Runs until the peer closes or 120 s pass.
//!
//! `cargo run -p shoal-utp --example lt_serve -- PORT INFOHASH_HEX FILE PIECE_LEN`

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::VecDeque;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use shoal_utp::{Config, ConnId, Endpoint, Event};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

struct Peer {
    id: ConnId,
    stream: Vec<u8>,
    out: VecDeque<u8>,
    handshake_done: bool,
}

fn trace(log: &mut Vec<String>, dir: &str, t: Duration, d: &[u8]) {
    if let Ok(p) = shoal_utp::packet::decode(d) {
        let h = p.header;
        log.push(format!(
            "{:>10.6} {dir} {:?} seq {} ack {} wnd {} len {} sack {:?} tsd {}",
            t.as_secs_f64(),
            h.ty,
            h.seq_nr,
            h.ack_nr,
            h.wnd_size,
            p.payload.len(),
            p.sack,
            h.timestamp_diff
        ));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = args[0].parse().expect("port");
    let info_hash = hex(&args[1]);
    let data = std::fs::read(&args[2]).expect("content file");
    let piece_len: usize = args[3].parse().expect("piece length");
    let pieces = data.len().div_ceil(piece_len);
    let socket = UdpSocket::bind(("127.0.0.1", port)).expect("bind");
    let start = Instant::now();
    let max_packet = std::env::var("UTP_MAX_PACKET")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1452);
    let config = Config {
        max_packet,
        ..Config::default()
    };
    let mut ep = Endpoint::new(config, u64::from(std::process::id()));
    ep.set_accepting(true);
    let mut out = vec![0u8; 2048];
    let mut inbuf = vec![0u8; 65_536];
    let mut peer: Option<Peer> = None;
    let mut served = 0usize;
    let mut first_request = None;
    // Packet headers, printed at the end with UTP_TRACE set (printing as
    // they go slows the loop enough to change what happens).
    let mut log = Vec::new();
    let secs: u64 = std::env::var("UTP_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    while start.elapsed() < Duration::from_secs(secs) {
        let now = start.elapsed();
        let wait = ep
            .poll_timeout()
            .map_or(Duration::from_millis(50), |t| t.saturating_sub(now))
            .clamp(Duration::from_micros(100), Duration::from_millis(50));
        socket.set_read_timeout(Some(wait)).expect("timeout");
        if let Ok((n, from)) = socket.recv_from(&mut inbuf) {
            trace(&mut log, "<", start.elapsed(), &inbuf[..n]);
            ep.handle_datagram(from, &inbuf[..n], start.elapsed());
            socket.set_nonblocking(true).expect("nonblocking");
            while let Ok((n, from)) = socket.recv_from(&mut inbuf) {
                trace(&mut log, "<", start.elapsed(), &inbuf[..n]);
                ep.handle_datagram(from, &inbuf[..n], start.elapsed());
            }
            socket.set_nonblocking(false).expect("blocking");
        }
        let now = start.elapsed();
        ep.handle_timeout(now);
        let mut done = false;
        while let Some(ev) = ep.poll_event() {
            match ev {
                Event::Incoming(id, from) => {
                    eprintln!("incoming from {from}");
                    peer = Some(Peer {
                        id,
                        stream: Vec::new(),
                        out: VecDeque::new(),
                        handshake_done: false,
                    });
                }
                Event::Readable(c) => {
                    let p = peer.as_mut().expect("peer");
                    loop {
                        let n = ep.read(c, &mut inbuf).expect("read");
                        if n == 0 {
                            break;
                        }
                        p.stream.extend_from_slice(&inbuf[..n]);
                    }
                }
                Event::Closed(_, why) => {
                    eprintln!("closed: {why:?}");
                    done = true;
                }
                _ => {}
            }
        }
        if let Some(p) = peer.as_mut() {
            if !p.handshake_done && p.stream.len() >= 68 {
                assert_eq!(&p.stream[28..48], &info_hash[..]);
                p.stream.drain(..68);
                p.handshake_done = true;
                let mut hs = vec![19u8];
                hs.extend_from_slice(b"BitTorrent protocol");
                hs.extend_from_slice(&[0; 8]);
                hs.extend_from_slice(&info_hash);
                hs.extend_from_slice(b"-SH0000-utpcoreseed1");
                p.out.extend(&hs);
                let mut bits = vec![0u8; pieces.div_ceil(8)];
                for i in 0..pieces {
                    bits[i / 8] |= 0x80 >> (i % 8);
                }
                p.out.extend(&((bits.len() + 1) as u32).to_be_bytes());
                p.out.push_back(5);
                p.out.extend(&bits);
                p.out.extend(&[0, 0, 0, 1, 1]); // unchoke
            }
            while p.handshake_done && p.stream.len() >= 4 {
                let len = u32::from_be_bytes(p.stream[..4].try_into().unwrap()) as usize;
                if p.stream.len() < 4 + len {
                    break;
                }
                let msg: Vec<u8> = p.stream.drain(..4 + len).skip(4).collect();
                if msg.first() == Some(&6) && msg.len() == 13 {
                    let field =
                        |i: usize| u32::from_be_bytes(msg[i..i + 4].try_into().unwrap()) as usize;
                    let (piece, begin, len) = (field(1), field(5), field(9));
                    let at = piece * piece_len + begin;
                    p.out.extend(&((9 + len) as u32).to_be_bytes());
                    p.out.push_back(7);
                    p.out.extend(&msg[1..9]);
                    p.out.extend(&data[at..at + len]);
                    served += len;
                    first_request.get_or_insert(now);
                }
            }
            while !p.out.is_empty() {
                let (a, _) = p.out.as_slices();
                match ep.write(p.id, a, now) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        p.out.drain(..n);
                    }
                }
            }
        }
        while let Some((to, n)) = ep.poll_transmit_into(now, &mut out) {
            trace(&mut log, ">", now, &out[..n]);
            socket.send_to(&out[..n], to).expect("send");
        }
        if done {
            break;
        }
    }
    if std::env::var_os("UTP_TRACE").is_some() {
        for line in &log {
            eprintln!("{line}");
        }
    }
    let secs = (start.elapsed() - first_request.unwrap_or_default()).as_secs_f64();
    let stats = peer.and_then(|p| ep.stats(p.id));
    println!(
        "served {served} bytes in {secs:.2} s ({:.1} MiB/s); {stats:?}",
        served as f64 / secs / 1048576.0
    );
}
