//! Prometheus metrics at `/metrics` (text exposition format 0.0.4).

use std::fmt::Write;

use hyper::{Response, StatusCode};

use crate::table::Table;
use crate::view::Status;
use crate::web::{Body, Ctx, response};

/// Renders the metrics.
pub(crate) fn handle(ctx: &Ctx) -> Response<Body> {
    response(
        StatusCode::OK,
        "text/plain; version=0.0.4; charset=utf-8",
        render(&ctx.daemon),
    )
}

fn render(d: &crate::Daemon) -> String {
    let table = d.table();
    let views: Vec<&crate::TorrentView> = table.rows.iter().map(|r| &r.view).collect();
    let record = d.daemon_record();
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    gauge(
        "shoal_download_rate_bytes",
        "Payload download rate over all torrents, bytes per second.",
        "gauge",
        views
            .iter()
            .map(|v| v.download_rate)
            .sum::<u64>()
            .to_string(),
    );
    gauge(
        "shoal_upload_rate_bytes",
        "Payload upload rate over all torrents, bytes per second.",
        "gauge",
        views.iter().map(|v| v.upload_rate).sum::<u64>().to_string(),
    );
    gauge(
        "shoal_dht_nodes",
        "Nodes in the DHT routing tables, both address families (0 without a DHT).",
        "gauge",
        d.dht_nodes().to_string(),
    );
    gauge(
        "shoal_dht_nodes_ipv6",
        "Of shoal_dht_nodes, those in the IPv6 routing table (BEP 32).",
        "gauge",
        d.dht_nodes6().to_string(),
    );
    let (wakeups, runs) = d.session().timer_counts();
    gauge(
        "shoal_timer_wakeups_total",
        "Wake-ups of the session's timer task (one task serves every torrent).",
        "counter",
        wakeups.to_string(),
    );
    gauge(
        "shoal_torrent_timer_runs_total",
        "Torrent timers run by the timer task (none for a torrent without peers and nothing due).",
        "counter",
        runs.to_string(),
    );
    let counts = d.sampler_counts();
    let count = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    gauge(
        "shoal_sampler_rounds_total",
        "Rounds of the daemon's once-a-second sampler.",
        "counter",
        count(&counts.rounds).to_string(),
    );
    gauge(
        "shoal_sampler_torrents_total",
        "Torrents sampled (rates, totals, limits); quiet ones without peers are sampled once a minute.",
        "counter",
        count(&counts.sampled).to_string(),
    );
    gauge(
        "shoal_sampler_visits_total",
        "Torrent entries the sampler looked at: the active ones each round, the others at a sweep (once a minute or after a change), parked ones only after a change.",
        "counter",
        count(&counts.visited).to_string(),
    );
    gauge(
        "shoal_sampler_parked",
        "Running torrents the sampler leaves alone until they wake or the daemon's state changes: quiet, without seed limits or peers, their engine asleep.",
        "gauge",
        count(&counts.parked).to_string(),
    );
    gauge(
        "shoal_sampler_queue_plans_total",
        "Times the sampler planned the queues: with a queue limit set, after something changed, and once a minute.",
        "counter",
        count(&counts.plans).to_string(),
    );
    let dir_syncs = shoal_storage::dir_syncs();
    gauge(
        "shoal_dir_fsyncs_total",
        "Directory fsyncs (the costly step of a crash-safe save); batches share one.",
        "counter",
        dir_syncs.to_string(),
    );
    let mapping = d.session().port_mapping();
    gauge(
        "shoal_port_mapped",
        "1 when the router maps the peer port (PCP, NAT-PMP or UPnP), else 0.",
        "gauge",
        u8::from(mapping.as_ref().is_some_and(|s| s.is_mapped())).to_string(),
    );
    gauge(
        "shoal_peers",
        "Connected peers over all torrents.",
        "gauge",
        views.iter().map(|v| v.peers).sum::<usize>().to_string(),
    );
    gauge(
        "shoal_downloaded_bytes_total",
        "Payload bytes received, over every run of the daemon.",
        "counter",
        record.downloaded.to_string(),
    );
    gauge(
        "shoal_uploaded_bytes_total",
        "Payload bytes sent, over every run of the daemon.",
        "counter",
        record.uploaded.to_string(),
    );
    gauge(
        "shoal_left_bytes",
        "Wanted bytes still missing over all torrents.",
        "gauge",
        views
            .iter()
            .map(|v| v.left_until_done)
            .sum::<u64>()
            .to_string(),
    );
    gauge(
        "shoal_session_torrents",
        "Torrents in the session, trading: a start shows as seeding or downloading at once, while its resume data may still be loading.",
        "gauge",
        table
            .rows
            .iter()
            .filter(|r| r.snap.handle.is_some())
            .count()
            .to_string(),
    );
    gauge(
        "shoal_engines_asleep",
        "Torrents whose engine sleeps: complete, and without peers for engine_sleep_after seconds.",
        "gauge",
        table
            .rows
            .iter()
            .filter(|r| r.snap.handle.as_ref().is_some_and(|h| h.engine_asleep()))
            .count()
            .to_string(),
    );
    let _ = writeln!(
        out,
        "# HELP shoal_external_address Our external address, labelled (BEP 42: voted by DHT nodes, peers and the gateway); no sample until known.\n# TYPE shoal_external_address gauge"
    );
    if let Some(ip) = d.session().external_ip() {
        let _ = writeln!(out, "shoal_external_address{{ip=\"{ip}\"}} 1");
    }
    let _ = writeln!(
        out,
        "# HELP shoal_torrents Torrents by status.\n# TYPE shoal_torrents gauge"
    );
    for (status, label) in [
        (Status::Stopped, "stopped"),
        (Status::Queued, "queued"),
        (Status::QueuedForCheck, "queued_for_check"),
        (Status::Checking, "checking"),
        (Status::FetchingMetadata, "fetching_metadata"),
        (Status::Downloading, "downloading"),
        (Status::Seeding, "seeding"),
        (Status::Error, "error"),
    ] {
        let n = views.iter().filter(|v| v.status == status).count();
        let _ = writeln!(out, "shoal_torrents{{status=\"{label}\"}} {n}");
    }
    peers_by_encryption(&table, &mut out);
    web_seeds(&table, &mut out);
    let _ = writeln!(
        out,
        "# HELP shoal_hash_failures_total Pieces that failed their hash check, over every run.\n\
         # TYPE shoal_hash_failures_total counter\n\
         shoal_hash_failures_total {}",
        views.iter().map(|v| v.hash_failures).sum::<u64>()
    );
    let _ = writeln!(
        out,
        "# HELP shoal_torrent_hash_failures_total Pieces of one torrent that failed their hash check.\n\
         # TYPE shoal_torrent_hash_failures_total counter"
    );
    for v in views {
        // Info-hashes are hex: nothing to escape in the label.
        let _ = writeln!(
            out,
            "shoal_torrent_hash_failures_total{{info_hash=\"{}\"}} {}",
            v.info_hash, v.hash_failures
        );
    }
    out
}

/// Connected peers by how their connection is carried: by encryption,
/// `rc4` (MSE with RC4), `mse_plaintext` (MSE, then plaintext) and
/// `plaintext` (no MSE); by transport, `tcp` and `utp`. Only torrents the
/// table shows with peers are asked for theirs: a seedbox's idle thousands
/// cost nothing. Like `shoal_peers`, it counts as of the last once-a-second
/// sample (a peer that came since shows at the next).
fn peers_by_encryption(table: &Table, out: &mut String) {
    let (mut rc4, mut mse, mut plain) = (0usize, 0usize, 0usize);
    let (mut tcp, mut utp) = (0usize, 0usize);
    let busy = table.rows.iter().filter(|r| r.view.peers > 0);
    for row in busy {
        for p in row.snap.handle.iter().flat_map(|h| h.peers()) {
            match (p.encrypted, p.mse) {
                (true, _) => rc4 += 1,
                (false, true) => mse += 1,
                (false, false) => plain += 1,
            }
            match p.transport {
                shoal_session::Transport::Tcp => tcp += 1,
                shoal_session::Transport::Utp => utp += 1,
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP shoal_peers_by_encryption Connected peers by encryption.\n\
         # TYPE shoal_peers_by_encryption gauge\n\
         shoal_peers_by_encryption{{encryption=\"rc4\"}} {rc4}\n\
         shoal_peers_by_encryption{{encryption=\"mse_plaintext\"}} {mse}\n\
         shoal_peers_by_encryption{{encryption=\"plaintext\"}} {plain}\n\
         # HELP shoal_peers_by_transport Connected peers by transport.\n\
         # TYPE shoal_peers_by_transport gauge\n\
         shoal_peers_by_transport{{transport=\"tcp\"}} {tcp}\n\
         shoal_peers_by_transport{{transport=\"utp\"}} {utp}"
    );
}

/// Web seeds of running torrents by state (`sending`: a request in flight;
/// `banned`: sent data that failed a check; `failing`: its last
/// request failed; `idle`: none of those), and the bytes they delivered.
/// Only torrents with web seeds are asked.
fn web_seeds(table: &Table, out: &mut String) {
    let (mut sending, mut banned, mut failing, mut idle, mut bytes) = (0, 0, 0, 0, 0u64);
    let seeded = table.rows.iter().filter(|r| {
        let torrent = r.snap.torrent.as_deref();
        torrent.is_none_or(|t| !t.web_seeds.is_empty())
    });
    for row in seeded {
        for s in row.snap.handle.iter().flat_map(|h| h.web_seeds()) {
            bytes += s.downloaded;
            match (s.banned, s.sending > 0, s.failures > 0) {
                (true, _, _) => banned += 1,
                (false, true, _) => sending += 1,
                (false, false, true) => failing += 1,
                (false, false, false) => idle += 1,
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP shoal_web_seeds Web seeds (BEP 19) of running torrents by state.\n\
         # TYPE shoal_web_seeds gauge\n\
         shoal_web_seeds{{state=\"sending\"}} {sending}\n\
         shoal_web_seeds{{state=\"idle\"}} {idle}\n\
         shoal_web_seeds{{state=\"failing\"}} {failing}\n\
         shoal_web_seeds{{state=\"banned\"}} {banned}\n\
         # HELP shoal_web_seed_downloaded_bytes Payload bytes web seeds delivered to the running torrents since they started.\n\
         # TYPE shoal_web_seed_downloaded_bytes gauge\n\
         shoal_web_seed_downloaded_bytes {bytes}"
    );
}
