//! Crash safety: a `shoal download` from a rate-limited libtorrent seed is
//! `kill -9`ed at random moments, three times, and restarted with the same
//! `--state-dir` and `-o`. After every kill the resume data may claim only
//! pieces that are good on disk; the last run completes, the data verifies,
//! and what was fetched shows that verified pieces were never fetched again:
//! the last run downloads only what was missing, and the seed's total upload
//! exceeds the content by no more than the pieces in flight at each kill.
//! A fourth interruption is a clean one (SIGTERM): exit code 143, and the
//! resume data saved on the way out holds what is on disk.
//!
//! The random kill moments come from the clock; set `SHOAL_CRASH_SEED` to
//! replay a run (the seed is printed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use shoal_metainfo::Torrent;
use shoal_storage::resume::{self, ResumeData};
use shoal_storage::{FileStore, PieceState, check_options, check_pieces};

const KILLS: usize = 3;
/// The seed's upload cap: 64 MiB take about 8.4 s, so every kill lands
/// mid-transfer.
const RATE: u64 = 8_000_000;
/// Bytes a kill may cost: blocks received or in flight for pieces not yet
/// verified. At `RATE` the request pipeline holds about 0.8 MB and a few
/// pieces are partly received; 4 MiB leaves room for bursts, yet is far
/// below what re-fetching the verified pieces would cost.
const LOST_PER_KILL: u64 = 4 << 20;

/// Small deterministic generator for the kill moments (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn piece_states(torrent: &Torrent, dir: &Path) -> Vec<PieceState> {
    let store = FileStore::new(dir, Arc::new(torrent.info.clone()));
    check_pieces(torrent, &store.segments(), &check_options(torrent), &|_| {}).unwrap()
}

fn good(states: &[PieceState]) -> usize {
    states.iter().filter(|s| **s == PieceState::Good).count()
}

#[test]
fn kill_9_at_random_moments_loses_only_unverified_pieces() {
    require_libtorrent();
    let tmp = tempfile::tempdir().unwrap();
    let content = make_content(&tmp.path().join("src"), "64", 12, "content");
    let torrent_path = tmp.path().join("content.torrent");
    let made = make_torrent(&content, &torrent_path, 256);
    let torrent = Torrent::from_bytes(&std::fs::read(&torrent_path).unwrap()).unwrap();
    let size = torrent.info.total_length();
    let piece_len = torrent.info.piece_length;
    let num_pieces = torrent.info.num_pieces();
    let (out, state) = (tmp.path().join("dl"), tmp.path().join("state"));
    let resume_path = state.join(format!("{}.resume", made["infohash_v1"].as_str().unwrap()));

    let [sp] = free_ports(1)[..] else { panic!() };
    let mut cmd = lt_peer("seed", &torrent_path, content.parent().unwrap(), sp);
    cmd.args(["--timeout", "120", "--upload-limit", &RATE.to_string()]);
    let mut seed = Proc::spawn("lt-seed", &mut cmd, tmp.path());
    seed.wait_event("ready", Duration::from_secs(30));

    let rng_seed = std::env::var("SHOAL_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("SHOAL_CRASH_SEED={rng_seed}");
    let mut rng = Rng(rng_seed);
    let leech = |run: usize| {
        let mut cmd = shoal_download(&torrent_path, &out, &state, 0);
        cmd.arg("--peer").arg(format!("127.0.0.1:{sp}"));
        Proc::spawn(&format!("shoal-run-{run}"), &mut cmd, tmp.path())
    };

    let mut good_before = 0;
    for run in 0..KILLS {
        let delay = Duration::from_secs_f64(0.5 + 1.5 * rng.next_f64());
        let mut shoal = leech(run);
        std::thread::sleep(delay);
        assert!(
            shoal.try_status().is_none(),
            "run {run} ended before its kill at {delay:?}: the content is too small for the rate\n{}",
            shoal.describe()
        );
        shoal.kill9();
        let states = piece_states(&torrent, &out);
        let on_disk = good(&states);
        // The record may lag behind the disk, never run ahead of it.
        let record: Option<ResumeData> = resume::load(&resume_path).unwrap();
        let recorded = match &record {
            Some(r) => {
                for (piece, state) in states.iter().enumerate() {
                    assert!(
                        !r.has_piece(piece) || *state == PieceState::Good,
                        "run {run}: resume data claims piece {piece}, which is {state:?} on disk"
                    );
                }
                (0..num_pieces).filter(|p| r.has_piece(*p)).count()
            }
            None => 0,
        };
        assert!(
            on_disk >= good_before,
            "run {run}: verified pieces were lost ({good_before} -> {on_disk})"
        );
        eprintln!(
            "run {run}: killed after {:.2} s; {on_disk}/{num_pieces} pieces good on disk, {recorded} in the resume data",
            delay.as_secs_f64()
        );
        good_before = on_disk;
    }

    // A clean stop (SIGTERM) in between: exit 143, and the resume data then
    // holds every piece verified before the signal.
    let mut shoal = leech(KILLS);
    // Signals are handled once the torrent runs (after its startup check).
    shoal.wait_until("listening", Duration::from_secs(20), |p| {
        p.stderr().contains("listening on")
    });
    std::thread::sleep(Duration::from_secs_f64(0.3 + rng.next_f64()));
    // Every piece good on disk now is verified in shoal by the time the
    // signal lands, so the record saved on the way out must hold it.
    let before_signal = good(&piece_states(&torrent, &out));
    let status = shoal.stop();
    assert_eq!(status.code(), Some(143), "{}", shoal.describe());
    let states = piece_states(&torrent, &out);
    let on_disk = good(&states);
    let record = resume::load(&resume_path).unwrap().expect("resume data");
    let recorded = (0..num_pieces).filter(|p| record.has_piece(*p)).count();
    for (piece, state) in states.iter().enumerate() {
        assert!(
            !record.has_piece(piece) || *state == PieceState::Good,
            "after SIGTERM: resume data claims piece {piece}, which is {state:?} on disk"
        );
    }
    // (The torrent keeps trading while the record is written, so the disk
    // may be ahead of it by then; a restart finds those pieces by recheck.)
    assert!(
        recorded >= before_signal && before_signal >= good_before,
        "after SIGTERM: {recorded} pieces recorded, {before_signal} were good on disk at the signal"
    );
    eprintln!(
        "SIGTERM: {before_signal} pieces good at the signal, {on_disk} at exit, {recorded} in the resume data"
    );
    good_before = on_disk;

    let missing = (num_pieces - good_before) as u64 * piece_len;
    let start = Instant::now();
    let mut last = leech(KILLS + 1);
    last.wait_success(Duration::from_secs(90));
    let took = start.elapsed();
    assert_verified(&torrent_path, &out);
    assert_same_tree(&content, &out.join("content"));

    // The last run fetched only what was missing: the restart recognised
    // every piece verified before the kill.
    let record = resume::load(&resume_path).unwrap().expect("resume data");
    assert!(
        (0..num_pieces).all(|p| record.has_piece(p)),
        "final record incomplete"
    );
    eprintln!(
        "last run: {} of {} missing bytes fetched in {:.2} s",
        record.downloaded,
        missing,
        took.as_secs_f64()
    );
    assert!(
        record.downloaded <= missing,
        "the last run fetched {} bytes, but only {missing} were missing",
        record.downloaded
    );

    // Across all runs, the seed sent the content once plus what was in flight
    // at each kill.
    seed.stop();
    let summary = seed.json_lines().pop().unwrap();
    let sent = summary["payload_uploaded"].as_u64().unwrap();
    eprintln!(
        "seed sent {sent} bytes for {size} bytes of content ({} KiB lost over {KILLS} kills and a SIGTERM)",
        sent.saturating_sub(size) >> 10
    );
    assert!(sent >= size, "{summary}");
    assert!(
        sent <= size + (KILLS as u64 + 1) * LOST_PER_KILL,
        "{} bytes more than the content were fetched over {KILLS} kills and a SIGTERM",
        sent - size
    );
}
