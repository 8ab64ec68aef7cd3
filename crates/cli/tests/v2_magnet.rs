//! v2-only magnet links (BEP 52): the info dictionary names each file's
//! `pieces root` but not its piece hashes, so after the metadata shoal asks
//! v2 peers for the piece layers with hash requests, checks them against the
//! roots, keeps them, and serves them to others in turn.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::*;

#[test]
fn a_v2_only_magnet_travels_from_libtorrent_through_shoal_to_libtorrent() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // Three files of about 1 MiB in 64 KiB pieces: every file spans pieces,
    // so nothing verifies without the layers.
    let content = make_content(&t.join("src"), "3", 3, "content");
    let torrent = t.join("t.torrent");
    let made = make_torrent_as(&content, &torrent, 64, "v2");
    assert!(made["infohash_v1"].is_null(), "{made}");
    let magnet = made["magnet"].as_str().unwrap().to_owned();
    assert!(magnet.contains("urn:btmh:"), "{magnet}");

    let [sp, own, lp] = free_ports(3)[..] else {
        panic!()
    };
    let mut cmd = lt_peer("seed", &torrent, content.parent().unwrap(), sp);
    cmd.args(["--timeout", "120"]);
    let mut lt_seed = Proc::spawn("lt-seed", &mut cmd, t);
    lt_seed.wait_event("ready", Duration::from_secs(30));

    // shoal has only the magnet: metadata, then layers, then data.
    let out = t.join("dl");
    let state = t.join("dl-state");
    let download = |extra: &[&str]| {
        let mut cmd = shoal();
        cmd.arg("download")
            .arg(format!("{magnet}&x.pe=127.0.0.1:{sp}"))
            .arg("-o")
            .arg(&out)
            .arg("--state-dir")
            .arg(&state)
            .arg("--listen")
            .arg(format!("127.0.0.1:{own}"))
            .args(extra);
        cmd
    };
    let mut shoal_peer = Proc::spawn("shoal", &mut download(&["--seed"]), t);
    shoal_peer.wait_until("shoal complete", Duration::from_secs(90), |p| {
        p.stderr().contains("seeding on")
    });
    assert_verified(&torrent, &out);
    assert_same_tree(&content, &out.join("content"));
    let hash = made["infohash_v2"].as_str().unwrap();
    assert!(
        state.join(format!("{}.layers", &hash[..40])).is_file(),
        "layers kept"
    );
    lt_seed.stop();

    // libtorrent with only the magnet gets metadata, layers and data from shoal.
    let mut cmd = lt_peer("leech", std::path::Path::new(&magnet), &t.join("lt-dl"), lp);
    cmd.args(["--peer", &format!("127.0.0.1:{own}"), "--timeout", "90"]);
    let mut lt_leech = Proc::spawn("lt-leech", &mut cmd, t);
    lt_leech.wait_success(Duration::from_secs(100));
    assert_same_tree(&content, &t.join("lt-dl").join("content"));
    shoal_peer.stop();

    // A restart with no peer at all: the metadata and the layers were kept.
    let again = run_ok(&mut download(&[]));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("complete"), "{stderr}");
}

#[test]
fn a_v2_torrent_without_piece_layers_gets_them_from_libtorrent() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let content = make_content(&t.join("src"), "2", 2, "content");
    let torrent = t.join("t.torrent");
    make_torrent_as(&content, &torrent, 64, "v2");
    // libtorrent writes `piece layers` last (keys sorted, after `info`): cut
    // it off, leaving the top-level dictionary's end.
    let bytes = std::fs::read(&torrent).unwrap();
    let key = b"12:piece layers";
    let at = bytes
        .windows(key.len())
        .rposition(|w| w == key)
        .expect("piece layers");
    let mut bare = bytes[..at].to_vec();
    bare.push(b'e');
    let bare_torrent = t.join("bare.torrent");
    std::fs::write(&bare_torrent, &bare).unwrap();
    // Only what needs no layers accepts it as it is.
    let verify = shoal()
        .arg("verify")
        .arg(&bare_torrent)
        .arg(t.join("src"))
        .output()
        .unwrap();
    assert!(!verify.status.success(), "verify needs the layers");

    let [sp, own] = free_ports(2)[..] else {
        panic!()
    };
    let mut cmd = lt_peer("seed", &torrent, content.parent().unwrap(), sp);
    cmd.args(["--timeout", "60"]);
    let mut lt_seed = Proc::spawn("lt-seed", &mut cmd, t);
    lt_seed.wait_event("ready", Duration::from_secs(30));
    let out = t.join("dl");
    let mut cmd = shoal_download(&bare_torrent, &out, &t.join("dl-state"), own);
    cmd.args(["--peer", &format!("127.0.0.1:{sp}")]);
    let mut dl = Proc::spawn("shoal", &mut cmd, t);
    dl.wait_success(Duration::from_secs(60));
    assert_verified(&torrent, &out);
    assert_same_tree(&content, &out.join("content"));
}

#[test]
fn a_v2_only_magnet_travels_between_shoal_peers() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let content = make_content(&t.join("src"), "3", 3, "content");
    let torrent = t.join("t.torrent");
    shoal_create(&content, &torrent, &["--v2", "--piece-size", "64K"]);
    let info = stdout_json(&run_ok(shoal().args(["info", "--json"]).arg(&torrent)));
    let magnet = info["magnet"].as_str().unwrap().to_owned();
    assert!(
        magnet.contains("urn:btmh:") && !magnet.contains("btih"),
        "{magnet}"
    );
    let [sp, own] = free_ports(2)[..] else {
        panic!()
    };
    let mut cmd = shoal_seed(
        &torrent,
        content.parent().unwrap(),
        &t.join("seed-state"),
        sp,
    );
    let mut seed = Proc::spawn("seed", &mut cmd, t);
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
    let out = t.join("dl");
    let mut cmd = shoal();
    cmd.arg("download")
        .arg(&magnet)
        .arg("-o")
        .arg(&out)
        .arg("--state-dir")
        .arg(t.join("dl-state"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{own}"))
        .args(["--peer", &format!("127.0.0.1:{sp}")]);
    let mut dl = Proc::spawn("shoal-dl", &mut cmd, t);
    dl.wait_success(Duration::from_secs(60));
    assert_verified(&torrent, &out);
    assert_same_tree(&content, &out.join("content"));
}

/// A peer that answers every hash request with hashes of the right count
/// but wrong value; records the requests it got and whether shoal hung up
/// on it afterwards.
fn layer_liar(info_hash: [u8; 20]) -> (u16, std::sync::mpsc::Receiver<&'static str>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let tx = tx.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut theirs = [0u8; 68];
                s.read_exact(&mut theirs)?;
                let mut hs = b"\x13BitTorrent protocol".to_vec();
                hs.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x14]);
                hs.extend_from_slice(&info_hash);
                hs.extend_from_slice(b"-XX0000-layerliar000");
                s.write_all(&hs)?;
                loop {
                    let mut len = [0u8; 4];
                    if s.read_exact(&mut len).is_err() {
                        let _ = tx.send("closed");
                        return Ok(());
                    }
                    let mut msg = vec![0u8; u32::from_be_bytes(len) as usize];
                    s.read_exact(&mut msg)?;
                    if msg.first() != Some(&21) || msg.len() != 49 {
                        continue;
                    }
                    let _ = tx.send("request");
                    let field = |at: usize| u32::from_be_bytes(msg[at..at + 4].try_into().unwrap());
                    let (count, proof) = (field(41), field(45));
                    let uncles = (proof + 1).saturating_sub(count.trailing_zeros());
                    let n = (count + uncles) as usize * 32;
                    let mut out = ((1 + 48 + n) as u32).to_be_bytes().to_vec();
                    out.push(22);
                    out.extend_from_slice(&msg[1..]);
                    out.extend(std::iter::repeat_n(0xab, n));
                    s.write_all(&out)?;
                }
            });
        }
    });
    (port, rx)
}

#[test]
fn a_peer_whose_hashes_do_not_prove_the_root_is_dropped_and_nothing_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let content = make_content(&t.join("src"), "2", 2, "content");
    let torrent = t.join("t.torrent");
    shoal_create(&content, &torrent, &["--v2", "--piece-size", "64K"]);
    let info = stdout_json(&run_ok(shoal().args(["info", "--json"]).arg(&torrent)));
    let hex = info["info_hash_v2"].as_str().unwrap().to_owned();
    let mut wire = [0u8; 20];
    for (i, b) in wire.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    let bytes = std::fs::read(&torrent).unwrap();
    let key = b"12:piece layers";
    let at = bytes.windows(key.len()).rposition(|w| w == key).unwrap();
    let bare = t.join("bare.torrent");
    std::fs::write(&bare, [&bytes[..at], b"e"].concat()).unwrap();

    let (liar, events) = layer_liar(wire);
    let [own, sp] = free_ports(2)[..] else {
        panic!()
    };
    let state = t.join("dl-state");
    let out = t.join("dl");
    let mut cmd = shoal_download(&bare, &out, &state, own);
    cmd.args(["--peer", &format!("127.0.0.1:{liar}")]);
    let mut dl = Proc::spawn("shoal-dl", &mut cmd, t);
    let wait = Duration::from_secs(20);
    assert_eq!(events.recv_timeout(wait), Ok("request"));
    // The first wrong answer ends the connection.
    loop {
        match events.recv_timeout(wait) {
            Ok("closed") => break,
            Ok(_) => {} // requests in flight may still arrive
            Err(e) => panic!("shoal kept talking to the liar: {e}"),
        }
    }
    dl.stop();
    assert!(
        !state.join(format!("{}.layers", &hex[..40])).exists(),
        "nothing of the liar's is kept"
    );
    // An honest seed completes it.
    let mut cmd = shoal_seed(
        &torrent,
        content.parent().unwrap(),
        &t.join("seed-state"),
        sp,
    );
    let mut seed = Proc::spawn("seed", &mut cmd, t);
    seed.wait_until("seeding", Duration::from_secs(30), |p| {
        p.stderr().contains("seeding on")
    });
    let mut cmd = shoal_download(&bare, &out, &state, own);
    cmd.args(["--peer", &format!("127.0.0.1:{sp}")]);
    let mut dl = Proc::spawn("shoal-dl-2", &mut cmd, t);
    dl.wait_success(Duration::from_secs(60));
    assert_verified(&torrent, &out);
}
