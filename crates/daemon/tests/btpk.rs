//! BEP 46 links added to the daemon: the key's item is looked up in the DHT
//! (shoal nodes on 127.0.0.1, in this process) and the torrent it names is
//! added as that info-hash's magnet link.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{request, server};

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use shoal_dht::{Item, ItemKey};
use shoal_metainfo::{InfoHashV1, bep46_value};
use shoal_session::{Dht, DhtConfig};

fn add(addr: SocketAddr, link: &str) -> (u16, Value) {
    let (_, _, session) = request(addr, "GET", "/api/v1/session", &[], b"");
    let session: Value = serde_json::from_str(&session).unwrap();
    let csrf = session["csrf_token"].as_str().unwrap();
    let body = json!({ "magnet": link, "paused": true }).to_string();
    let (status, _, text) = request(
        addr,
        "POST",
        "/api/v1/torrents",
        &[("X-Shoal-Csrf", csrf), ("Content-Type", "application/json")],
        body.as_bytes(),
    );
    (status, serde_json::from_str(&text).unwrap())
}

#[test]
fn a_btpk_link_is_added_as_the_torrent_its_key_names() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = |bootstrap: Vec<SocketAddr>| {
        let mut c = DhtConfig::new("127.0.0.1:0".parse().unwrap());
        c.bootstrap = bootstrap;
        c
    };
    let info_hash = InfoHashV1([0xab; 20]);
    let key = ItemKey::from_seed([46; 32]);
    let nodes = rt.block_on(async {
        let root = Dht::start(config(vec![])).await.unwrap();
        let mut nodes = vec![root];
        for _ in 0..2 {
            let d = Dht::start(config(vec![nodes[0].local_addr()]))
                .await
                .unwrap();
            assert!(d.wait_bootstrapped(Duration::from_secs(10)).await);
            nodes.push(d);
        }
        let item = key.sign(b"s", 7, bep46_value(&info_hash)).unwrap();
        assert!(nodes[1].put_item(Item::Mutable(item), None).await >= 1);
        nodes
    });
    let root = nodes[0].local_addr().to_string();
    let s = server(|c| {
        c.dht = true;
        c.dht_bootstrap = vec![root];
    });
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let link = format!(
        "magnet:?xs=urn:btpk:{}&s={}&dn=feed",
        hex(&key.public()),
        hex(b"s")
    );
    let (status, t) = add(s.addr, &link);
    assert_eq!(status, 201, "{t}");
    assert_eq!(t["name"], "feed");
    assert_eq!(t["info_hash"], info_hash.to_hex());
    assert_eq!(
        t["magnet"],
        format!("magnet:?xt=urn:btih:{}&dn=feed", info_hash.to_hex())
    );
    let (status, e) = add(s.addr, "magnet:?xs=urn:btpk:abcd");
    assert_eq!(status, 400, "{e}");
}
