//! A lighttpd (Debian's; it serves byte ranges) on 127.0.0.1 for web seed
//! tests, shared by the session's and the daemon's tests. Under `CI=true` a
//! missing lighttpd is a failure, not a skip.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A lighttpd serving `root` on 127.0.0.1, killed when dropped.
pub struct Lighttpd {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Drop for Lighttpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lighttpd_path() -> Option<PathBuf> {
    ["/usr/sbin/lighttpd", "/usr/bin/lighttpd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// Starts lighttpd on `root`; `kbytes_per_sec` throttles each connection.
/// `None` when lighttpd is not installed (a panic under CI).
pub fn lighttpd(root: &Path, conf_dir: &Path, kbytes_per_sec: Option<u32>) -> Option<Lighttpd> {
    let throttle = kbytes_per_sec
        .map(|k| format!("connection.kbytes-per-second = {k}\n"))
        .unwrap_or_default();
    lighttpd_with(root, conf_dir, &throttle)
}

/// [`lighttpd`] with more configuration lines (`extra`).
pub fn lighttpd_with(root: &Path, conf_dir: &Path, extra: &str) -> Option<Lighttpd> {
    let Some(bin) = lighttpd_path() else {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "lighttpd missing under CI"
        );
        eprintln!("lighttpd not installed: skipping");
        return None;
    };
    std::fs::create_dir_all(conf_dir).unwrap();
    // A free port is bound and released, then handed to the server; another
    // test's server may take it first, so each server names itself in its
    // `Server` header and is asked who it is. A server that lost the port
    // exits, and another port is tried.
    for attempt in 0..20 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let tag = format!("shoal-test-{}-{port}-{attempt}", std::process::id());
        let conf = format!(
            "server.document-root = \"{}\"\nserver.bind = \"127.0.0.1\"\nserver.port = {port}\n\
             server.errorlog = \"{}/error.log\"\nserver.tag = \"{tag}\"\n{extra}\n",
            root.display(),
            conf_dir.display()
        );
        let conf_path = conf_dir.join("lighttpd.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(&bin)
            .arg("-D")
            .arg("-f")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut server = Lighttpd { child, port };
        // Up when it answers as itself (an external process: no event to await).
        for _ in 0..500 {
            if server.child.try_wait().unwrap().is_some() {
                break;
            }
            if answers_as(port, &tag) {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    panic!("lighttpd did not start");
}

/// Whether the server on `port` sends `Server: <tag>`.
fn answers_as(port: u16, tag: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(b"HEAD / HTTP/1.0\r\n\r\n");
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).contains(&format!("Server: {tag}"))
}
