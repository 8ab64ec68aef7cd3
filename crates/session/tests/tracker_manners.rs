//! A session with 300 torrents on one tracker behaves like a good citizen,
//! counted by fake trackers on 127.0.0.1: `started` spread rather than a
//! burst, scrapes batched, `stopped` bounded at shutdown, a restart that
//! neither stops nor starts every torrent, and replies with no peers that
//! leave idle torrents asleep. The bounds asserted are the pace's
//! structure (counts), not timings.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

#[path = "support/fake_tracker.rs"]
mod fake_tracker;

use std::path::Path;
use std::time::{Duration, Instant};

use fake_tracker::{most_in_a_second, sha1_of, torrents};
use shoal_metainfo::Torrent;
use shoal_session::{Session, SessionConfig, TorrentOptions, TrackerPace};

const TORRENTS: usize = 300;
/// A pace letting every torrent of a test (up to 1,000) announce
/// `started` at once, for tests about what comes after.
const EAGER: TrackerPace = TrackerPace {
    spread: Duration::from_secs(1),
    floor: 1000,
};

async fn session(state: &Path, pace: TrackerPace) -> Session {
    let mut config = SessionConfig::new("127.0.0.1:0".parse().unwrap(), state.to_path_buf());
    config.tracker_pace = pace;
    Session::bind(config).await.unwrap()
}

/// Adds every torrent at once (as a daemon restoring its list does).
async fn add_all(session: &Session, torrents: &[Torrent], dir: &Path) {
    let mut adds = tokio::task::JoinSet::new();
    for t in torrents {
        let (session, t, dir) = (session.clone(), t.clone(), dir.to_path_buf());
        adds.spawn(async move {
            session
                .add_torrent(t, dir, TorrentOptions::default())
                .await
                .unwrap();
        });
    }
    while let Some(added) = adds.join_next().await {
        added.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_is_spread_and_only_announced_torrents_say_stopped() {
    let (url, log) = fake_tracker::http_tracker().await;
    let content = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let all = torrents(content.path(), TORRENTS, &[&url]);
    let s = session(state.path(), TrackerPace::default()).await;
    add_all(&s, &all, content.path()).await;
    // 300 torrents on one tracker: 8 at once, then 8 a second (300/60 is
    // under the floor). Without the pace all 300 come within the adds.
    let got = log.wait_for("started", 24, Duration::from_secs(30)).await;
    assert!(got >= 24, "only {got} started");
    let times: Vec<Instant> = log.announces("started").iter().map(|a| a.at).collect();
    let most = most_in_a_second(&times);
    // 16 by the pace; a little more where delivery bunches them up.
    assert!(most <= 24, "{most} started in one second");
    assert!(times.len() < 100, "{} started already", times.len());
    s.shutdown().await;
    let started = log.announces("started").len();
    let stopped = log.announces("stopped").len();
    // Torrents still waiting for their turn never told the tracker
    // anything, so they owe it no `stopped`.
    assert!(
        stopped <= started,
        "{stopped} stopped for {started} started"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_are_bounded_and_a_restart_keeps_the_schedules() {
    let (url, log) = fake_tracker::http_tracker().await;
    let content = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let all = torrents(content.path(), TORRENTS, &[&url]);
    // This test is about the stop.
    let s = session(state.path(), EAGER).await;
    add_all(&s, &all, content.path()).await;
    let got = log
        .wait_for("started", TORRENTS, Duration::from_secs(60))
        .await;
    assert_eq!(got, TORRENTS);

    let begun = Instant::now();
    s.shutdown().await;
    drop(s);
    let stops = log.announces("stopped");
    // A burst of 16, then 50 a second for 2 s; answered within 5 s.
    assert!((16..=116).contains(&stops.len()), "{} stopped", stops.len());
    let last = stops.iter().map(|a| a.at).max().unwrap();
    assert!(last.saturating_duration_since(begun) <= Duration::from_secs(5));
    let before = log.seen().len();

    // The restart: only the torrents whose `stopped` went through start
    // again; the others resume their schedule (next announce in ~2 min).
    let s = session(state.path(), EAGER).await;
    add_all(&s, &all, content.path()).await;
    let again = log
        .wait_for("started", TORRENTS + stops.len(), Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after: Vec<_> = log.seen().into_iter().skip(before).collect();
    assert!(
        again - TORRENTS <= stops.len(),
        "{} started again, {} had stopped",
        again - TORRENTS,
        stops.len()
    );
    assert!(
        after.len() <= stops.len(),
        "{} requests after the restart",
        after.len()
    );
    for a in &after {
        assert_eq!((a.kind, a.event.as_str()), ("announce", "started"));
        assert!(
            stops.iter().any(|s| s.hashes == a.hashes),
            "{:?} started again without having stopped",
            a.hashes
        );
    }
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_go_74_hashes_to_a_request() {
    let hashes: Vec<[u8; 20]> = (0..TORRENTS as u32)
        .map(|i| sha1_of(&i.to_be_bytes()))
        .collect();
    let (http, http_log) = fake_tracker::http_tracker().await;
    let (udp, udp_log) = fake_tracker::udp_tracker().await;
    for (url, log, seeders) in [(&http, &http_log, 1), (&udp, &udp_log, 2)] {
        let counts = shoal_session::scrape_many(url, &hashes).await;
        assert_eq!(counts.len(), TORRENTS);
        for ((hash, c), want) in counts.iter().zip(&hashes) {
            assert_eq!(hash, want);
            assert_eq!(c.as_ref().map(|c| c.seeders), Ok(seeders), "{url}");
        }
        let sizes: Vec<usize> = log
            .seen()
            .iter()
            .filter(|s| s.kind == "scrape")
            .map(|s| s.hashes.len())
            .collect();
        assert_eq!(sizes, [74, 74, 74, 74, 4], "{url}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torrents_share_one_socket_and_connection_id_per_udp_tracker() {
    let (url, log) = fake_tracker::udp_tracker().await;
    let content = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let n = 100;
    let all = torrents(content.path(), n, &[&url]);
    let s = session(state.path(), EAGER).await;
    add_all(&s, &all, content.path()).await;
    let got = log.wait_for("started", n, Duration::from_secs(60)).await;
    assert_eq!(got, n);
    let seen = log.seen();
    let ports: std::collections::BTreeSet<u16> = seen.iter().map(|s| s.port).collect();
    assert_eq!(ports.len(), 1, "{} sockets for {n} torrents", ports.len());
    let connects = seen.iter().filter(|s| s.kind == "connect").count();
    // Exchanges begun before the first id came back connect too: at most
    // the requests open to one host at once.
    assert!(connects <= 8, "{connects} connects for {n} announces");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_trackers_are_asked_from_the_peer_port() {
    let (url, log) = fake_tracker::udp_tracker().await;
    let content = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let all = torrents(content.path(), 2, &[&url]);
    let s = session(state.path(), TrackerPace::default()).await;
    add_all(&s, &all, content.path()).await;
    // An announce follows a connect whose reply came back through the uTP
    // driver's demultiplexer.
    assert_eq!(log.wait_for("started", 2, Duration::from_secs(30)).await, 2);
    let ports: std::collections::BTreeSet<u16> = log.seen().iter().map(|s| s.port).collect();
    assert_eq!(
        ports,
        [s.local_addr().port()].into(),
        "not from the peer port"
    );
    // And the announce's own reply reached its torrent.
    let answered = async {
        while !s.torrents().iter().all(|t| {
            let (announces, ..) = t.announces();
            announces.iter().any(|a| *a.url == *url && a.result.is_ok())
        }) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), answered)
        .await
        .expect("announce replies never reached the torrents");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_never_answers_is_skipped_after_a_few_tries() {
    // A port nothing listens on: every connect is refused.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/announce", dead.local_addr().unwrap());
    drop(dead);
    let (url, log) = fake_tracker::http_tracker().await;
    let content = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let n = 30;
    let all = torrents(content.path(), n, &[&dead_url, &url]);
    let s = session(state.path(), EAGER).await;
    add_all(&s, &all, content.path()).await;
    // Every torrent falls through to the second tier.
    let got = log.wait_for("started", n, Duration::from_secs(60)).await;
    assert_eq!(got, n);
    let skipped = s
        .torrents()
        .iter()
        .filter(|t| {
            t.announces().0.iter().any(|a| {
                *a.url == *dead_url && a.result == Err("tracker unreachable, retrying later".into())
            })
        })
        .count();
    // Three refusals in a row mark it down; requests already under way
    // (at most 8 open) still fail on their own.
    assert!(
        skipped >= n - 3 - 8,
        "only {skipped} of {n} skipped the dead tracker"
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_with_no_peers_leaves_an_idle_torrent_asleep() {
    let (url, log) = fake_tracker::http_tracker().await;
    let content = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let n = 24;
    let all = torrents(content.path(), n, &[&url]);
    let s = session(state.path(), TrackerPace::default()).await;
    add_all(&s, &all, content.path()).await;
    // Seeds without peers go idle at once; the pace lets 8 announce now
    // and the rest over the next seconds, after this drain.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = s.take_woken();
    let got = log.wait_for("started", n, Duration::from_secs(30)).await;
    assert_eq!(got, n);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Every reply named nobody: nothing to dial, so nobody woke (each
    // woken torrent costs a timer run and the daemon's sampler visits).
    assert_eq!(s.take_woken(), Some(vec![]));
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torrents_between_announces_hold_no_task() {
    let (url, log) = fake_tracker::http_tracker().await;
    let content = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let all = torrents(content.path(), TORRENTS, &[&url]);
    // This test is about what stays afterwards.
    let s = session(state.path(), EAGER).await;
    let tasks = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let before = tasks();
    add_all(&s, &all, content.path()).await;
    let started = log
        .wait_for("started", TORRENTS, Duration::from_secs(60))
        .await;
    assert_eq!(started, TORRENTS);
    // Each announce's task ends with its reply; the next is 120 s away.
    // One task per torrent (a sleeping announce loop) would leave 300.
    let start = Instant::now();
    while tasks().saturating_sub(before) > 20 && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = tasks().saturating_sub(before);
    assert!(left <= 20, "{left} tasks for {TORRENTS} idle torrents");
    // And they still announce: `stopped` reaches the tracker at shutdown.
    s.shutdown().await;
    assert!(!log.announces("stopped").is_empty());
}
