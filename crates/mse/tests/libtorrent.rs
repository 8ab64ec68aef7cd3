//! Interop of the handshake core with libtorrent (`lt_peer.py --enc require`,
//! RC4 only), both directions, over real loopback TCP with blocking std
//! sockets: the core dials a libtorrent seed and downloads a small torrent
//! through the RC4 stream, and serves one to a libtorrent leecher that dials
//! it. Every byte is checked against the content. Like the CLI's interop
//! tests it fails, never skips, when libtorrent is missing (`.ci/run`
//! installs it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use shoal_mse::{Ciphers, Established, Event, Handshake, Method, Policy, Req2Index, Secrets};

/// Piece length of the test torrent (one block per piece keeps the peer
/// code small).
const PIECE: usize = 16 * 1024;
/// Number of pieces.
const PIECES: usize = 16;
/// How long any single step may take before the test fails.
const STEP: Duration = Duration::from_secs(60);

/// `../shared/interop` beside the repository.
fn interop_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/interop");
    assert!(
        dir.join("lt_peer.py").exists(),
        "{} not found",
        dir.display()
    );
    dir
}

/// Runs a command to success and returns its stdout.
fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A scratch directory with content and its v1 torrent.
struct Fixture {
    /// Removed on drop.
    dir: PathBuf,
    /// The content's parent directory (what a seed is given).
    src: PathBuf,
    /// The .torrent.
    torrent: PathBuf,
    /// The content bytes.
    content: Vec<u8>,
    /// The v1 info-hash.
    info_hash: [u8; 20],
}

impl Fixture {
    /// Makes `PIECES` pieces of deterministic content and its torrent.
    fn new(name: &str) -> Self {
        let ok = Command::new("/usr/bin/python3")
            .args(["-c", "import libtorrent"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "python3-libtorrent is missing; run `bash .ci/run` (it installs it)"
        );
        let dir = std::env::temp_dir().join(format!("shoal-mse-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("src");
        let size = format!("{}B", PIECE * PIECES);
        run_ok(
            Command::new("bash")
                .arg(interop_dir().join("mkdata.sh"))
                .args([src.to_str().unwrap(), &size, "1", name, "one"]),
        );
        let torrent = dir.join("one.torrent");
        let out = run_ok(
            Command::new("/usr/bin/python3")
                .arg(interop_dir().join("mktorrent.py"))
                .arg(src.join("one"))
                .arg(&torrent)
                .args(["--piece-kib", "16", "--format", "v1"]),
        );
        let hex = out
            .lines()
            .find_map(|l| l.strip_prefix("infohash_v1 "))
            .expect("mktorrent.py prints infohash_v1");
        let mut info_hash = [0u8; 20];
        for (i, b) in info_hash.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        let content = std::fs::read(src.join("one")).unwrap();
        Self {
            dir,
            src,
            torrent,
            content,
            info_hash,
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A libtorrent peer process, killed on drop.
struct LtPeer {
    /// The process.
    child: Child,
    /// Its JSON lines.
    stdout: BufReader<ChildStdout>,
}

impl LtPeer {
    /// Starts `lt_peer.py MODE` with encryption required, TCP only.
    fn spawn(mode: &str, fx: &Fixture, dir: &Path, port: u16, extra: &[&str]) -> Self {
        let mut child = Command::new("/usr/bin/python3")
            .arg(interop_dir().join("lt_peer.py"))
            .arg(mode)
            .arg(&fx.torrent)
            .arg(dir)
            .arg(port.to_string())
            .args([
                "--no-tracker",
                "--no-utp",
                "--enc",
                "require",
                "--timeout",
                "90",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self { child, stdout }
    }

    /// Reads stdout until a line containing `what` (the script's own
    /// timeout bounds this).
    fn wait_for(&mut self, what: &str) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.stdout.read_line(&mut line).unwrap();
            assert!(n > 0, "lt_peer.py exited before printing {what}");
            if line.contains(what) {
                return line;
            }
        }
    }
}

impl Drop for LtPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a handshake over `stream` to its event; flushes the last message.
fn drive(stream: &mut TcpStream, mut hs: Handshake) -> (Established, Option<Ciphers>) {
    let mut buf = vec![0u8; 4096];
    loop {
        while let Some(bytes) = hs.poll_transmit() {
            stream.write_all(&bytes).unwrap();
        }
        if let Some(Event::Established(est)) = hs.poll_event() {
            while let Some(bytes) = hs.poll_transmit() {
                stream.write_all(&bytes).unwrap();
            }
            return (est, hs.into_ciphers());
        }
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "peer closed during the MSE handshake");
        hs.handle_bytes(&buf[..n]).unwrap();
    }
}

/// An RC4 BitTorrent connection after the handshake.
struct Conn {
    /// The socket.
    stream: TcpStream,
    /// The RC4 pair.
    ciphers: Ciphers,
    /// Decrypted, unparsed bytes.
    inbuf: Vec<u8>,
}

impl Conn {
    /// Encrypts in place and writes.
    fn send(&mut self, mut bytes: Vec<u8>) {
        self.ciphers.send.apply(&mut bytes);
        self.stream.write_all(&bytes).unwrap();
    }

    /// The next message as (id, payload); `None` at end of stream.
    /// Keep-alives are skipped.
    fn frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.inbuf.len() >= 4 {
                let len = u32::from_be_bytes(self.inbuf[..4].try_into().unwrap()) as usize;
                assert!(len <= PIECE + 64, "frame of {len} bytes");
                if len == 0 {
                    self.inbuf.drain(..4);
                    continue;
                }
                if self.inbuf.len() >= 4 + len {
                    let frame: Vec<u8> = self.inbuf.drain(..4 + len).collect();
                    return Some((frame[4], frame[5..].to_vec()));
                }
            }
            let mut buf = vec![0u8; 64 * 1024];
            let n = self.stream.read(&mut buf).unwrap_or(0);
            if n == 0 {
                return None;
            }
            let start = self.inbuf.len();
            self.inbuf.extend_from_slice(&buf[..n]);
            self.ciphers.recv.apply(&mut self.inbuf[start..]);
        }
    }
}

/// A message frame.
fn msg(id: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = (1 + payload.len() as u32).to_be_bytes().to_vec();
    v.push(id);
    v.extend_from_slice(payload);
    v
}

/// Our BitTorrent handshake: no extension bits, so the peer speaks only BEP 3.
fn bt_handshake(info_hash: &[u8; 20]) -> Vec<u8> {
    let mut v = b"\x13BitTorrent protocol".to_vec();
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(info_hash);
    v.extend_from_slice(b"-SH0000-mse-interop!");
    v
}

/// Checks the peer's BitTorrent handshake at the start of the decrypted
/// payload and removes it.
fn expect_bt_handshake(payload: &mut Vec<u8>, info_hash: &[u8; 20]) {
    assert!(
        payload.len() >= 68,
        "no BitTorrent handshake in the initial payload"
    );
    assert_eq!(&payload[..20], b"\x13BitTorrent protocol");
    assert_eq!(&payload[28..48], info_hash);
    payload.drain(..68);
}

/// The peer's handshake may arrive after the MSE event; reads until 68 bytes.
fn fill_handshake(conn: &mut Conn) {
    while conn.inbuf.len() < 68 {
        let mut buf = [0u8; 4096];
        let n = conn.stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the BitTorrent handshake");
        let start = conn.inbuf.len();
        conn.inbuf.extend_from_slice(&buf[..n]);
        conn.ciphers.recv.apply(&mut conn.inbuf[start..]);
    }
}

#[test]
fn downloads_from_a_libtorrent_seed_that_requires_encryption() {
    let fx = Fixture::new("dial");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut seed = LtPeer::spawn("seed", &fx, &fx.src, port, &[]);
    seed.wait_for("\"ready\"");

    // "ready" is printed after the torrent is added; libtorrent opens its
    // listener asynchronously and prints nothing when it is up, so poll.
    let deadline = Instant::now() + STEP;
    let mut stream = loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                eprintln!("connect: {e}, retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("cannot reach the libtorrent seed: {e}"),
        }
    };
    stream.set_read_timeout(Some(STEP)).unwrap();
    let hs = Handshake::outgoing(
        Policy::Require,
        fx.info_hash,
        bt_handshake(&fx.info_hash),
        Secrets::random().unwrap(),
        Instant::now(),
    )
    .unwrap();
    let (est, ciphers) = drive(&mut stream, hs);
    assert_eq!(est.method, Method::Rc4);
    assert_eq!(est.info_hash, Some(fx.info_hash));
    let mut conn = Conn {
        stream,
        ciphers: ciphers.unwrap(),
        inbuf: est.initial_payload,
    };
    fill_handshake(&mut conn);
    expect_bt_handshake(&mut conn.inbuf, &fx.info_hash);

    conn.send(msg(2, &[])); // interested
    let mut got = vec![None::<Vec<u8>>; PIECES];
    let mut requested = false;
    while got.iter().any(Option::is_none) {
        let (id, payload) = conn.frame().expect("seed closed the connection");
        match id {
            1 if !requested => {
                requested = true;
                for i in 0..PIECES as u32 {
                    let mut req = i.to_be_bytes().to_vec();
                    req.extend_from_slice(&0u32.to_be_bytes());
                    req.extend_from_slice(&(PIECE as u32).to_be_bytes());
                    conn.send(msg(6, &req));
                }
            }
            7 => {
                let index = u32::from_be_bytes(payload[..4].try_into().unwrap()) as usize;
                got[index] = Some(payload[8..].to_vec());
            }
            _ => {}
        }
    }
    let data: Vec<u8> = got.into_iter().flatten().flatten().collect();
    assert!(
        data == fx.content,
        "downloaded bytes differ from the content"
    );
}

#[test]
fn serves_a_libtorrent_leecher_that_requires_encryption() {
    let fx = Fixture::new("accept");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let our_port = listener.local_addr().unwrap().port();
    let lt_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = fx.dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let peer = format!("127.0.0.1:{our_port}");
    let mut leech = LtPeer::spawn("leech", &fx, &out, lt_port, &["--peer", &peer]);

    // Blocking accept on a thread, so a peer that never dials fails the test in time.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(listener.accept());
    });
    let (mut stream, _) = rx
        .recv_timeout(STEP)
        .expect("libtorrent never dialed")
        .unwrap();
    stream.set_read_timeout(Some(STEP)).unwrap();
    let index = Arc::new(Req2Index::new([[0x11; 20], fx.info_hash]));
    let hs = Handshake::incoming(
        Policy::Require,
        index,
        Secrets::random().unwrap(),
        Instant::now(),
    );
    let (est, ciphers) = drive(&mut stream, hs);
    assert_eq!(est.method, Method::Rc4);
    assert_eq!(est.info_hash, Some(fx.info_hash));
    let mut conn = Conn {
        stream,
        ciphers: ciphers.unwrap(),
        inbuf: est.initial_payload,
    };
    fill_handshake(&mut conn);
    expect_bt_handshake(&mut conn.inbuf, &fx.info_hash);

    let mut hello = bt_handshake(&fx.info_hash);
    hello.extend(msg(5, &[0xFF, 0xFF])); // bitfield: all 16 pieces
    hello.extend(msg(1, &[])); // unchoke
    conn.send(hello);
    // Serve until libtorrent, complete, exits and closes the connection.
    while let Some((id, payload)) = conn.frame() {
        if id == 6 {
            let index = u32::from_be_bytes(payload[..4].try_into().unwrap()) as usize;
            let begin = u32::from_be_bytes(payload[4..8].try_into().unwrap()) as usize;
            let len = u32::from_be_bytes(payload[8..12].try_into().unwrap()) as usize;
            let at = index * PIECE + begin;
            let mut piece = payload[..8].to_vec();
            piece.extend_from_slice(&fx.content[at..at + len]);
            conn.send(msg(7, &piece));
        }
    }
    leech.wait_for("\"complete\"");
    let status = leech.child.wait().unwrap();
    assert!(status.success(), "libtorrent leecher failed: {status}");
    let downloaded = std::fs::read(out.join("one")).unwrap();
    assert!(
        downloaded == fx.content,
        "libtorrent's copy differs from the content"
    );
}
