//! Start-up, housekeeping and shutdown: binds the sockets, runs the UDP
//! workers on their own threads and HTTP on a small tokio runtime, reloads
//! access lists on SIGHUP and saves the snapshot on SIGINT/SIGTERM.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

use crate::access::Access;
use crate::config::{Config, TrackerArgs};
use crate::state::Shared;
use crate::store::snapshot::write_atomic;

/// Runs the tracker until SIGINT or SIGTERM. Blocking; builds its own runtime.
pub fn run(args: TrackerArgs) -> anyhow::Result<()> {
    let cfg = Config::from_args(&args)?;
    init_logging(&cfg.log_level);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("tracker-http")
        .build()
        .context("building the tokio runtime")?;
    rt.block_on(serve(cfg))
}

fn init_logging(level: &str) {
    let level = level
        .parse::<tracing::Level>()
        .unwrap_or(tracing::Level::INFO);
    // The CLI may already have installed a subscriber; then keep it.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_max_level(level)
        .try_init();
}

fn load_access(cfg: &Config) -> anyhow::Result<Access> {
    Ok(Access::load(
        cfg.whitelist.as_deref(),
        cfg.passkeys.as_deref(),
    )?)
}

async fn serve(cfg: Config) -> anyhow::Result<()> {
    let access = load_access(&cfg)?;
    let shared = Arc::new(Shared::new(cfg.clone(), access)?);
    if let Some(path) = &cfg.snapshot {
        match std::fs::read(path) {
            Ok(bytes) => {
                let n = shared
                    .store()
                    .restore(&bytes, shared.now())
                    .with_context(|| format!("snapshot {}", path.display()))?;
                tracing::info!(peers = n, path = %path.display(), "snapshot restored");
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("reading snapshot {}", path.display()));
            }
        }
    }

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut http_addr = None;
    let mut http_task = None;
    if let Some(addr) = cfg.http {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding HTTP {addr}"))?;
        http_addr = Some(listener.local_addr()?);
        http_task = Some(tokio::spawn(crate::http::serve(
            listener,
            Arc::clone(&shared),
            stop_rx.clone(),
        )));
    }
    let mut udp_addr: Option<SocketAddr> = None;
    let mut workers = Vec::new();
    if let Some(addr) = cfg.udp {
        let socks = bind_udp(addr, cfg.udp_threads, cfg.udp_recv_buffer)?;
        udp_addr = socks.first().map(UdpSocket::local_addr).transpose()?;
        for (i, sock) in socks.into_iter().enumerate() {
            let shared = Arc::clone(&shared);
            workers.push(
                std::thread::Builder::new()
                    .name(format!("tracker-udp-{i}"))
                    .spawn(move || {
                        if let Err(e) = crate::udp_io::run_worker(sock, &shared, i) {
                            tracing::error!("udp worker: {e}");
                        }
                    })?,
            );
        }
    }
    // Handlers go in before the "listening" line: whoever reads it may signal at once.
    let mut hup = signal(SignalKind::hangup())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    // One machine-readable line so scripts and tests learn the bound ports.
    println!(
        "{{\"event\":\"listening\",\"http\":{},\"udp\":{},\"pid\":{}}}",
        http_addr.map_or("null".into(), |a| format!("\"{a}\"")),
        udp_addr.map_or("null".into(), |a| format!("\"{a}\"")),
        std::process::id()
    );
    tracing::info!(http = ?http_addr, udp = ?udp_addr, "tracker listening");

    let housekeeping = tokio::spawn(housekeeping(Arc::clone(&shared), stop_rx.clone()));
    loop {
        tokio::select! {
            _ = hup.recv() => match load_access(&shared.cfg) {
                Ok(a) => {
                    let (wl, pk) = a.sizes();
                    shared.set_access(a);
                    tracing::info!(whitelist = ?wl, passkeys = ?pk, "access lists reloaded");
                }
                Err(e) => tracing::error!("reload failed, keeping the old lists: {e:#}"),
            },
            _ = int.recv() => break,
            _ = term.recv() => break,
        }
    }
    tracing::info!("shutting down");
    shared.shutdown.store(true, Ordering::Relaxed);
    let _ = stop_tx.send(true);
    if let Some(t) = http_task {
        let _ = t.await;
    }
    let _ = housekeeping.await;
    for w in workers {
        let _ = w.join();
    }
    save_snapshot(&shared).await;
    Ok(())
}

/// One socket per worker on the same address. With several workers each has
/// its own `SO_REUSEPORT` socket: the kernel spreads clients over them by
/// address, and no two workers contend on one socket's queue or lock. The
/// first socket picks the port (the address may say 0); the others join it.
fn bind_udp(
    addr: SocketAddr,
    workers: usize,
    recv_buffer: usize,
) -> anyhow::Result<Vec<UdpSocket>> {
    use socket2::{Domain, Protocol, Socket, Type};
    let mut socks: Vec<UdpSocket> = Vec::with_capacity(workers);
    let mut at = addr;
    for _ in 0..workers.max(1) {
        let s = Socket::new(Domain::for_address(at), Type::DGRAM, Some(Protocol::UDP))
            .context("creating UDP socket")?;
        if workers > 1 {
            // Only this user's sockets may join the group (kernel rule), so
            // another account cannot steal a share of the traffic.
            s.set_reuse_port(true).context("SO_REUSEPORT")?;
        }
        s.bind(&at.into())
            .with_context(|| format!("binding UDP {at}"))?;
        let s = UdpSocket::from(s);
        crate::udp_io::set_recv_buffer(&s, recv_buffer);
        at = s.local_addr()?;
        socks.push(s);
    }
    Ok(socks)
}

async fn save_snapshot(shared: &Arc<Shared>) {
    let Some(path) = shared.cfg.snapshot.clone() else {
        return;
    };
    let s = Arc::clone(shared);
    let r = tokio::task::spawn_blocking(move || {
        let bytes = s.store().snapshot(s.now());
        write_atomic(&path, &bytes).map(|()| (bytes.len(), path))
    })
    .await;
    match r {
        Ok(Ok((n, path))) => tracing::info!(bytes = n, path = %path.display(), "snapshot saved"),
        Ok(Err(e)) => tracing::error!("saving snapshot: {e}"),
        Err(e) => tracing::error!("snapshot task: {e}"),
    }
}

/// Expires peers and writes periodic snapshots.
async fn housekeeping(shared: Arc<Shared>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut clean = tokio::time::interval(Duration::from_secs(shared.cfg.cleanup_interval.max(1)));
    let snap_every = shared.cfg.snapshot_interval;
    let mut snap = tokio::time::interval(Duration::from_secs(snap_every.max(1)));
    clean.tick().await;
    snap.tick().await;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = clean.tick() => {
                let s = Arc::clone(&shared);
                let removed = tokio::task::spawn_blocking(move || s.store().expire(s.now())).await.unwrap_or(0);
                tracing::debug!(removed, "expired peers");
            }
            _ = snap.tick(), if snap_every > 0 && shared.cfg.snapshot.is_some() => save_snapshot(&shared).await,
        }
    }
}
