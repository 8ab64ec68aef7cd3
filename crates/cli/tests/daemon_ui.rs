//! `shoal daemon` as a process on 127.0.0.1, driven by its clients:
//! Debian's `transmission-remote` (add, list, info, stop, start, session
//! info and stats, remove) against a tracker and a seeder, a real browser
//! on the web UI (Playwright + Chromium, beside a second daemon holding
//! 2,000 torrents), and the `--encryption` flag as the Transmission RPC
//! reports it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::daemon::{
    get_json, http, idle_torrent, info_hash, same_content, start_daemon, start_daemon_with, swarm,
    swarm_as, tr, tr_rpc, wait_gone, wait_torrent,
};
use common::require;

#[test]
fn transmission_remote_drives_the_daemon() {
    require("transmission-remote", &["--version"]);
    let tmp = tempfile::tempdir().unwrap();
    let swarm = swarm(tmp.path(), 3 << 20, None);
    let downloads = tmp.path().join("downloads");
    let mut d = start_daemon(tmp.path(), "daemon", &tmp.path().join("state"), &downloads);
    let api = d.api;

    let out = tr(api, &["-a", swarm.torrent.to_str().unwrap()]);
    assert!(out.contains("responded: \"success\""), "{out}");
    let t = wait_torrent(&mut d, 1, "complete", Duration::from_secs(60), |t| {
        t["status"] == "seeding"
    });
    assert_eq!(t["left_until_done"], 0);
    same_content(&swarm.content, &downloads.join("content"));

    let list = tr(api, &["-l"]);
    let line = list
        .lines()
        .find(|l| l.contains("content"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(line.trim_start().starts_with("1 "), "{list}");
    // "Seeding" with peers, "Idle" once the seeder has left.
    assert!(
        line.contains("100%") && (line.contains("Seeding") || line.contains("Idle")),
        "{list}"
    );
    assert!(list.lines().last().unwrap().starts_with("Sum:"), "{list}");

    let info = tr(api, &["-t", "1", "-i"]);
    let hash = t["info_hash"].as_str().unwrap();
    for want in [
        "Name: content",
        &format!("Hash: {hash}"),
        "Percent Done: 100%",
        "Piece Count:",
    ] {
        assert!(info.contains(want), "missing {want:?} in\n{info}");
    }
    // Complete: "Seeding" while a peer downloads from us, "Idle" otherwise
    // (the only peer left is the seeder, which wants nothing).
    assert!(
        info.contains("State: Seeding") || info.contains("State: Idle"),
        "{info}"
    );
    assert!(
        info.contains(&format!("Location: {}", downloads.display())),
        "{info}"
    );

    assert!(tr(api, &["-t", "1", "-S"]).contains("success"));
    wait_torrent(&mut d, 1, "stopped", Duration::from_secs(10), |t| {
        t["status"] == "stopped"
    });
    assert!(tr(api, &["-l"]).contains("Stopped"));
    assert!(tr(api, &["-t", "1", "-s"]).contains("success"));
    // A start shows as seeding at once. Data written in the 2 s before the
    // stop is hashed again (its resume data cannot vouch for such fresh
    // modification times), and shows as verifying meanwhile.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let list = tr(api, &["-l"]);
        if list.contains("Seeding") || list.contains("Idle") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{list}");
        std::thread::sleep(Duration::from_millis(200));
    }

    let session = tr(api, &["-si"]);
    assert!(session.contains("RPC version: 18"), "{session}");
    assert!(
        session.contains(&format!("Download directory: {}", downloads.display())),
        "{session}"
    );
    let stats = tr(api, &["-st"]);
    assert!(
        stats.contains("CURRENT SESSION") && stats.contains("Started 1 times"),
        "{stats}"
    );

    // Without the session id: the 409 handshake.
    let (status, body) = http(api, "POST", "/transmission/rpc", &[], b"{}");
    assert_eq!(status, 409, "{body}");
    assert!(tr(api, &["-t", "1", "-r"]).contains("success"));
    wait_gone(&mut d, 1);
    assert!(!tr(api, &["-l"]).contains("content"));
    assert!(
        downloads.join("content/a.bin").exists(),
        "-r keeps the data"
    );
    let _ = &swarm.dir;
    d.proc.stop();
}

#[test]
fn the_encryption_flag_sets_the_daemon_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let (state, dl) = (tmp.path().join("state"), tmp.path().join("dl"));
    std::fs::create_dir_all(&dl).unwrap();
    let d = start_daemon_with(
        tmp.path(),
        "daemon",
        &state,
        &dl,
        &["--encryption", "require"],
    );
    let v = tr_rpc(
        d.api,
        &serde_json::json!({ "method": "session-get", "arguments": { "fields": ["encryption"] } }),
    );
    assert_eq!(v["arguments"]["encryption"], "required", "{v}");
}

#[test]
fn web_ui_in_chromium() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../daemon/tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix crates/daemon/tests/browser` (.ci/run does)"
    );
    require("/usr/bin/chromium", &["--version"]);
    let tmp = tempfile::tempdir().unwrap();
    // A sound file for the files tab's player.
    let swarm = swarm_as(tmp.path(), 2 << 20, None, &[], &[("tone.wav", wav_tone())]);
    let downloads = tmp.path().join("downloads");
    let mut d = start_daemon(tmp.path(), "daemon", &tmp.path().join("state"), &downloads);
    // Screenshots are kept as artifacts under the target directory.
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
    let shots = std::env::var_os("CARGO_TARGET_DIR")
        .map_or(shots, |t| PathBuf::from(t).join("test-artifacts"));
    std::fs::create_dir_all(&shots).unwrap();
    // A second daemon with 2,000 torrents, for scrolling and the narrow
    // layout with a full list.
    let many_state = tmp.path().join("state-many");
    seed_state(&many_state, &tmp.path().join("dl-many"), 2000);
    let mut many = start_daemon(
        tmp.path(),
        "daemon-many",
        &many_state,
        &tmp.path().join("dl-many"),
    );
    let out = Command::new("node")
        .arg(browser_dir.join("ui_test.mjs"))
        .arg(format!("http://{}/", d.api))
        .arg(&swarm.torrent)
        .arg(&shots)
        .arg(format!(
            "magnet:?xt=urn:btih:{}&x.pe=127.0.0.1:{}",
            info_hash(&swarm.torrent),
            swarm.seed_port
        ))
        .arg(format!("http://{}/", many.api))
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The steps and the scrolling measurements, for the CI log.
    println!("{log}");
    assert!(
        out.status.success(),
        "browser test failed:\n{log}\n{}",
        d.proc.describe()
    );
    assert!(
        log.contains("ui test: add magnet") && log.contains("ui test: ok"),
        "{log}"
    );
    for shot in [
        "daemon-ui.png",
        "daemon-ui-2000.png",
        "daemon-ui-narrow.png",
    ] {
        assert!(shots.join(shot).exists(), "no {shot}");
    }
    // The UI removed the torrent and kept the data.
    assert!(
        get_json(d.api, "/api/v1/torrents")
            .as_array()
            .unwrap()
            .is_empty()
    );
    same_content(&swarm.content, &downloads.join("content"));
    many.proc.stop();
    d.proc.stop();
}

/// One second of a 440 Hz tone: 8 kHz, 8-bit mono PCM in a WAV file.
fn wav_tone() -> Vec<u8> {
    let rate = 8000u32;
    let samples: Vec<u8> = (0..rate)
        .map(|i| {
            let t = f64::from(i) / f64::from(rate);
            (128.0 + 60.0 * (t * 440.0 * std::f64::consts::TAU).sin()) as u8
        })
        .collect();
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(36 + rate).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes()); // bytes per second
    out.extend_from_slice(&1u16.to_le_bytes()); // block align
    out.extend_from_slice(&8u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&samples);
    out
}

/// Writes `n` stopped torrents (every third labelled `bulk`) straight into
/// a daemon's state directory: adding thousands through the API costs
/// several fsyncs each, loading them at start costs little.
fn seed_state(state: &Path, downloads: &Path, n: usize) {
    let dir = state.join("torrents");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..n {
        let bytes = idle_torrent(i);
        let t = shoal_metainfo::Torrent::from_bytes(&bytes).unwrap();
        let hex = shoal_metainfo::infohash::hex(&t.info_hashes.wire_id().unwrap());
        let mut record = shoal_daemon::TorrentRecord::new(
            u32::try_from(i + 1).unwrap(),
            hex.clone(),
            t.info.name.clone(),
            downloads.to_path_buf(),
        );
        record.paused = true;
        record.added_at = 1_700_000_000 + i as u64;
        if i % 3 == 0 {
            record.labels = vec!["bulk".into()];
        }
        std::fs::write(dir.join(format!("{hex}.torrent")), &bytes).unwrap();
        std::fs::write(
            dir.join(format!("{hex}.json")),
            serde_json::to_vec(&record).unwrap(),
        )
        .unwrap();
    }
}
