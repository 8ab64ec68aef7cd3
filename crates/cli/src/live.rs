//! The status shown while a torrent runs: a live line redrawn on a
//! terminal, a plain line every few seconds otherwise. The words are made
//! in `status`; this module samples the session and draws.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use shoal_metainfo::Magnet;
use shoal_session::{Session, SwarmCounts, TorrentHandle};

use crate::status::{self, RateMeter, Snapshot};
use crate::units;

/// How often the live line is redrawn.
const TICK: Duration = Duration::from_millis(250);
/// How often the plain line of a download is printed when stderr is not a
/// terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// The same for a seeder, which may run for weeks into a log file, and a
/// magnet link waiting for its metadata (news, such as a change in the
/// peer count or the sources' problems, is printed at once).
const QUIET_PLAIN_EVERY: Duration = Duration::from_secs(60);
/// Least time between two plain lines, news or not: a busy seeder's peer
/// count changes all the time.
const PLAIN_GAP: Duration = Duration::from_secs(2);
/// How long a torrent may have no peer before the line says why: the
/// first announce and DHT lookup deserve a moment.
const GRACE: Duration = Duration::from_secs(3);
/// How often the sources of a magnet link are probed while its metadata
/// does not come.
const PROBE_EVERY: Duration = Duration::from_secs(15);
/// Most source problems shown on their own lines of the live display.
const MAX_PROBLEM_LINES: usize = 4;
/// How long one probe of a tracker or peer may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(8);

/// Where the status goes: a redrawn line on a terminal, else plain lines.
pub struct Display {
    bar: Option<ProgressBar>,
    last_plain: Option<Instant>,
    plain_every: Duration,
    last_text: String,
}

impl Display {
    /// A live line when stderr is a terminal, plain lines every
    /// `plain_every` otherwise.
    pub fn new(plain_every: Duration) -> Display {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            // Lines are cut to the terminal's width in `show`: `wide_msg`
            // would cut the whole block as one line.
            if let Ok(style) = ProgressStyle::with_template("{msg}") {
                bar.set_style(style);
            }
            bar
        });
        Display {
            bar,
            last_plain: None,
            plain_every,
            last_text: String::new(),
        }
    }

    /// Shows `live` on a terminal; otherwise prints `plain` if `plain_every`
    /// has passed since the last plain line, or at once if `changed` says
    /// it differs in a way worth telling.
    fn show(&mut self, live: String, plain: impl FnOnce() -> String, changed: Option<&str>) {
        match &self.bar {
            Some(bar) => {
                let width = console::Term::stderr()
                    .size_checked()
                    .map_or(80, |(_, cols)| usize::from(cols));
                let lines: Vec<String> = live
                    .lines()
                    .map(|l| console::truncate_str(l, width.saturating_sub(1), "…").into_owned())
                    .collect();
                bar.set_message(lines.join("\n"));
            }
            None => {
                let since = self.last_plain.map(|t| t.elapsed());
                let due = since.is_none_or(|s| s >= self.plain_every);
                let news = changed.is_some_and(|c| c != self.last_text)
                    && since.is_none_or(|s| s >= PLAIN_GAP);
                if due || news {
                    if let Some(c) = changed {
                        c.clone_into(&mut self.last_text);
                    }
                    self.last_plain = Some(Instant::now());
                    eprintln!("{}", plain());
                }
            }
        }
    }

    /// Removes the live line (plain lines stay).
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Samples a torrent's counters into rate meters.
struct Meters {
    start: Instant,
    down: RateMeter,
    up: RateMeter,
}

impl Meters {
    fn new() -> Meters {
        Meters {
            start: Instant::now(),
            down: RateMeter::default(),
            up: RateMeter::default(),
        }
    }

    fn sample(&mut self, handle: &TorrentHandle, dht: bool) -> Snapshot {
        let stats = handle.stats();
        let now = self.start.elapsed();
        self.down.record(now, stats.downloaded);
        self.up.record(now, stats.uploaded);
        let stalled = self.down.full() && self.down.rate().is_some_and(|r| r < 1.0);
        // A web seed that is sending is a source, whatever the peers say.
        let web_sending = handle.web_seeds().iter().any(|w| w.sending > 0);
        let obstacle = if now >= GRACE && !web_sending {
            status::no_peers_reason(stats.peers, &handle.announces().0, dht)
                .or_else(|| status::stall_reason(&stats, stalled))
        } else {
            None
        };
        Snapshot {
            stats,
            down: self.down.rate(),
            up: self.up.rate(),
            settled: self.down.full(),
            obstacle,
            swarm: None,
            known_peers: handle.known_peers(),
        }
    }
}

/// Shows a download's progress until `handle` completes.
pub async fn until_complete(handle: &TorrentHandle, dht: bool) {
    let mut display = Display::new(PLAIN_EVERY);
    let mut meters = Meters::new();
    let mut tick = tokio::time::interval(TICK);
    let swarm: Arc<Mutex<Option<SwarmCounts>>> = Arc::default();
    let scraping = scrape_swarm(handle, Arc::clone(&swarm));
    tokio::pin!(scraping);
    // It ends at once without trackers, and must not be polled again then.
    let mut scraping_ended = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = &mut scraping, if !scraping_ended => scraping_ended = true,
            () = handle.wait_complete() => break,
        }
        let mut snap = meters.sample(handle, dht);
        snap.swarm = *swarm.lock().unwrap_or_else(PoisonError::into_inner);
        let obstacle = snap.obstacle.clone().unwrap_or_default();
        display.show(snap.live_line(), || snap.plain_line(), Some(&obstacle));
    }
    display.clear();
}

/// When the trackers are asked for the swarm's size: soon after the start
/// (a first announce has then told them about us and others), again a
/// little later, then as seldom as clients usually scrape.
const SCRAPE_AFTER: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(15)];
/// How often the trackers are asked after that.
const SCRAPE_EVERY: Duration = Duration::from_secs(300);

/// Keeps `swarm` at the largest swarm the torrent's trackers report (they
/// usually see the same swarm; the largest view is the least stale);
/// returns at once for a torrent without trackers.
async fn scrape_swarm(handle: &TorrentHandle, swarm: Arc<Mutex<Option<SwarmCounts>>>) {
    let tiers = handle.torrent().trackers.clone();
    if tiers.is_empty() {
        return;
    }
    let info_hash = handle.info_hash();
    for wait in SCRAPE_AFTER
        .into_iter()
        .chain(std::iter::repeat(SCRAPE_EVERY))
    {
        tokio::time::sleep(wait).await;
        let asked =
            tokio::time::timeout(PROBE_TIMEOUT * 2, shoal_session::scrape(&tiers, info_hash));
        let best = asked
            .await
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| r.counts.ok())
            .max_by_key(|c| c.seeders.saturating_add(c.leechers));
        if best.is_some() {
            *swarm.lock().unwrap_or_else(PoisonError::into_inner) = best;
        }
    }
}

/// Shows a seeder's rate, peers, uploaded bytes and ratio until the
/// future this runs beside ends (the caller selects on both).
pub async fn seeding(handle: &TorrentHandle) {
    let mut display = Display::new(QUIET_PLAIN_EVERY);
    let mut meters = Meters::new();
    let mut tick = tokio::time::interval(TICK);
    loop {
        tick.tick().await;
        let snap = meters.sample(handle, false);
        let line = status::seed_line(&snap.stats, snap.up);
        // Plain lines when the peer count changes, else once a minute.
        let peers = snap.stats.peers.to_string();
        display.show(line.clone(), || line, Some(&peers));
    }
}

/// What a seeding run did, printed when it ends.
pub fn seed_summary(name: &str, handle: &TorrentHandle, started: Instant) -> String {
    let stats = handle.stats();
    format!(
        "{name}: seeded for {}, uploaded {} (ratio {:.2})",
        units::duration(started.elapsed().as_secs()),
        units::bytes(stats.uploaded),
        status::ratio(&stats)
    )
}

/// Shows how the fetch of a magnet link's metadata goes: time spent, DHT
/// size, peers asked of those known, pieces received (from the session's
/// `progress`) and, when the metadata is slow to come, what is wrong with
/// the link's sources (trackers that fail, peers that cannot be reached).
/// Runs until dropped (the caller selects on the fetch).
pub async fn fetching_metadata(
    session: &Session,
    magnet: &Magnet,
    peers: &[SocketAddr],
    shown: &str,
    progress: &tokio::sync::watch::Receiver<shoal_session::MetadataProgress>,
) {
    let problems: Arc<Mutex<Vec<String>>> = Arc::default();
    let wire_id = magnet.info_hashes.wire_id().unwrap_or_default();
    let probe = probe_sources(magnet, peers, wire_id, Arc::clone(&problems));
    let mut display = Display::new(PLAIN_EVERY);
    let started = Instant::now();
    let mut tick = tokio::time::interval(TICK);
    let no_sources = magnet.trackers.is_empty()
        && magnet.peers.is_empty()
        && peers.is_empty()
        && session.dht().is_none();
    let show = async {
        loop {
            tick.tick().await;
            let mut parts = Vec::new();
            if let Some(dht) = session.dht() {
                if let Some(stats) = dht.stats().await {
                    let nodes = stats.node.nodes + stats.node.nodes6;
                    parts.push(format!("DHT {}", units::count(nodes, "node")));
                }
            }
            if no_sources {
                parts.push("no tracker, peer or DHT to ask".to_owned());
            } else {
                parts.extend(status::metadata_progress(&progress.borrow()));
            }
            // Sources get a moment before their silence counts as a problem.
            let problems: Vec<String> = if started.elapsed() >= GRACE {
                problems
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            } else {
                Vec::new()
            };
            let elapsed = units::duration(started.elapsed().as_secs());
            // One problem a line on a terminal, a few at most.
            let mut live = format!(
                "fetching metadata of {shown}: {elapsed}  {}",
                parts.join("  ")
            );
            for problem in problems.iter().take(MAX_PROBLEM_LINES) {
                live.push_str("\n  ");
                live.push_str(problem);
            }
            if problems.len() > MAX_PROBLEM_LINES {
                let more = problems.len() - MAX_PROBLEM_LINES;
                live.push_str(&format!("\n  ({more} more)"));
            }
            if display.bar.is_none() && started.elapsed() < GRACE {
                continue;
            }
            parts.extend(problems.iter().cloned());
            let plain = || {
                format!(
                    "still fetching metadata of {shown} ({elapsed}): {}",
                    parts.join("; ")
                )
            };
            display.show(live, plain, Some(&problems.join("; ")));
        }
    };
    tokio::select! {
        () = show => {}
        () = probe => {}
    }
}

/// Asks each tracker of the link (a scrape) and tries each named peer
/// (a TCP connect) now and every [`PROBE_EVERY`], keeping the failures in
/// `problems`.
async fn probe_sources(
    magnet: &Magnet,
    extra: &[SocketAddr],
    info_hash: [u8; 20],
    problems: Arc<Mutex<Vec<String>>>,
) {
    let mut peers: Vec<SocketAddr> = extra.to_vec();
    for peer in &magnet.peers {
        if let Ok(addrs) = tokio::net::lookup_host(peer.as_str()).await {
            peers.extend(addrs);
        }
    }
    loop {
        let mut found = Vec::new();
        for url in &magnet.trackers {
            let tiers = [vec![url.clone()]];
            let scrape =
                tokio::time::timeout(PROBE_TIMEOUT, shoal_session::scrape(&tiers, info_hash));
            match scrape.await {
                Ok(results) => {
                    for r in results {
                        if let Err(e) = r.counts {
                            found.push(format!("tracker {url} failed: {e}"));
                        }
                    }
                }
                Err(_) => found.push(format!(
                    "tracker {url}: no answer in {} s",
                    PROBE_TIMEOUT.as_secs()
                )),
            }
        }
        for addr in &peers {
            let connect = tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(addr));
            match connect.await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => found.push(format!("peer {addr} unreachable: {e}")),
                Err(_) => found.push(format!("peer {addr} unreachable: no answer")),
            }
        }
        *problems.lock().unwrap_or_else(PoisonError::into_inner) = found;
        tokio::time::sleep(PROBE_EVERY).await;
    }
}
