//! A seedbox in one daemon (issue 21): 2,000 complete idle torrents cost no
//! per-torrent work each second, and a stop saves every one's resume data
//! in one batch. Structural assertions on the daemon's own counters
//! (`/metrics`, the process's directory fsyncs), never wall-clock timing.
//! One test in this binary: the fsync counter is process-wide.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{metric, sampler_rounds};

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use sha1::{Digest, Sha1};
use shoal_metainfo::{ContentHashes, LayoutItem, NewFile, TorrentSpec, Version};

const N: usize = 2000;
const SIZE: usize = 64 * 1024;
const PIECE: usize = 16 * 1024;

/// Writes torrent `i`'s content under `data` and returns its metainfo.
fn make_torrent(data: &Path, i: usize) -> Vec<u8> {
    let name = format!("t{i:04}");
    // Distinct pieces in every torrent (built fast: the test is unoptimised).
    let mut content = vec![(i % 251) as u8; SIZE];
    for (p, piece) in content.chunks_mut(PIECE).enumerate() {
        piece[..12]
            .copy_from_slice(&[i.to_le_bytes().as_slice(), &(p as u32).to_le_bytes()].concat());
    }
    let dir = data.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("f.bin"), &content).unwrap();
    let files = vec![NewFile {
        path: vec!["f.bin".into()],
        length: SIZE as u64,
        executable: false,
    }];
    let mut spec = TorrentSpec::new(name, files, false, PIECE as u64);
    spec.version = Version::V1;
    assert!(matches!(spec.layout()[..], [LayoutItem::File(0)]));
    let v1_pieces = content
        .chunks(PIECE)
        .map(|c| Sha1::digest(c).into())
        .collect();
    spec.encode(&ContentHashes {
        v1_pieces,
        v2_files: vec![],
    })
    .unwrap()
}

/// Lays out a state directory holding `N` running torrents, as a daemon
/// that was stopped would leave it (metainfo and record; no resume data,
/// so the start checks each one).
fn seed_state(state: &Path, data: &Path) {
    let torrents = state.join("torrents");
    std::fs::create_dir_all(&torrents).unwrap();
    for i in 0..N {
        let bytes = make_torrent(data, i);
        let t = shoal_metainfo::Torrent::from_bytes(&bytes).unwrap();
        let hex = shoal_metainfo::infohash::hex(&t.info_hashes.wire_id().unwrap());
        let record = shoal_daemon::TorrentRecord::new(
            u32::try_from(i + 1).unwrap(),
            hex.clone(),
            t.info.name.clone(),
            data.to_path_buf(),
        );
        std::fs::write(torrents.join(format!("{hex}.torrent")), &bytes).unwrap();
        std::fs::write(
            torrents.join(format!("{hex}.json")),
            serde_json::to_vec(&record).unwrap(),
        )
        .unwrap();
    }
}

#[test]
fn two_thousand_idle_seeds_cost_no_per_torrent_work_and_stop_in_one_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let (state, data) = (tmp.path().join("state"), tmp.path().join("data"));
    seed_state(&state, &data);
    let resume_dir = state.join("resume");
    let server = {
        let (state, data) = (state.clone(), data.clone());
        common::server(move |c| {
            c.state_dir = state;
            c.download_dir = data;
            c.dht = false;
            c.lsd = false;
            c.port_mapping = false;
        })
    };
    let addr = server.addr;
    // All seeding: the start checks ran (at most a few at once).
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let got = common::rpc(
            addr,
            json!({"method": "torrent-get", "arguments": {"fields": ["status"]}}),
        );
        let ts = got["arguments"]["torrents"].as_array().unwrap().clone();
        let seeding = ts.iter().filter(|t| t["status"] == 6).count();
        if ts.len() == N && seeding == N {
            break;
        }
        assert!(Instant::now() < deadline, "{seeding} of {N} seeding");
        std::thread::sleep(Duration::from_millis(500));
    }
    // Let every torrent turn quiet, then watch a window of sampler rounds
    // that holds at most one sweep over the quiet ones.
    sampler_rounds(addr, 6);
    let names = [
        "shoal_sampler_rounds_total",
        "shoal_sampler_torrents_total",
        "shoal_timer_wakeups_total",
        "shoal_torrent_timer_runs_total",
        "shoal_sampler_visits_total",
    ];
    let before: Vec<u64> = names.iter().map(|n| metric(addr, n)).collect();
    // A change (a label) makes the sampler sweep every entry once.
    common::rpc(
        addr,
        json!({"method": "torrent-set", "arguments": {"ids": [1], "labels": ["x"]}}),
    );
    sampler_rounds(addr, 15);
    let after: Vec<u64> = names.iter().map(|n| metric(addr, n)).collect();
    let d: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let (rounds, sampled, wakeups, runs, visits) = (d[0], d[1], d[2], d[3], d[4]);
    println!(
        "{rounds} sampler rounds: {sampled} torrents sampled, {visits} entries looked at, \
         {wakeups} timer wake-ups, {runs} torrent timers run"
    );
    // Sampling every torrent every round would be N per round; quiet ones
    // are sampled once in 60 rounds, and those whose engine sleeps (all
    // here: they started complete) not even then, nor at the sweep.
    assert!(
        sampled <= rounds * 20,
        "{sampled} torrents sampled in {rounds} rounds"
    );
    // The sampler looks at every entry only at the label's sweep, not N
    // entries a second: it leaves all of them parked, and its sweep once
    // in 60 rounds passes over parked ones without reading them.
    assert!(
        visits >= N as u64 && visits <= N as u64 + rounds * 20,
        "{visits} entries looked at in {rounds} rounds"
    );
    assert_eq!(metric(addr, "shoal_sampler_parked"), N as u64);
    // No per-torrent timers: the timer task sleeps while all are idle.
    assert!(
        wakeups <= rounds * 2 && runs <= rounds * 2,
        "{wakeups} timer wake-ups, {runs} torrent timers run in {rounds} s"
    );

    // The stop writes every torrent's resume data (taken away here, so
    // what is there afterwards was written by the stop) in one batch.
    for entry in std::fs::read_dir(&resume_dir).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let records = |state: &Path| -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(state.join("torrents"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
            .collect();
        files.sort();
        files
    };
    let before_stop = records(&state);
    let syncs = shoal_storage::dir_syncs();
    drop(server);
    let syncs = shoal_storage::dir_syncs() - syncs;
    // Every torrent's running clock moved, yet no record was rewritten:
    // the counters went to the one counters file.
    assert!(records(&state) == before_stop, "records rewritten at stop");
    assert!(state.join("counters.json").exists());
    let resumes = std::fs::read_dir(&resume_dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().ends_with(".resume")
        })
        .count();
    assert_eq!(resumes, N, "resume data saved at stop");
    assert_eq!(
        std::fs::read_dir(&resume_dir).unwrap().count(),
        N,
        "temporaries left"
    );
    // Resume data, records and the daemon's totals: a few batches, not a
    // directory sync per torrent.
    assert!(syncs <= 8, "{syncs} directory fsyncs to stop {N} torrents");
}
