//! The HTTP front end: a small HTTP/1.1 server on tokio (keep-alive, bounded
//! heads, idle timeout, connection cap) serving announce, scrape and metrics.
//!
//! Tracker-level refusals (not authorised, bad parameters) are `200 OK` with a
//! bencoded `failure reason`, because that is what clients display; malformed
//! HTTP gets a 4xx status and the connection is closed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use shoal_tracker_proto::http::{HttpError, RequestHead, parse_request_head};
use shoal_tracker_proto::limits::MAX_HTTP_HEAD;

use crate::access::{split_path, valid_passkey};
use crate::http_handlers::{announce, scrape};
use crate::state::Shared;

/// Time allowed for a request head once its first byte has arrived.
const HEAD_DEADLINE: Duration = Duration::from_secs(10);

/// One finished response.
pub struct Reply {
    /// Status line text, e.g. `200 OK`.
    pub status: &'static str,
    /// Content type.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
    /// Close the connection afterwards.
    pub close: bool,
}

impl Reply {
    /// A `200 OK` bencoded body.
    pub fn bencode(body: Vec<u8>) -> Reply {
        Reply {
            status: "200 OK",
            content_type: "text/plain",
            body,
            close: false,
        }
    }

    fn error(status: &'static str) -> Reply {
        Reply {
            status,
            content_type: "text/plain",
            body: status.as_bytes().to_vec(),
            close: true,
        }
    }
}

/// Accepts connections until shutdown.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(shared.cfg.max_http_connections));
    loop {
        let permit = tokio::select! {
            _ = stop.changed() => return,
            p = Arc::clone(&permits).acquire_owned() => match p { Ok(p) => p, Err(_) => return },
        };
        let (stream, peer) = tokio::select! {
            _ = stop.changed() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("http accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = connection(stream, peer, &shared).await {
                tracing::debug!(%peer, "http connection: {e}");
            }
        });
    }
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let idle = Duration::from_secs(shared.cfg.http_idle_timeout);
    // A whole request head must arrive within HEAD_DEADLINE of its first byte,
    // so a client trickling bytes cannot hold a connection slot forever.
    let mut head_started: Option<tokio::time::Instant> = None;
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let (reply, used) = match parse_request_head(&buf) {
            Ok((head, used)) => (route(&head, peer, shared), used),
            Err(HttpError::Incomplete) => {
                let wait = match head_started {
                    Some(t0) => HEAD_DEADLINE.saturating_sub(t0.elapsed()),
                    None => idle,
                };
                let n = match tokio::time::timeout(wait, stream.read(&mut chunk)).await {
                    Ok(r) => r?,
                    Err(_) => return Ok(()), // idle: just close
                };
                if n == 0 {
                    return Ok(());
                }
                buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
                head_started.get_or_insert_with(tokio::time::Instant::now);
                continue;
            }
            Err(HttpError::HeadTooLarge | HttpError::TooManyHeaders) => (
                Reply::error("431 Request Header Fields Too Large"),
                buf.len(),
            ),
            Err(_) => (Reply::error("400 Bad Request"), buf.len()),
        };
        if reply.status != "200 OK" {
            shared.metrics.http_errors.fetch_add(1, Relaxed);
        }
        let mut out = Vec::with_capacity(reply.body.len() + 128);
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(reply.status.as_bytes());
        out.extend_from_slice(
            format!(
                "\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
                reply.content_type,
                reply.body.len()
            )
            .as_bytes(),
        );
        if reply.close {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&reply.body);
        stream.write_all(&out).await?;
        if reply.close {
            let _ = stream.shutdown().await;
            return Ok(());
        }
        buf.drain(..used.min(buf.len()));
        head_started = (!buf.is_empty()).then(tokio::time::Instant::now);
        if buf.len() > MAX_HTTP_HEAD {
            return Ok(());
        }
    }
}

/// Picks the handler for a parsed request.
fn route(head: &RequestHead<'_>, peer: SocketAddr, shared: &Shared) -> Reply {
    let mut reply = route_inner(head, peer, shared);
    reply.close |= !head.keep_alive;
    reply
}

fn route_inner(head: &RequestHead<'_>, peer: SocketAddr, shared: &Shared) -> Reply {
    if head.method != "GET" {
        return Reply::error("405 Method Not Allowed");
    }
    if head.has_body {
        // Never read as the next request: 400 and close (see `has_body`).
        return Reply::error("400 Bad Request");
    }
    let (endpoint, key) = split_path(head.path());
    if key.is_some_and(|k| !valid_passkey(k)) {
        return Reply::error("404 Not Found");
    }
    let client_ip = client_ip(head, peer, shared);
    match endpoint {
        b"announce" => {
            shared.metrics.http_announces.fetch_add(1, Relaxed);
            announce(shared, head.query(), key, client_ip)
        }
        b"scrape" => {
            shared.metrics.http_scrapes.fetch_add(1, Relaxed);
            scrape(shared, head.query(), key)
        }
        b"metrics" if key.is_none() && metrics_allowed(peer, shared) => {
            let stats = shared.store().stats();
            Reply {
                status: "200 OK",
                content_type: "text/plain; version=0.0.4",
                body: shared.metrics.render(&stats).into_bytes(),
                close: false,
            }
        }
        _ => Reply::error("404 Not Found"),
    }
}

/// Whether `peer` may read `/metrics` (`metrics_allow`; empty: anyone).
/// The connection's own address counts, never a forwarded one.
fn metrics_allowed(peer: SocketAddr, shared: &Shared) -> bool {
    let allow = &shared.cfg.metrics_allow;
    allow.is_empty() || allow.contains(&peer.ip().to_canonical())
}

/// The client's address: the connection's, unless a trusted proxy names it
/// (the rightmost `X-Forwarded-For` hop, or `X-Real-IP` when configured).
fn client_ip(head: &RequestHead<'_>, peer: SocketAddr, shared: &Shared) -> IpAddr {
    let parse = |v: Option<&[u8]>| {
        v.and_then(|f| std::str::from_utf8(f).ok())
            .and_then(|s| s.parse::<IpAddr>().ok())
    };
    let named = match (shared.cfg.trust_real_ip, shared.cfg.trust_forwarded_for) {
        (true, _) => parse(head.real_ip),
        (false, true) => parse(head.forwarded_for),
        (false, false) => None,
    };
    named.unwrap_or(peer.ip()).to_canonical()
}
