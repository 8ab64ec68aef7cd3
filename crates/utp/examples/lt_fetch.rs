//! Interop smoke check against a real uTP peer (e.g. libtorrent seeding
//! with `../shared/interop/lt_peer.py seed ... --no-tcp`): dials it over
//! uTP on a plain UDP socket, speaks just enough BitTorrent (handshake,
//! interested, requests) to download a single-file torrent, compares the
//! bytes with the file on disk and prints the rate.
//!
//! `cargo run -p shoal-utp --example lt_fetch -- 127.0.0.1:PORT INFOHASH_HEX FILE PIECE_LEN`

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::VecDeque;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use shoal_utp::{Config, Endpoint, Event};

const BLOCK: usize = 16 * 1024;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let peer: SocketAddr = args[0].parse().expect("peer address");
    let info_hash = hex(&args[1]);
    let want = std::fs::read(&args[2]).expect("content file");
    let piece_len: usize = args[3].parse().expect("piece length");
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let start = Instant::now();
    let mut ep = Endpoint::new(Config::default(), u64::from(std::process::id()));
    let id = ep.connect(peer, start.elapsed()).expect("connect");
    let mut out = vec![0u8; 2048];
    let mut inbuf = vec![0u8; 65_536];
    let mut stream: Vec<u8> = Vec::new();
    let mut to_write: VecDeque<u8> = VecDeque::new();
    let mut got = vec![0u8; want.len()];
    let mut received = 0usize;
    let mut handshake_done = false;
    let mut unchoked = false;
    // (piece, begin, length) not yet requested, and how many are in flight.
    let mut requests: VecDeque<(usize, usize, usize)> = (0..want.len().div_ceil(piece_len))
        .flat_map(|p| {
            let plen = piece_len.min(want.len() - p * piece_len);
            (0..plen.div_ceil(BLOCK)).map(move |b| (p, b * BLOCK, BLOCK.min(plen - b * BLOCK)))
        })
        .collect();
    let mut outstanding = 0usize;
    let mut connected_at = None;
    let mut hs = vec![19u8];
    hs.extend_from_slice(b"BitTorrent protocol");
    hs.extend_from_slice(&[0; 8]);
    hs.extend_from_slice(&info_hash);
    hs.extend_from_slice(b"-SH0000-utpcoretest1");
    to_write.extend(&hs);
    let deadline = Duration::from_secs(120);
    while received < want.len() {
        let now = start.elapsed();
        assert!(
            now < deadline,
            "timed out with {received} of {} bytes",
            want.len()
        );
        let wait = ep
            .poll_timeout()
            .map_or(Duration::from_millis(50), |t| t.saturating_sub(now))
            .clamp(Duration::from_micros(100), Duration::from_millis(50));
        socket.set_read_timeout(Some(wait)).expect("timeout");
        if let Ok((n, from)) = socket.recv_from(&mut inbuf) {
            ep.handle_datagram(from, &inbuf[..n], start.elapsed());
            socket.set_nonblocking(true).expect("nonblocking");
            while let Ok((n, from)) = socket.recv_from(&mut inbuf) {
                ep.handle_datagram(from, &inbuf[..n], start.elapsed());
            }
            socket.set_nonblocking(false).expect("blocking");
        }
        let now = start.elapsed();
        ep.handle_timeout(now);
        while let Some(ev) = ep.poll_event() {
            match ev {
                Event::Connected(_) => connected_at = Some(now),
                Event::Readable(c) => loop {
                    let n = ep.read(c, &mut inbuf).expect("read");
                    if n == 0 {
                        break;
                    }
                    stream.extend_from_slice(&inbuf[..n]);
                },
                Event::Closed(_, why) => panic!("closed: {why:?} at {received} bytes"),
                _ => {}
            }
        }
        // Parse what arrived.
        if !handshake_done && stream.len() >= 68 {
            assert_eq!(&stream[1..20], b"BitTorrent protocol");
            assert_eq!(&stream[28..48], &info_hash[..]);
            stream.drain(..68);
            handshake_done = true;
            to_write.extend(&[0, 0, 0, 1, 2]); // interested
        }
        while handshake_done && stream.len() >= 4 {
            let len = u32::from_be_bytes(stream[..4].try_into().unwrap()) as usize;
            if stream.len() < 4 + len {
                break;
            }
            let msg: Vec<u8> = stream.drain(..4 + len).skip(4).collect();
            match msg.first() {
                Some(0) => unchoked = false,
                Some(1) => unchoked = true,
                Some(7) => {
                    let piece = u32::from_be_bytes(msg[1..5].try_into().unwrap()) as usize;
                    let begin = u32::from_be_bytes(msg[5..9].try_into().unwrap()) as usize;
                    let at = piece * piece_len + begin;
                    got[at..at + msg.len() - 9].copy_from_slice(&msg[9..]);
                    received += msg.len() - 9;
                    outstanding -= 1;
                }
                _ => {}
            }
        }
        while unchoked && outstanding < 256 {
            let Some((p, b, l)) = requests.pop_front() else {
                break;
            };
            to_write.extend(&[0, 0, 0, 13, 6]);
            for v in [p, b, l] {
                to_write.extend(&(v as u32).to_be_bytes());
            }
            outstanding += 1;
        }
        if ep.is_connected(id) {
            while !to_write.is_empty() {
                let (a, _) = to_write.as_slices();
                let n = ep.write(id, a, now).expect("write");
                if n == 0 {
                    break;
                }
                to_write.drain(..n);
            }
        }
        while let Some((to, n)) = ep.poll_transmit_into(now, &mut out) {
            socket.send_to(&out[..n], to).expect("send");
        }
    }
    let secs = (start.elapsed() - connected_at.unwrap_or_default()).as_secs_f64();
    assert!(got == want, "data differs");
    let stats = ep.stats(id).expect("stats");
    println!(
        "{} bytes byte-exact over uTP in {secs:.2} s ({:.1} MiB/s); our side: {stats:?}",
        want.len(),
        want.len() as f64 / secs / 1048576.0
    );
    ep.close(id, start.elapsed());
    let end = start.elapsed() + Duration::from_secs(2);
    while start.elapsed() < end {
        while let Some((to, n)) = ep.poll_transmit_into(start.elapsed(), &mut out) {
            socket.send_to(&out[..n], to).expect("send");
        }
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        if let Ok((n, from)) = socket.recv_from(&mut inbuf) {
            ep.handle_datagram(from, &inbuf[..n], start.elapsed());
        }
        ep.handle_timeout(start.elapsed());
        while let Some(ev) = ep.poll_event() {
            if let Event::Closed(_, why) = ev {
                println!("closed: {why:?}");
            }
        }
    }
}
