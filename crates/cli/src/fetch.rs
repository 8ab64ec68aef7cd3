//! Steps a download shares with following a BEP 46 link: getting a magnet
//! link's metadata with progress shown, and the line that reports a
//! completed download.

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::{Context, bail};
use shoal_session::{Session, TorrentHandle};

use crate::{live, runtime, units};

/// Gets a magnet link's metadata, showing progress; `None` on Ctrl-C.
pub(crate) async fn fetch(
    session: &Session,
    magnet: &shoal_metainfo::Magnet,
    peers: &[SocketAddr],
) -> anyhow::Result<Option<(shoal_metainfo::Torrent, Vec<SocketAddr>)>> {
    let shown = magnet.name.clone().unwrap_or_else(|| {
        shoal_metainfo::infohash::hex(&magnet.info_hashes.wire_id().unwrap_or_default())
    });
    eprintln!("fetching metadata of {shown} ...");
    let (progress, watched) =
        tokio::sync::watch::channel(shoal_session::MetadataProgress::default());
    let fetched = tokio::select! {
        fetched = session.fetch_metadata_watched(magnet, peers, Some(progress)) => fetched?,
        () = live::fetching_metadata(session, magnet, peers, &shown, &watched) => {
            bail!("the metadata display ended before the fetch")
        }
        code = runtime::stop_signal() => {
            code.context("waiting for a signal")?;
            return Ok(None);
        }
    };
    Ok(Some((fetched.torrent, fetched.peers)))
}

/// Prints how the download of `name` went.
pub(crate) fn report_complete(name: &str, handle: &TorrentHandle, started: Instant) {
    let stats = handle.stats();
    let fetched = stats.downloaded;
    let secs = started.elapsed().as_secs_f64();
    let from_web: u64 = handle.web_seeds().iter().map(|w| w.downloaded).sum();
    if fetched > 0 {
        let web = if from_web > 0 {
            format!(", {} of it from web seeds", units::bytes(from_web))
        } else {
            String::new()
        };
        eprintln!(
            "{name}: complete, {} in {secs:.1} s ({}){web}",
            units::bytes(fetched),
            units::rate(fetched as f64 / secs.max(1e-3))
        );
    } else {
        eprintln!(
            "{name}: complete ({} verified)",
            units::bytes(stats.total_size)
        );
    }
}
