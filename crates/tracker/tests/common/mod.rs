//! Test helpers: run the tracker binary on 127.0.0.1 with ephemeral ports and
//! talk to it with the tracker-proto codecs.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use shoal_tracker_proto::Event;
use shoal_tracker_proto::udp::{self, AddrFamily, Request, Response};

/// A running tracker process, killed on drop.
pub struct Tracker {
    pub child: Child,
    pub http: SocketAddr,
    pub udp: SocketAddr,
}

impl Tracker {
    pub fn start(extra: &[&str]) -> Tracker {
        Tracker::start_on("127.0.0.1:0", "127.0.0.1:0", extra)
    }

    pub fn start_on(http: &str, udp: &str, extra: &[&str]) -> Tracker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shoal-tracker"))
            .args(["--http", http, "--udp", udp, "--log-level", "warn"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn shoal-tracker");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let field = |k: &str| -> SocketAddr {
            let start = line
                .find(&format!("\"{k}\":\""))
                .unwrap_or_else(|| panic!("no {k} in {line}"))
                + k.len()
                + 4;
            let end = start + line[start..].find('"').unwrap();
            line[start..end].parse().unwrap()
        };
        Tracker {
            http: field("http"),
            udp: field("udp"),
            child,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// SIGTERM and wait; returns whether it exited successfully.
    pub fn stop(mut self) -> bool {
        self.signal(libc::SIGTERM);
        let ok = self.child.wait().unwrap().success();
        std::mem::forget(self);
        ok
    }

    /// Raw HTTP request; returns (status line, body).
    pub fn http_raw(&self, raw: &[u8]) -> (String, Vec<u8>) {
        let mut s = TcpStream::connect(self.http).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(raw).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        split_response(&buf)
    }

    pub fn http_get(&self, target: &str) -> (String, Vec<u8>) {
        self.http_raw(
            format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn split_response(buf: &[u8]) -> (String, Vec<u8>) {
    let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return (String::from_utf8_lossy(buf).into_owned(), Vec::new());
    };
    let head = String::from_utf8_lossy(&buf[..i]).into_owned();
    (
        head.lines().next().unwrap_or("").to_owned(),
        buf[i + 4..].to_vec(),
    )
}

/// A UDP client socket on 127.0.0.1.
pub struct UdpClient {
    pub sock: UdpSocket,
    pub conn: u64,
}

impl UdpClient {
    pub fn new(tracker: SocketAddr) -> UdpClient {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.connect(tracker).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(700)))
            .unwrap();
        let mut c = UdpClient { sock, conn: 0 };
        let mut out = Vec::new();
        Request::Connect(udp::ConnectRequest { transaction_id: 7 }).encode(&mut out);
        match c.exchange(&out) {
            Some(Response::Connect(r)) => {
                assert_eq!(r.transaction_id, 7);
                c.conn = r.connection_id;
            }
            other => panic!("connect failed: {other:?}"),
        }
        c
    }

    /// Sends a datagram and waits for one reply (None on timeout).
    pub fn exchange(&self, pkt: &[u8]) -> Option<Response> {
        self.sock.send(pkt).unwrap();
        let mut buf = [0u8; 2048];
        let n = self.sock.recv(&mut buf).ok()?;
        Some(Response::decode(&buf[..n], AddrFamily::V4).expect("tracker reply decodes"))
    }

    pub fn announce_pkt(
        &self,
        ih: [u8; 20],
        port: u16,
        left: u64,
        event: Event,
        options: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        udp::AnnounceRequest {
            connection_id: self.conn,
            transaction_id: u32::from(port),
            info_hash: ih,
            peer_id: [port as u8; 20],
            downloaded: 0,
            left,
            uploaded: 0,
            event,
            ip: 0,
            key: 1,
            num_want: -1,
            port,
            options,
        }
        .encode(&mut out);
        out
    }

    pub fn announce(&self, ih: [u8; 20], port: u16, left: u64, event: Event) -> Option<Response> {
        self.exchange(&self.announce_pkt(ih, port, left, event, &[]))
    }
}

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The interop lab: `../shared/interop` beside the workspace root.
pub fn interop_dir() -> PathBuf {
    workspace_root().join("../shared/interop")
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The query string of a compact HTTP `started` announce for `info_hash`
/// from `port` (its peer id derived from the port) with `left` bytes left.
pub fn announce_query(info_hash: &[u8; 20], port: u16, left: u64) -> String {
    shoal_tracker_proto::http::AnnounceRequest {
        info_hash: *info_hash,
        peer_id: [port as u8; 20],
        port,
        uploaded: 0,
        downloaded: 0,
        left: Some(left),
        event: Event::Started,
        compact: true,
        no_peer_id: false,
        numwant: None,
        key: None,
        ip: None,
        tracker_id: None,
        ipv4: None,
        ipv6: None,
    }
    .to_query()
}
