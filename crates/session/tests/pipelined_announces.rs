//! A seedbox's regular announces to a tracker that keeps connections open
//! go out together: each tick's announces are written at once on one
//! connection and their replies read in order (HTTP/1.1 pipelining). A
//! fake tracker on 127.0.0.1 counts the requests each of its reads
//! brought; every torrent's announce is still answered and recorded, and
//! each still says `stopped` at shutdown.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

#[path = "support/fake_tracker.rs"]
mod fake_tracker;

use std::path::Path;
use std::time::{Duration, Instant};

use shoal_session::{Session, SessionConfig, TorrentHandle, TorrentOptions, TrackerPace};

const TORRENTS: usize = 60;
/// The shortest interval the session honours: the regular announces come
/// 27 to 30 s (less the jitter) after `started`.
const INTERVAL: u32 = 30;

/// A session seeding [`TORRENTS`] torrents on `url`, all of whose
/// `started` may go at once (so the regular announces fall due within
/// the interval's 3 s of jitter), and their handles.
async fn seeding(url: &str, content: &Path, state: &Path) -> (Session, Vec<TorrentHandle>) {
    let mut config = SessionConfig::new("127.0.0.1:0".parse().unwrap(), state.into());
    config.tracker_pace = TrackerPace {
        spread: Duration::from_secs(1),
        floor: 1000,
    };
    let s = Session::bind(config).await.unwrap();
    let mut handles = Vec::new();
    for t in fake_tracker::torrents(content, TORRENTS, &[url]) {
        let added = s.add_torrent(t, content.into(), TorrentOptions::default());
        handles.push(added.await.unwrap());
    }
    (s, handles)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regular_announces_go_pipelined_and_each_is_answered() {
    let (url, log, reads) = fake_tracker::kept_alive_http_tracker(INTERVAL).await;
    let content = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let (s, handles) = seeding(&url, content.path(), state.path()).await;
    let started = log
        .wait_for("started", TORRENTS, Duration::from_secs(30))
        .await;
    assert_eq!(started, TORRENTS);
    // `started` went one request at a time, each waiting for its reply.
    assert_eq!(reads.most_in_one_read(), 1);
    let regular = log.wait_for("", TORRENTS, Duration::from_secs(45)).await;
    assert_eq!(regular, TORRENTS, "regular announces seen");
    // Pipelined: a tick's announces arrived in one read. One request at a
    // time would bring one per read.
    let most = reads.most_in_one_read();
    assert!(most >= 5, "at most {most} requests in one read");
    // Each torrent took in its reply: answered, and its next announce
    // set an interval on.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for h in &handles {
        let (last, next) = h.announces();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].result, Ok(0));
        let next = next.expect("next announce set");
        assert!(
            next + 2 >= now + u64::from(INTERVAL) * 8 / 10,
            "next at {next}, now {now}"
        );
    }
    // Back in their slots: each says `stopped` at shutdown.
    s.shutdown().await;
    assert_eq!(log.announces("stopped").len(), TORRENTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_cuts_a_batch_short_and_every_torrent_still_stops() {
    // Regular announces are held far past the shutdown's 5 s budget.
    let hold = Duration::from_secs(60);
    let (url, log, _) = fake_tracker::slow_kept_alive_http_tracker(INTERVAL, hold).await;
    let content = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let (s, _handles) = seeding(&url, content.path(), state.path()).await;
    let started = log
        .wait_for("started", TORRENTS, Duration::from_secs(30))
        .await;
    assert_eq!(started, TORRENTS);
    // A batch is under way: its first request was taken in, unanswered.
    assert!(log.wait_for("", 1, Duration::from_secs(45)).await >= 1);
    let begun = Instant::now();
    s.shutdown().await;
    // Waiting out the held replies (or the 15 s request timeout) would
    // take longer than the budget.
    assert!(
        begun.elapsed() < Duration::from_secs(12),
        "{:?}",
        begun.elapsed()
    );
    assert_eq!(log.announces("stopped").len(), TORRENTS);
}
