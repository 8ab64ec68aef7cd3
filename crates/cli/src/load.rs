//! Reading a .torrent file or a magnet link named on the command line.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use shoal_metainfo::limits::MAX_TORRENT_SIZE;
use shoal_metainfo::{KeyMagnet, Magnet, Torrent};
use shoal_session::HttpFetched;

/// What a TORRENT|MAGNET argument named.
pub enum Source {
    /// A loaded .torrent file.
    Torrent(Box<Torrent>),
    /// A magnet link (metadata not yet known).
    Magnet(Magnet),
    /// A BEP 46 magnet link: a publisher's key, resolved through the DHT.
    KeyMagnet(KeyMagnet),
}

/// How long fetching a .torrent over HTTP(S) may take, redirects included.
const URL_TIMEOUT: Duration = Duration::from_secs(60);

/// Loads `arg` as a magnet link, a bare info-hash (40 hex or 32 base32
/// characters, taken as a magnet link with only that hash), an `http(s)://`
/// URL of a .torrent file, else a .torrent file on disk. A v2 .torrent may
/// lack `piece layers` here: `download` asks peers for them.
pub fn source(arg: &str) -> anyhow::Result<Source> {
    if KeyMagnet::is_key_magnet(arg) {
        let magnet = arg.parse().context("invalid BEP 46 magnet link")?;
        return Ok(Source::KeyMagnet(magnet));
    }
    if has_prefix(arg, "magnet:") {
        let magnet = arg.parse().context("invalid magnet link")?;
        return Ok(Source::Magnet(magnet));
    }
    if is_bare_info_hash(arg) {
        let magnet = format!("magnet:?xt=urn:btih:{arg}")
            .parse()
            .with_context(|| format!("{arg} is not a valid info-hash"))?;
        return Ok(Source::Magnet(magnet));
    }
    if has_prefix(arg, "http://") || has_prefix(arg, "https://") {
        return from_url(arg);
    }
    Ok(Source::Torrent(Box::new(read(
        Path::new(arg),
        Torrent::from_bytes_without_layers,
    )?)))
}

fn has_prefix(arg: &str, prefix: &str) -> bool {
    arg.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// A v1 info-hash alone: 40 hex digits or 32 base32 characters, and no
/// file of that name (a file wins, as the user may have named one so).
fn is_bare_info_hash(arg: &str) -> bool {
    let hex = arg.len() == 40 && arg.bytes().all(|b| b.is_ascii_hexdigit());
    let base32 = arg.len() == 32
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || (b'2'..=b'7').contains(&b));
    (hex || base32) && !Path::new(arg).exists()
}

/// Downloads a .torrent from `url` (following redirects; one to a
/// `magnet:` link, as indexers answer, is taken as that link).
fn from_url(url: &str) -> anyhow::Result<Source> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let fetched = rt
        .block_on(shoal_session::http_get_following(
            url,
            MAX_TORRENT_SIZE,
            URL_TIMEOUT,
        ))
        // The error names the URL already.
        .map_err(anyhow::Error::from)?;
    match fetched {
        HttpFetched::Body(bytes) => {
            let torrent = Torrent::from_bytes_without_layers(&bytes)
                .with_context(|| format!("{url} is not a valid torrent"))?;
            Ok(Source::Torrent(Box::new(torrent)))
        }
        HttpFetched::Elsewhere(link) if has_prefix(&link, "magnet:") => {
            let magnet = link
                .parse()
                .with_context(|| format!("{url} redirects to an invalid magnet link"))?;
            Ok(Source::Magnet(magnet))
        }
        HttpFetched::Elsewhere(other) => {
            anyhow::bail!("{url} redirects to {other}, which is neither http(s) nor magnet")
        }
    }
}

/// Loads a .torrent file, refusing oversized files before reading them.
pub fn torrent(path: &Path) -> anyhow::Result<Torrent> {
    read(path, Torrent::from_bytes)
}

/// Reads a .torrent file of bounded size and parses it with `parse`.
fn read(
    path: &Path,
    parse: fn(&[u8]) -> Result<Torrent, shoal_metainfo::MetainfoError>,
) -> anyhow::Result<Torrent> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {shown}"))?
        .len();
    if size > MAX_TORRENT_SIZE as u64 {
        anyhow::bail!(
            "{shown}: {size} bytes is larger than the {MAX_TORRENT_SIZE}-byte limit for .torrent files"
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {shown}"))?;
    parse(&bytes).with_context(|| format!("{shown} is not a valid torrent"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn bare_info_hashes() {
        assert!(super::is_bare_info_hash(
            "0123456789abcdef0123456789ABCDEF01234567"
        ));
        assert!(super::is_bare_info_hash("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"));
        assert!(!super::is_bare_info_hash(
            "0123456789abcdef0123456789abcdef0123456"
        ));
        assert!(!super::is_bare_info_hash("x.torrent"));
        assert!(!super::is_bare_info_hash(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ234568"
        ));
    }
}
