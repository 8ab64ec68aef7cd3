//! The generic HTTP(S) client: one HTTP/1.1 GET per connection over
//! `http://` or `https://` (rustls), every reply bounded in size and time
//! (`keepalive.rs` reads it; tracker announces reuse kept-alive connections
//! per host: `pool.rs`; web seeds keep connections open with hyper's
//! client: `webseed/http.rs`). Trackers
//! announce and scrape with it ([`crate::tracker`]); the daemon downloads
//! `.torrent` files with [`http_get_following`].

mod client;
mod keepalive;
mod pipeline;
mod pool;
mod reply;
mod tls;
mod url;

use std::time::Duration;

pub(crate) use client::{get, get_capped, get_pooled, get_preferring, get_reply, get_reply_with};
pub(crate) use pipeline::{MAX_PIPELINED, get_pipelined};
pub(crate) use pool::{Pool, PoolKey};
pub(crate) use reply::Reply;
pub(crate) use tls::connect as tls_connect;
pub(crate) use url::{HttpUrl, split_host_port};

/// Why a GET failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("unsupported tracker URL {0}")]
    Unsupported(String),
    #[error("bad tracker URL {0}")]
    BadUrl(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("timed out")]
    Timeout,
    #[error("TLS: {0}")]
    Tls(String),
    #[error("HTTP {0}")]
    Status(String),
    #[error("malformed reply: {0}")]
    Malformed(String),
}

/// GETs an `http://` or `https://` URL (HTTPS by rustls, no redirects: see
/// [`http_get_following`]) and
/// returns the body of a 200 reply, refusing one over `max_bytes` or slower
/// than `timeout` in all.
pub async fn http_get(
    url: &str,
    max_bytes: usize,
    timeout: Duration,
) -> Result<Vec<u8>, crate::SessionError> {
    let fail = |e: HttpError| crate::SessionError::Http(format!("{url}: {e}"));
    let target = HttpUrl::parse(url).map_err(fail)?;
    let body = get_capped(&target, timeout, max_bytes)
        .await
        .map_err(fail)?;
    if body.len() > max_bytes {
        return Err(fail(HttpError::Malformed(format!(
            "body larger than {max_bytes} bytes"
        ))));
    }
    Ok(body)
}

/// [`http_get`] with an `Authorization` header value (as the CLI sends
/// the daemon's credentials); a redirect is an error.
pub async fn http_get_authorized(
    url: &str,
    authorization: Option<&str>,
    max_bytes: usize,
    timeout: Duration,
) -> Result<Vec<u8>, crate::SessionError> {
    let fail = |e: HttpError| crate::SessionError::Http(format!("{url}: {e}"));
    let target = HttpUrl::parse(url).map_err(fail)?;
    match get_reply_with(&target, timeout, max_bytes, authorization)
        .await
        .map_err(fail)?
    {
        Reply::Body(body) => Ok(body),
        Reply::Redirect(to) => Err(fail(HttpError::Status(format!("redirect to {to}")))),
    }
}

/// Most redirects [`http_get_following`] follows.
pub const MAX_REDIRECTS: usize = 5;

/// What [`http_get_following`] ends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpFetched {
    /// The body of the final 200 reply.
    Body(Vec<u8>),
    /// A redirect to a URL that is not `http(s)` (such as a `magnet:`
    /// link, as torrent indexers answer), handed back unfollowed.
    Elsewhere(String),
}

/// [`http_get`] that follows up to [`MAX_REDIRECTS`] redirects between
/// `http://` and `https://` URLs; `timeout` bounds the whole chain.
pub async fn http_get_following(
    url: &str,
    max_bytes: usize,
    timeout: Duration,
) -> Result<HttpFetched, crate::SessionError> {
    let chain = async {
        let mut current = url.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            let fail = |e: HttpError| crate::SessionError::Http(format!("{current}: {e}"));
            let target = HttpUrl::parse(&current).map_err(fail)?;
            match get_reply(&target, timeout, max_bytes).await.map_err(fail)? {
                Reply::Body(body) if body.len() > max_bytes => {
                    return Err(fail(HttpError::Malformed(format!(
                        "body larger than {max_bytes} bytes"
                    ))));
                }
                Reply::Body(body) => return Ok(HttpFetched::Body(body)),
                Reply::Redirect(next) => {
                    // Another scheme: not ours to follow. (A malformed
                    // http URL fails on the next round.)
                    if let Err(HttpError::Unsupported(_)) = HttpUrl::parse(&next) {
                        return Ok(HttpFetched::Elsewhere(next));
                    }
                    current = next;
                }
            }
        }
        Err(crate::SessionError::Http(format!(
            "{url}: more than {MAX_REDIRECTS} redirects"
        )))
    };
    tokio::time::timeout(timeout, chain)
        .await
        .map_err(|_| crate::SessionError::Http(format!("{url}: timed out")))?
}
