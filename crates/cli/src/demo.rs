//! `shoal demo`: a whole swarm on 127.0.0.1 — a tracker, a DHT, one seeder
//! and several leechers that trade with each other — with no network and no
//! arguments, ending in a verified summary. Half the leechers start from
//! the .torrent (peers from the tracker and the DHT); the others from a bare
//! magnet link, so they find the swarm through the DHT alone and fetch the
//! metadata from their peers.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use shoal_metainfo::Magnet;
use shoal_session::{DhtConfig, Session, SessionConfig, TorrentHandle, TorrentOptions};
use shoal_storage::{FileStore, PieceState, check_options, check_pieces};

use crate::{create, runtime, units};

/// Arguments of `shoal demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Content size in MiB.
    #[arg(long, default_value_t = 64)]
    size_mib: u64,
    /// Number of leechers.
    #[arg(long, default_value_t = 4)]
    leechers: usize,
    /// Keep the files in this directory instead of a temporary one.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Content files the demo generates.
const FILES: usize = 4;
/// How long the demo may take before it gives up.
const DEADLINE: Duration = Duration::from_secs(300);

/// Stops the tracker process when the demo ends, however it ends.
struct Tracker(Child);

impl Drop for Tracker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `shoal demo`.
pub fn run(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    if args.leechers == 0 || args.size_mib == 0 {
        bail!("the demo needs at least one leecher and 1 MiB of content");
    }
    let temp;
    let root = match &args.dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let seed_dir = root.join("seeder");
    let content = seed_dir.join("demo-content");
    eprintln!(
        "generating {} MiB of content in {FILES} files ...",
        args.size_mib
    );
    write_content(&content, args.size_mib << 20)?;

    let (tracker, announce) = start_tracker()?;
    eprintln!("tracker: {announce}");
    let made = create::make(&content, None, false, 0, |spec| {
        spec.trackers = vec![vec![announce.clone()]];
        spec.comment = Some("shoal demo".into());
    })?;
    eprintln!(
        "torrent: {} pieces of {}, info-hash {}",
        made.torrent.info.num_pieces(),
        units::bytes(made.torrent.info.piece_length),
        made.torrent
            .info_hashes
            .v1
            .map(|h| h.to_hex())
            .unwrap_or_default()
    );

    let rt = runtime::build()?;
    let result = rt.block_on(swarm(&root, &seed_dir, made.torrent, args.leechers));
    drop(tracker);
    result
}

async fn swarm(
    root: &Path,
    seed_dir: &Path,
    torrent: shoal_metainfo::Torrent,
    leechers: usize,
) -> anyhow::Result<ExitCode> {
    let localhost: std::net::SocketAddr = "127.0.0.1:0".parse()?;
    // The seeder's DHT node has no one to bootstrap from: it is the first
    // node of the demo's DHT, and every leecher bootstraps from it.
    let mut config = SessionConfig::new(localhost, root.join("state/seeder"));
    config.dht = Some(DhtConfig::new(localhost));
    let seeder = Session::bind(config).await?;
    let dht_root = seeder
        .dht()
        .map(|d| d.local_addr())
        .context("the seeder's DHT node did not start")?;
    let seed = seeder
        .add_torrent(
            torrent.clone(),
            seed_dir.to_path_buf(),
            TorrentOptions::default(),
        )
        .await?;
    eprintln!("seeder on {}, DHT node on {dht_root}", seeder.local_addr());
    // A magnet link with no tracker and no peer address: only the DHT helps.
    let bare_magnet = Magnet {
        info_hashes: torrent.info_hashes,
        name: Some(torrent.info.name.clone()),
        ..Magnet::default()
    };

    let started = Instant::now();
    let mut peers: Vec<(Session, TorrentHandle, PathBuf)> = Vec::new();
    for n in 1..=leechers {
        let dir = root.join(format!("leecher{n}"));
        let mut config = SessionConfig::new(localhost, root.join(format!("state/leecher{n}")));
        let mut dht = DhtConfig::new(localhost);
        dht.bootstrap = vec![dht_root];
        config.dht = Some(dht);
        let session = Session::bind(config).await?;
        let from_magnet = n > leechers / 2;
        let (torrent, peers_found) = if from_magnet {
            let fetched = session.fetch_metadata(&bare_magnet, &[]).await?;
            eprintln!(
                "leecher{n}: magnet link, metadata from {} peer(s) found through the DHT",
                fetched.peers.len()
            );
            (fetched.torrent, fetched.peers)
        } else {
            (torrent.clone(), Vec::new())
        };
        let options = TorrentOptions {
            peers: peers_found,
            ..TorrentOptions::default()
        };
        let handle = session.add_torrent(torrent, dir.clone(), options).await?;
        peers.push((session, handle, dir));
    }

    let bars = MultiProgress::with_draw_target(if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let style =
        ProgressStyle::with_template("{prefix:>10} [{bar:40}] {bytes}/{total_bytes} {msg}")?
            .progress_chars("=> ");
    let handles: Vec<(String, TorrentHandle, ProgressBar)> = peers
        .iter()
        .enumerate()
        .map(|(i, (session, handle, _))| {
            let bar = bars.add(ProgressBar::new(handle.stats().total_size));
            bar.set_style(style.clone());
            bar.set_prefix(format!("leecher{}", i + 1));
            bar.set_message(format!("on {}", session.local_addr()));
            (format!("leecher{}", i + 1), handle.clone(), bar)
        })
        .collect();
    let all_done = async {
        for (_, handle, _) in &handles {
            handle.wait_complete().await;
        }
    };
    tokio::pin!(all_done);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let deadline = tokio::time::sleep(DEADLINE);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut all_done => break,
            () = &mut deadline => bail!("the swarm did not finish within {} s", DEADLINE.as_secs()),
            _ = tick.tick() => {
                for (_, handle, bar) in &handles {
                    let s = handle.stats();
                    bar.set_position(s.total_size - s.bytes_left);
                }
            }
        }
    }
    let elapsed = started.elapsed();
    for (_, _, bar) in &handles {
        bar.finish_and_clear();
    }

    // Everyone verifies their copy from disk, independently of the engine.
    let mut summary = String::new();
    let total = torrent.info.total_length();
    let torrent = Arc::new(torrent);
    summary.push_str(&format!(
        "\n{} got {} each in {:.2} s ({} in total)\n\n{:>10} {:>12} {:>12}  copy\n",
        units::count(leechers, "leecher"),
        units::bytes(total),
        elapsed.as_secs_f64(),
        units::rate(total as f64 * leechers as f64 / elapsed.as_secs_f64().max(1e-3)),
        "peer",
        "downloaded",
        "uploaded"
    ));
    let s = seed.stats();
    summary.push_str(&format!(
        "{:>10} {:>12} {:>12}  seeds the original\n",
        "seeder",
        units::bytes(s.downloaded),
        units::bytes(s.uploaded)
    ));
    let mut all_good = true;
    for ((name, handle, _), (_, _, dir)) in handles.iter().zip(&peers) {
        let s = handle.stats();
        let good = verified(&torrent, dir)?;
        all_good &= good;
        summary.push_str(&format!(
            "{name:>10} {:>12} {:>12}  {}\n",
            units::bytes(s.downloaded),
            units::bytes(s.uploaded),
            if good { "verified" } else { "DAMAGED" }
        ));
    }
    summary.push_str(if all_good {
        "\nevery copy verified against the torrent's piece hashes\n"
    } else {
        "\nsome copies failed verification\n"
    });
    std::io::stdout().write_all(summary.as_bytes())?;
    for (session, _, _) in &peers {
        session.shutdown().await;
    }
    seeder.shutdown().await;
    Ok(if all_good {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Hashes a leecher's copy from disk.
fn verified(torrent: &shoal_metainfo::Torrent, dir: &Path) -> anyhow::Result<bool> {
    let store = FileStore::new(dir, Arc::new(torrent.info.clone()));
    let states = check_pieces(torrent, &store.segments(), &check_options(torrent), &|_| {})?;
    Ok(states.iter().all(|s| *s == PieceState::Good))
}

/// Starts `shoal tracker` on a free loopback port and returns its announce URL.
fn start_tracker() -> anyhow::Result<(Tracker, String)> {
    let exe = std::env::current_exe().context("locating the shoal binary")?;
    let mut child = Command::new(exe)
        .args([
            "tracker",
            "--http",
            "127.0.0.1:0",
            "--no-udp",
            "--log-level",
            "warn",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the tracker")?;
    let stdout = child.stdout.take().context("tracker stdout")?;
    let tracker = Tracker(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let value: serde_json::Value = serde_json::from_str(&line).context("tracker start line")?;
    let http = value
        .get("http")
        .and_then(serde_json::Value::as_str)
        .context("tracker has no HTTP address")?;
    Ok((tracker, format!("http://{http}/announce")))
}

/// Writes `total` bytes of pseudo-random content in [`FILES`] files.
fn write_content(dir: &Path, total: u64) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut buf = vec![0u8; 1 << 20];
    for i in 0..FILES as u64 {
        // Uneven sizes, so pieces straddle file boundaries.
        let size = if i + 1 == FILES as u64 {
            total - (total / FILES as u64 + 12_345) * (FILES as u64 - 1)
        } else {
            total / FILES as u64 + 12_345
        };
        let mut file =
            std::io::BufWriter::new(std::fs::File::create(dir.join(format!("part{i}.bin")))?);
        let mut left = size;
        while left > 0 {
            for chunk in buf.chunks_exact_mut(8) {
                // xorshift64*: fast, and plenty random for test content.
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                chunk.copy_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
            }
            let n = left.min(buf.len() as u64) as usize;
            file.write_all(buf.get(..n).unwrap_or_default())?;
            left -= n as u64;
        }
        file.flush()?;
    }
    Ok(())
}
