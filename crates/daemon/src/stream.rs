//! Each file of a running torrent at a stable URL, `/stream/<info-hash>/<file
//! index>`, for media players while it downloads: `Range` requests (one
//! range: `a-b`, `a-`, `-n`) answered with `206`, `Accept-Ranges`, the
//! file's `Content-Type`; reads wait for the pieces they need and raise
//! them first (`TorrentHandle::read_range`), so a seek jumps there. The
//! Host check applies as everywhere; a caller that is not logged in (a
//! player has no cookies or basic auth) must give the stream's token
//! (`?token=`, from `GET /api/v1/torrents/{id}/streams`), which is tied to
//! this daemon run, the torrent and the file.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HeaderValue, RANGE,
};
use hyper::{Method, Request, Response, StatusCode};
use sha1::{Digest, Sha1};
use tokio::sync::mpsc;

use crate::web::{Body, Ctx, error};

/// Bytes read per step while streaming a response.
const CHUNK: u64 = 1 << 20;

/// The token for file `index` of `hash_hex`: a hash of the daemon run's
/// secret, the torrent and the file (hex, 32 characters).
pub(crate) fn token(secret: &str, hash_hex: &str, index: usize) -> String {
    let digest = Sha1::digest(format!("shoal-stream/{secret}/{hash_hex}/{index}").as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The stream URL (path and token) of file `index` of `hash_hex`.
pub(crate) fn url(secret: &str, hash_hex: &str, index: usize) -> String {
    format!(
        "/stream/{hash_hex}/{index}?token={}",
        token(secret, hash_hex, index)
    )
}

/// The token of the torrent's playlist (one past the last file index is
/// never a file's: `usize::MAX` stands for the playlist).
fn playlist_token(secret: &str, hash_hex: &str) -> String {
    token(secret, hash_hex, usize::MAX)
}

/// The playlist URL (path and token) of `hash_hex`: every file, in order.
pub(crate) fn playlist_url(secret: &str, hash_hex: &str) -> String {
    format!(
        "/stream/{hash_hex}.m3u?token={}",
        playlist_token(secret, hash_hex)
    )
}

/// Answers `/stream/{rest}`; `authorized` says whether the caller's
/// credentials passed (else the token must).
pub(crate) async fn handle(
    ctx: &Ctx,
    req: Request<Incoming>,
    rest: &str,
    authorized: bool,
) -> Response<Body> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return error(StatusCode::METHOD_NOT_ALLOWED, "method", "GET or HEAD");
    }
    let given = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .unwrap_or("")
        .to_owned();
    if let Some(hash) = rest.strip_suffix(".m3u") {
        return playlist(ctx, &req, &hash.to_ascii_lowercase(), &given, authorized);
    }
    let Some((hash, index)) = rest
        .split_once('/')
        .and_then(|(h, i)| Some((h.to_ascii_lowercase(), i.parse::<usize>().ok()?)))
    else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such stream");
    };
    let expected = token(&ctx.security.csrf_token, &hash, index);
    if !authorized && !crate::security::constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "credentials or the stream's token required",
        );
    }
    let Some(snap) = running_snapshot(&ctx.daemon, &hash).await else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such torrent");
    };
    let (Some(torrent), Some(handle)) = (snap.torrent.clone(), snap.handle.clone()) else {
        return error(
            StatusCode::CONFLICT,
            "not_running",
            "the torrent is not running",
        );
    };
    let Some(file) = torrent.info.files.get(index).filter(|f| !f.attr.pad) else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such file");
    };
    let length = file.length;
    let range = req.headers().get(RANGE).and_then(|v| v.to_str().ok());
    let (status, start, end) = match range.map(|r| parse_range(r, length)) {
        None => (StatusCode::OK, 0, length),
        Some(Some((a, b))) => (StatusCode::PARTIAL_CONTENT, a, b),
        Some(None) => {
            let mut resp = error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range",
                "range not satisfiable",
            );
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{length}")) {
                resp.headers_mut().insert(CONTENT_RANGE, v);
            }
            return resp;
        }
    };
    let (tx, rx) = mpsc::channel::<Bytes>(2);
    if req.method() == Method::GET {
        tokio::spawn(async move {
            let mut at = start;
            while at < end {
                let want = (end - at).min(CHUNK);
                let Ok(bytes) = handle.read_range(index, at, want).await else {
                    return;
                };
                if bytes.is_empty() {
                    return;
                }
                at += bytes.len() as u64;
                if tx.send(Bytes::from(bytes)).await.is_err() {
                    // The player went away (or seeks elsewhere).
                    return;
                }
            }
        });
    }
    let mut resp = Response::new(ChannelBody { rx }.boxed());
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(crate::transmission::mime_of(&file.display_path())),
    );
    h.insert(CONTENT_LENGTH, HeaderValue::from(end - start));
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{length}", end - 1)) {
            h.insert(CONTENT_RANGE, v);
        }
    }
    resp
}

/// An M3U playlist of the torrent's files with absolute stream URLs (the
/// request's Host, already checked against `allowed_hosts`).
fn playlist(
    ctx: &Ctx,
    req: &Request<Incoming>,
    hash: &str,
    given: &str,
    authorized: bool,
) -> Response<Body> {
    let secret = &ctx.security.csrf_token;
    let expected = playlist_token(secret, hash);
    if !authorized && !crate::security::constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "credentials or the playlist's token required",
        );
    }
    let d = &ctx.daemon;
    let Some(torrent) = d
        .resolve(hash)
        .and_then(|id| d.snapshot(id))
        .and_then(|s| s.torrent)
    else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such torrent");
    };
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let mut out = String::from("#EXTM3U\n");
    for (index, f) in torrent
        .info
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.attr.pad)
    {
        // Names are one line each: line breaks in a name would add entries.
        let name: String = f
            .display_path()
            .chars()
            .filter(|c| !c.is_control())
            .collect();
        out.push_str(&format!(
            "#EXTINF:-1,{name}\nhttp://{host}{}\n",
            url(secret, hash, index)
        ));
    }
    crate::web::response(StatusCode::OK, "audio/x-mpegurl", out)
}

/// One `bytes=` range of a file of `length` bytes, as `start..end`; `None`
/// when it cannot be satisfied (or is not one byte range).
fn parse_range(header: &str, length: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        (length.saturating_sub(n), length)
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() {
            length
        } else {
            b.parse::<u64>().ok()?.saturating_add(1).min(length)
        };
        (start, end)
    };
    (start < end).then_some((start, end))
}

/// A body fed by the reading task; it ends when the task does.
struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// How long a stream asked for while its torrent starts waits for it to
/// join the session: it is shown running meanwhile (loading resume data
/// takes a moment), and a player should not be told it is not.
const START_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// `hash`'s snapshot, once it is past starting (or [`START_WAIT`] passed);
/// `None` if there is no such torrent.
async fn running_snapshot(
    d: &crate::Daemon,
    hash: &str,
) -> Option<crate::snapshot::TorrentSnapshot> {
    let started = tokio::time::Instant::now();
    loop {
        let snap = d.resolve(hash).and_then(|id| d.snapshot(id))?;
        if snap.activity != crate::snapshot::Activity::Starting || started.elapsed() >= START_WAIT {
            return Some(snap);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 10)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 100)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 100)));
        assert_eq!(parse_range("bytes=95-200", 100), Some((95, 100)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-2", 100), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }

    #[test]
    fn tokens_differ_per_file_and_secret() {
        let t = token("s", "ab", 0);
        assert_eq!(t.len(), 32);
        assert_ne!(t, token("s", "ab", 1));
        assert_ne!(t, token("x", "ab", 0));
    }
}
