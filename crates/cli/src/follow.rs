//! BEP 46 subscriptions for `shoal download`: a `urn:btpk` link is resolved
//! through the DHT to the info-hash its publisher's mutable item names,
//! and while seeding the item is fetched again every interval; a higher
//! `seq` naming another torrent replaces the running one in the same
//! folder. The new torrent's start-up check finds the unchanged files on
//! disk, so only changed pieces are downloaded.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use shoal_metainfo::{KeyMagnet, Magnet};
use shoal_session::{KeyVersion, Session, TorrentHandle, TorrentOptions};

use crate::fetch::{fetch, report_complete};
use crate::{live, runtime};

/// A link being followed, and the version we hold.
pub struct Following {
    link: KeyMagnet,
    version: KeyVersion,
}

fn short(link: &KeyMagnet) -> String {
    let hex = shoal_metainfo::infohash::hex(&link.public_key);
    hex.get(..16).unwrap_or(&hex).to_owned()
}

/// Resolves `link` to the magnet link of its current torrent, retrying
/// (2, 4, … 30 s) until the publisher's item is found.
pub async fn resolve(session: &Session, link: KeyMagnet) -> anyhow::Result<(Following, Magnet)> {
    let dht = session
        .dht()
        .context("a urn:btpk link is resolved through the DHT, which --no-dht turns off")?;
    eprintln!("looking up key {} in the DHT ...", short(&link));
    let version = dht
        .resolve_key(&link, |err, wait| {
            eprintln!("key {}: {err}; retrying in {wait:?}", short(&link));
        })
        .await;
    let KeyVersion { seq, info_hash } = version;
    eprintln!("key {} seq {seq}: info-hash {info_hash}", short(&link));
    let magnet = link.resolved(info_hash);
    Ok((Following { link, version }, magnet))
}

/// Seeds `handle` and checks the link every `every`; a newer version is
/// fetched into `dir` in place of the old one. Ends on Ctrl-C or SIGTERM.
pub async fn seed_and_follow(
    session: &Session,
    mut following: Following,
    mut handle: TorrentHandle,
    dir: &Path,
    every: Duration,
) -> anyhow::Result<ExitCode> {
    let dht = session.dht().context("following needs the DHT")?;
    eprintln!(
        "seeding on {} and following key {} every {} s (Ctrl-C to stop)",
        crate::output::listening_on(session),
        short(&following.link),
        every.as_secs()
    );
    loop {
        tokio::select! {
            code = runtime::stop_signal() => {
                return Ok(ExitCode::from(code.context("waiting for a signal")?));
            }
            () = tokio::time::sleep(every) => {}
            () = live::seeding(&handle) => {}
        }
        let KeyVersion { seq, info_hash } = match dht.key_version(&following.link).await {
            Ok(v) if v.seq > following.version.seq => v,
            Ok(_) => continue,
            Err(err) => {
                eprintln!("key {}: {err}", short(&following.link));
                continue;
            }
        };
        let old = std::mem::replace(&mut following.version, KeyVersion { seq, info_hash });
        if info_hash == old.info_hash {
            continue;
        }
        eprintln!(
            "key {} seq {seq}: new info-hash {info_hash}",
            short(&following.link)
        );
        let Some((torrent, peers)) =
            fetch(session, &following.link.resolved(info_hash), &[]).await?
        else {
            return Ok(ExitCode::from(130));
        };
        // The old torrent lets go of the files first; the new one checks
        // them and keeps every piece that still matches.
        session.remove_torrent(&old.info_hash.0).await?;
        let name = torrent.info.name.clone();
        eprintln!("checking existing data of {name} ...");
        let options = TorrentOptions {
            peers,
            ..TorrentOptions::default()
        };
        handle = session
            .add_torrent(torrent, dir.to_path_buf(), options)
            .await?;
        let started = Instant::now();
        tokio::select! {
            () = live::until_complete(&handle, true) => {}
            code = runtime::stop_signal() => {
                return Ok(ExitCode::from(code.context("waiting for a signal")?));
            }
        }
        report_complete(&name, &handle, started);
        eprintln!("updated to seq {seq}");
    }
}
