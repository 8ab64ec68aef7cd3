//! One HTTP/1.1 GET over `http://` or `https://` (TLS by rustls, see
//! [`super::tls`]), on a connection of its own or, for tracker announces,
//! a kept-alive one from the pool ([`super::keepalive`] reads the reply):
//! bounded reply size and time, no redirects followed; [`get_reply`]
//! hands a redirect's target back so a caller (add by URL) can choose to
//! follow it.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use super::keepalive::{Failed, KeptAlive};
use super::pool::{Pool, PoolKey};
use super::reply::Reply;
use super::{HttpError, HttpUrl, tls};

/// Largest reply accepted (a compact reply with 50 peers is under 1 KiB).
pub(super) const MAX_REPLY: usize = 256 * 1024;

/// Which of a host's addresses to prefer (a tracker must hear us over an
/// address family we listen on, or it lists us where nobody listens).
pub(crate) type Prefer<'a> = &'a (dyn Fn(SocketAddr) -> bool + Send + Sync);

/// The first of `addrs` that `prefer` accepts, else the first.
pub(crate) fn pick_addr(
    addrs: impl IntoIterator<Item = SocketAddr>,
    prefer: Option<Prefer<'_>>,
) -> Option<SocketAddr> {
    let mut first = None;
    for addr in addrs {
        match prefer {
            None => return Some(addr),
            Some(p) if p(addr) => return Some(addr),
            Some(_) => {
                first.get_or_insert(addr);
            }
        }
    }
    first
}

/// GETs `url` and returns the body of a 200 reply.
pub(crate) async fn get(url: &HttpUrl, timeout: Duration) -> Result<Vec<u8>, HttpError> {
    get_capped(url, timeout, MAX_REPLY).await
}

/// [`get`] with a body of at most `max_body` bytes; a redirect is an error.
pub(crate) async fn get_capped(
    url: &HttpUrl,
    timeout: Duration,
    max_body: usize,
) -> Result<Vec<u8>, HttpError> {
    match get_reply(url, timeout, max_body).await? {
        Reply::Body(body) => Ok(body),
        Reply::Redirect(to) => Err(HttpError::Status(format!("redirect to {to}"))),
    }
}

/// GETs `url` with a body of at most `max_body` bytes; a redirect is
/// returned, not followed.
pub(crate) async fn get_reply(
    url: &HttpUrl,
    timeout: Duration,
    max_body: usize,
) -> Result<Reply, HttpError> {
    get_reply_with(url, timeout, max_body, None).await
}

/// [`get_reply`] with an `Authorization` header (the CLI asking the
/// daemon's API).
pub(crate) async fn get_reply_with(
    url: &HttpUrl,
    timeout: Duration,
    max_body: usize,
    authorization: Option<&str>,
) -> Result<Reply, HttpError> {
    fetch(url, timeout, max_body, authorization, None).await
}

/// [`get`], connecting to the first of the host's addresses `prefer`
/// accepts (else its first).
pub(crate) async fn get_preferring(
    url: &HttpUrl,
    timeout: Duration,
    prefer: Prefer<'_>,
) -> Result<Vec<u8>, HttpError> {
    match fetch(url, timeout, MAX_REPLY, None, Some(prefer)).await? {
        Reply::Body(body) => Ok(body),
        Reply::Redirect(to) => Err(HttpError::Status(format!("redirect to {to}"))),
    }
}

/// One request on a connection of its own.
async fn fetch(
    url: &HttpUrl,
    timeout: Duration,
    max_body: usize,
    authorization: Option<&str>,
    prefer: Option<Prefer<'_>>,
) -> Result<Reply, HttpError> {
    let work = async {
        let mut conn = connect(url, prefer).await?;
        conn.get(url, max_body, authorization, false)
            .await
            .map(|(reply, _)| reply)
            .map_err(Failed::into_error)
    };
    let reply = tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| HttpError::Timeout)??;
    match reply {
        Reply::Redirect(location) => Ok(Reply::Redirect(url.resolve(&location))),
        body => Ok(body),
    }
}

/// [`get`] over a kept-alive connection from `pool` when one is idle (a
/// fresh one otherwise, to the first address `prefer` accepts), handed back
/// to it when the server keeps it open.
pub(crate) async fn get_pooled(
    url: &HttpUrl,
    timeout: Duration,
    pool: &Pool,
    prefer: Prefer<'_>,
) -> Result<Vec<u8>, HttpError> {
    let key = PoolKey::of(url);
    let work = async {
        if let Some(mut conn) = pool.take(&key) {
            match conn.get(url, MAX_REPLY, None, true).await {
                Ok((reply, reusable)) => {
                    if reusable {
                        pool.put(key, conn);
                    }
                    return Ok(reply);
                }
                // The server closed it as the request left: not an
                // answer, so a fresh connection asks again.
                Err(Failed::Unsent(_)) => {}
                Err(Failed::Other(e)) => return Err(e),
            }
        }
        let mut conn = connect(url, Some(prefer)).await?;
        let (reply, reusable) = conn
            .get(url, MAX_REPLY, None, true)
            .await
            .map_err(Failed::into_error)?;
        if reusable {
            pool.put(key, conn);
        }
        Ok(reply)
    };
    match tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| HttpError::Timeout)??
    {
        Reply::Body(body) => Ok(body),
        Reply::Redirect(to) => Err(HttpError::Status(format!(
            "redirect to {}",
            url.resolve(&to)
        ))),
    }
}

/// Opens a connection to `url`'s host (TLS for `https`).
pub(super) async fn connect(
    url: &HttpUrl,
    prefer: Option<Prefer<'_>>,
) -> Result<KeptAlive, HttpError> {
    let addr = resolve(&url.host, url.port, prefer).await?;
    let stream = TcpStream::connect(addr).await?;
    // Requests are written whole: nothing gains from Nagle's delay.
    stream.set_nodelay(true)?;
    Ok(if url.tls {
        KeptAlive::new(Box::new(tls::connect(&url.host, stream).await?), true)
    } else {
        KeptAlive::new(Box::new(stream), false)
    })
}

async fn resolve(
    host: &str,
    port: u16,
    prefer: Option<Prefer<'_>>,
) -> Result<SocketAddr, HttpError> {
    pick_addr(tokio::net::lookup_host((host, port)).await?, prefer)
        .ok_or_else(|| HttpError::BadUrl(format!("{host} has no address")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_first_preferred_address_is_picked_else_the_first() {
        let a4: SocketAddr = "192.0.2.1:80".parse().unwrap();
        let b6: SocketAddr = "[2001:db8::1]:80".parse().unwrap();
        let c6: SocketAddr = "[2001:db8::2]:80".parse().unwrap();
        let v4 = |a: SocketAddr| a.is_ipv4();
        let v6 = |a: SocketAddr| a.is_ipv6();
        let never = |_: SocketAddr| false;
        assert_eq!(pick_addr([b6, c6, a4], Some(&v4)), Some(a4));
        assert_eq!(pick_addr([a4, c6, b6], Some(&v6)), Some(c6));
        assert_eq!(pick_addr([b6, a4], Some(&never)), Some(b6));
        assert_eq!(pick_addr([b6, a4], None), Some(b6));
        assert_eq!(pick_addr([], Some(&v4)), None);
    }
}
