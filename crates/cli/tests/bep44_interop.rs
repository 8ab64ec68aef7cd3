//! BEP 44 against libtorrent's DHT on 127.0.0.1: shoal nodes (the session's
//! DHT driver, in this process) and one libtorrent node bootstrapped only
//! from them. Immutable and mutable items both ways: what shoal puts,
//! libtorrent gets (checking the signature itself), and the reverse.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use shoal_dht::{Item, ItemKey, ItemQuery, NodeId};
use shoal_session::{Dht, DhtConfig};

/// The libtorrent node, fed commands through a file it polls.
struct Libtorrent {
    proc: Proc,
    commands: PathBuf,
    sent: u64,
}

impl Libtorrent {
    fn start(dir: &Path, bootstrap: std::net::SocketAddr) -> Libtorrent {
        require(
            "/usr/bin/python3",
            &["-c", "import libtorrent, cryptography"],
        );
        let [port] = free_ports(1)[..] else { panic!() };
        let commands = dir.join("lt-commands");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/lt_dht_items.py");
        let mut cmd = std::process::Command::new("/usr/bin/python3");
        cmd.arg(script)
            .args(["--port", &port.to_string()])
            .args(["--bootstrap", &bootstrap.to_string()])
            .arg("--commands")
            .arg(&commands);
        let mut proc = Proc::spawn("lt-dht", &mut cmd, dir);
        proc.wait_event("ready", Duration::from_secs(40));
        Libtorrent {
            proc,
            commands,
            sent: 0,
        }
    }

    fn send(&mut self, fields: &[&str]) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.commands)
            .unwrap();
        writeln!(f, "{}", fields.join("\t")).unwrap();
        self.sent += 1;
    }

    /// Runs one command (fields joined by tabs) and returns its result line.
    fn run(&mut self, fields: &[&str]) -> serde_json::Value {
        self.send(fields);
        let n = self.sent;
        let find = |p: &Proc| {
            p.json_lines()
                .into_iter()
                .find(|j| j["event"] == "result" && j["n"] == n)
        };
        self.proc
            .wait_until(fields[0], Duration::from_secs(40), |p| find(p).is_some());
        let result = find(&self.proc).unwrap();
        assert!(result.get("error").is_none(), "{result}");
        result
    }
}

fn config(bootstrap: Vec<std::net::SocketAddr>) -> DhtConfig {
    let mut c = DhtConfig::new("127.0.0.1:0".parse().unwrap());
    c.bootstrap = bootstrap;
    c
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn items_cross_between_shoal_and_libtorrent_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let nodes: Vec<Dht> = rt.block_on(async {
        let root = Dht::start(config(vec![])).await.unwrap();
        let mut nodes = vec![];
        for _ in 0..3 {
            let d = Dht::start(config(vec![root.local_addr()])).await.unwrap();
            assert!(d.wait_bootstrapped(Duration::from_secs(10)).await);
            nodes.push(d);
        }
        nodes.insert(0, root);
        nodes
    });
    let mut lt = Libtorrent::start(tmp.path(), nodes[0].local_addr());

    // Immutable, shoal -> libtorrent.
    let ours = Item::Immutable(b"10:from shoal".to_vec());
    assert!(rt.block_on(nodes[1].put_item(ours.clone(), None)) >= 2);
    let got = lt.run(&["get-immutable", &ours.target().to_string()]);
    assert_eq!(got["value"], "from shoal");

    // Immutable, libtorrent -> shoal.
    let put = lt.run(&["put-immutable", "from libtorrent"]);
    assert!(put["nodes"].as_u64().unwrap() >= 1, "{put}");
    let target = NodeId::from_hex(put["target"].as_str().unwrap()).unwrap();
    let got = rt.block_on(nodes[2].get_item(ItemQuery::Immutable(target)));
    assert_eq!(got, Some(Item::Immutable(b"15:from libtorrent".to_vec())));

    // Mutable, shoal -> libtorrent: libtorrent checks the signature and
    // reports it with the value.
    let seed = [0x5a; 32];
    let key = ItemKey::from_seed(seed);
    let signed = key.sign(b"feed", 1, b"3:one".to_vec()).unwrap();
    assert!(rt.block_on(nodes[3].put_item(Item::Mutable(signed.clone()), None)) >= 2);
    let got = lt.run(&["get-mutable", &hex(&key.public()), "feed"]);
    assert_eq!(got["value"], "one");
    assert_eq!(got["seq"], 1);
    assert_eq!(got["signature"], hex(&signed.sig));

    // Mutable, libtorrent -> shoal, with the same key: libtorrent reads
    // seq 1 and puts seq 2, which shoal verifies and prefers.
    let put = lt.run(&["put-mutable", &hex(&seed), "feed", "two"]);
    assert_eq!(put["public_key"], hex(&key.public()));
    assert_eq!(put["seq"], 2, "{put}");
    let query = ItemQuery::Mutable {
        key: key.public(),
        salt: b"feed".to_vec(),
    };
    let got = rt
        .block_on(nodes[0].get_item(query))
        .expect("libtorrent's item");
    assert_eq!(got.seq(), Some(2));
    assert_eq!(got.value(), b"3:two");
    lt.send(&["quit"]);
    assert!(lt.proc.wait_exit(Duration::from_secs(10)).success());
}
