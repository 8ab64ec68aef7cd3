//! Interop of the handshake core with the reference clients over real
//! loopback TCP with blocking std sockets: libtorrent with encryption
//! required (`lt_peer.py --enc require`, RC4 only) both directions,
//! Transmission with encryption required as a seed (it cannot be told to
//! dial a loopback peer), and a plaintext-only libtorrent against `require`
//! (refused) and `prefer` (served in plaintext). Every byte of content is
//! checked. Like the CLI's interop tests they fail, never skip, when a
//! reference client is missing (`.ci/run` installs them).
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

/// A reference peer process, killed on drop.
struct RefPeer {
    /// The process.
    child: Child,
    /// Its JSON lines.
    stdout: BufReader<ChildStdout>,
}

impl RefPeer {
    /// Starts `lt_peer.py MODE`, TCP only; `extra` holds `--enc` and more.
    fn libtorrent(mode: &str, fx: &Fixture, dir: &Path, port: u16, extra: &[&str]) -> Self {
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(interop_dir().join("lt_peer.py"))
            .arg(mode)
            .arg(&fx.torrent)
            .arg(dir)
            .arg(port.to_string())
            .args(["--no-tracker", "--no-utp", "--timeout", "90"])
            .args(extra);
        Self::spawn(cmd)
    }

    /// Starts a `transmission_peer.sh` seed with encryption required, TCP only.
    fn transmission_seed(fx: &Fixture, port: u16, rpc_port: u16) -> Self {
        let mut cmd = Command::new("bash");
        cmd.arg(interop_dir().join("transmission_peer.sh"))
            .arg("seed")
            .arg(&fx.torrent)
            .arg(&fx.src)
            .arg(fx.dir.join("transmission"))
            .args([port.to_string(), rpc_port.to_string()])
            .args(["--no-utp", "--enc", "required", "--timeout", "90"]);
        Self::spawn(cmd)
    }

    /// Spawns with stdout captured.
    fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
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
            assert!(n > 0, "the reference peer exited before printing {what}");
            if line.contains(what) {
                return line;
            }
        }
    }
}

impl Drop for RefPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a handshake over `stream` to its event; flushes the last message.
fn drive(stream: &mut TcpStream, hs: Handshake) -> (Established, Option<Ciphers>) {
    try_drive(stream, hs).unwrap()
}

/// [`drive`], with the handshake's error.
fn try_drive(
    stream: &mut TcpStream,
    mut hs: Handshake,
) -> Result<(Established, Option<Ciphers>), shoal_mse::Error> {
    let mut buf = vec![0u8; 4096];
    loop {
        while let Some(bytes) = hs.poll_transmit() {
            stream.write_all(&bytes).unwrap();
        }
        if let Some(Event::Established(est)) = hs.poll_event() {
            while let Some(bytes) = hs.poll_transmit() {
                stream.write_all(&bytes).unwrap();
            }
            return Ok((est, hs.into_ciphers()));
        }
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "peer closed during the MSE handshake");
        hs.handle_bytes(&buf[..n])?;
    }
}

/// A BitTorrent connection after the handshake.
struct Conn {
    /// The socket.
    stream: TcpStream,
    /// The RC4 pair, or `None` for plaintext.
    ciphers: Option<Ciphers>,
    /// Decrypted, unparsed bytes.
    inbuf: Vec<u8>,
}

impl Conn {
    /// Encrypts in place and writes.
    fn send(&mut self, mut bytes: Vec<u8>) {
        if let Some(c) = self.ciphers.as_mut() {
            c.send.apply(&mut bytes);
        }
        self.stream.write_all(&bytes).unwrap();
    }

    /// Appends bytes read from the socket, decrypted.
    fn push(&mut self, bytes: &[u8]) {
        let start = self.inbuf.len();
        self.inbuf.extend_from_slice(bytes);
        if let Some(c) = self.ciphers.as_mut() {
            c.recv.apply(&mut self.inbuf[start..]);
        }
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
            self.push(&buf[..n]);
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
        conn.push(&buf[..n]);
    }
}

/// Connects to a reference seed. "ready" comes once the torrent is added;
/// the clients open their listeners asynchronously and print nothing when
/// it is up, so this polls.
fn dial(port: u16) -> TcpStream {
    let deadline = Instant::now() + STEP;
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => {
                s.set_read_timeout(Some(STEP)).unwrap();
                return s;
            }
            Err(e) if Instant::now() < deadline => {
                eprintln!("connect: {e}, retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("cannot reach the seed: {e}"),
        }
    }
}

/// Dials a seed on `port` with `require`, then downloads the whole torrent
/// through RC4 and checks every byte.
fn download_encrypted(fx: &Fixture, port: u16) {
    let mut stream = dial(port);
    let hs = Handshake::outgoing(
        Policy::Require,
        fx.info_hash,
        bt_handshake(&fx.info_hash),
        Secrets::random().unwrap(),
        Duration::ZERO,
    )
    .unwrap();
    let (est, ciphers) = drive(&mut stream, hs);
    assert_eq!(est.method, Method::Rc4);
    assert_eq!(est.info_hash, Some(fx.info_hash));
    assert!(ciphers.is_some());
    let mut conn = Conn {
        stream,
        ciphers,
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

/// Starts a libtorrent leecher with `enc` that dials us, and accepts it with
/// `policy`. Returns the leecher, its download dir, and the handshake's outcome.
#[allow(clippy::type_complexity)]
fn accept_libtorrent(
    fx: &Fixture,
    enc: &str,
    policy: Policy,
) -> (
    RefPeer,
    PathBuf,
    TcpStream,
    Result<(Established, Option<Ciphers>), shoal_mse::Error>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let out = fx.dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let leech = RefPeer::libtorrent(
        "leech",
        fx,
        &out,
        free_port(),
        &["--enc", enc, "--peer", &peer],
    );
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
    let hs = Handshake::incoming(policy, index, Secrets::random().unwrap(), Duration::ZERO);
    let outcome = try_drive(&mut stream, hs);
    (leech, out, stream, outcome)
}

/// Serves the whole torrent on an established connection until the
/// leecher, complete, exits; checks its copy.
fn serve(fx: &Fixture, mut leech: RefPeer, out: &Path, mut conn: Conn) {
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

#[test]
fn downloads_from_a_libtorrent_seed_that_requires_encryption() {
    let fx = Fixture::new("lt-seed");
    let port = free_port();
    let mut seed = RefPeer::libtorrent("seed", &fx, &fx.src, port, &["--enc", "require"]);
    seed.wait_for("\"ready\"");
    download_encrypted(&fx, port);
}

#[test]
fn downloads_from_a_transmission_seed_that_requires_encryption() {
    let ok = Command::new("transmission-daemon")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "transmission-daemon is missing; run `bash .ci/run` (it installs it)"
    );
    let fx = Fixture::new("tr-seed");
    let port = free_port();
    let mut seed = RefPeer::transmission_seed(&fx, port, free_port());
    seed.wait_for("\"ready\"");
    download_encrypted(&fx, port);
}

#[test]
fn serves_a_libtorrent_leecher_that_requires_encryption() {
    let fx = Fixture::new("lt-leech");
    let (leech, out, stream, outcome) = accept_libtorrent(&fx, "require", Policy::Require);
    let (est, ciphers) = outcome.unwrap();
    assert_eq!(est.method, Method::Rc4);
    assert_eq!(est.info_hash, Some(fx.info_hash));
    assert!(ciphers.is_some());
    serve(
        &fx,
        leech,
        &out,
        Conn {
            stream,
            ciphers,
            inbuf: est.initial_payload,
        },
    );
}

#[test]
fn a_plaintext_only_peer_is_refused_by_require_and_served_by_prefer() {
    let fx = Fixture::new("lt-plain");
    let (_leech, _, _, outcome) = accept_libtorrent(&fx, "plain", Policy::Require);
    assert_eq!(outcome.err(), Some(shoal_mse::Error::PlaintextRefused));

    let fx = Fixture::new("lt-plain2");
    let (leech, out, stream, outcome) = accept_libtorrent(&fx, "plain", Policy::Prefer);
    let (est, ciphers) = outcome.unwrap();
    assert_eq!(est.method, Method::Plaintext);
    assert_eq!(
        est.info_hash, None,
        "a plaintext handshake names its torrent itself"
    );
    assert!(ciphers.is_none());
    serve(
        &fx,
        leech,
        &out,
        Conn {
            stream,
            ciphers,
            inbuf: est.initial_payload,
        },
    );
}
