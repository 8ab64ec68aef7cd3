//! `https://` trackers: a TLS tracker (Python's `ssl` with a certificate from
//! a throwaway CA) hands out a seed's address; a leecher that trusts the CA
//! through `SSL_CERT_FILE` finds the seed through it, while a peer that does
//! not trust it never gets a request through.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

/// A CA and a certificate for 127.0.0.1 signed by it; returns the CA's PEM path.
fn make_certificates(dir: &Path) -> std::path::PathBuf {
    let openssl = |args: &str| {
        run_ok(
            Command::new("openssl")
                .args(args.split_whitespace())
                .current_dir(dir),
        );
    };
    openssl(
        "req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key -out ca.pem",
    );
    openssl(
        "req -new -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr",
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
         -extfile san.ext -out server.pem",
    );
    dir.join("ca.pem")
}

/// A one-file HTTPS tracker: every announce gets `peer` as its only peer;
/// request lines are appended to `log`.
const TRACKER: &str = r#"
import http.server, ssl, socket, struct, sys
port, peer_port, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f:
            f.write(self.path + "\n")
        peers = socket.inet_aton("127.0.0.1") + struct.pack(">H", peer_port)
        body = b"d8:intervali60e5:peers6:" + peers + b"e"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("server.pem", "server.key")
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("ready", flush=True)
srv.serve_forever()
"#;

#[test]
fn a_leecher_finds_its_seed_through_an_https_tracker() {
    require("openssl", &["version"]);
    let tmp = tempfile::tempdir().unwrap();
    let ca = make_certificates(tmp.path());
    let [tracker_port, seed_port, leech_port] = free_ports(3)[..] else {
        panic!()
    };
    std::fs::write(tmp.path().join("tracker.py"), TRACKER).unwrap();
    let log = tmp.path().join("requests.log");
    let mut tracker = Proc::spawn(
        "https-tracker",
        Command::new("/usr/bin/python3")
            .arg("tracker.py")
            .arg(tracker_port.to_string())
            .arg(seed_port.to_string())
            .arg(&log)
            .current_dir(tmp.path()),
        tmp.path(),
    );
    tracker.wait_until("tracker ready", Duration::from_secs(10), |p| {
        p.stdout().contains("ready")
    });

    let content = make_content(&tmp.path().join("src"), "1", 2, "content");
    let torrent = tmp.path().join("t.torrent");
    let announce = format!("https://127.0.0.1:{tracker_port}/announce");
    shoal_create(&content, &torrent, &["--tracker", &announce]);
    // The seed does not trust the test CA: its announces must fail.
    let mut cmd = shoal_seed(
        &torrent,
        content.parent().unwrap(),
        &tmp.path().join("seed-state"),
        seed_port,
    );
    cmd.env_remove("SSL_CERT_FILE");
    let mut seed = Proc::spawn("seed", &mut cmd, tmp.path());
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
    // The leecher has no --peer: only the tracker can name the seed.
    let out = tmp.path().join("dl");
    let mut cmd = shoal_download(&torrent, &out, &tmp.path().join("dl-state"), leech_port);
    cmd.env("SSL_CERT_FILE", &ca);
    let mut leech = Proc::spawn("leech", &mut cmd, tmp.path());
    leech.wait_success(Duration::from_secs(60));
    assert_verified(&torrent, &out);

    let requests = std::fs::read_to_string(&log).unwrap();
    assert!(
        requests.contains(&format!("port={leech_port}")),
        "{requests}"
    );
    assert!(
        !requests.contains(&format!("port={seed_port}")),
        "an untrusted certificate was accepted: {requests}"
    );
}
