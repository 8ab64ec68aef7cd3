//! Several GETs to one host over one kept-alive connection, the requests
//! written in one go and the replies read in order (HTTP/1.1 pipelining,
//! RFC 9112 section 9.3.2). A seedbox's regular announces go this way
//! (`announce/batch.rs`): one write and a few reads for a tick's dozens
//! of announces, where one exchange each cost a write, a read and a
//! wake-up apiece. A server that closes the connection or falls out of
//! step part-way is asked one request at a time from then on
//! ([`Pool::stop_pipelining`]); the requests it left unanswered are the
//! caller's to send again.

use std::time::Duration;

use super::client::{MAX_REPLY, Prefer, connect};
use super::keepalive::{Failed, pipelined_request};
use super::pool::{Pool, PoolKey};
use super::{HttpError, HttpUrl, Reply};

/// Most requests written ahead on one connection.
pub(crate) const MAX_PIPELINED: usize = 64;

/// GETs each of `urls` (all of one host, at most [`MAX_PIPELINED`]) over
/// one connection from `pool` (a fresh one to the first address `prefer`
/// accepts when none is idle, or when the idle one was closed), within
/// `timeout` in all. Returns the replies in order, each a 200's body or
/// why it failed; those still missing at the timeout timed out (and the
/// host is not sent pipelines again: it answered some). When the
/// server broke the pipeline part-way (closed the connection, or fell out
/// of step), the replies stop there: the rest were not answered and may be
/// sent again. An error: nothing was answered at all.
pub(crate) async fn get_pipelined(
    urls: &[HttpUrl],
    timeout: Duration,
    pool: &Pool,
    prefer: Prefer<'_>,
) -> Result<Vec<Result<Vec<u8>, HttpError>>, HttpError> {
    let Some(first) = urls.first() else {
        return Ok(Vec::new());
    };
    let mut replies = Vec::with_capacity(urls.len());
    let work = exchange(first, urls, pool, prefer, &mut replies);
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(())) => Ok(replies),
        Ok(Err(e)) => Err(e),
        Err(_) if replies.is_empty() => Err(HttpError::Timeout),
        // Some answered, then nothing: a server that mishandles
        // pipelines looks like this, so it gets no more of them.
        Err(_) => {
            pool.stop_pipelining(&PoolKey::of(first));
            replies.resize_with(urls.len(), || Err(HttpError::Timeout));
            Ok(replies)
        }
    }
}

/// The exchange behind [`get_pipelined`] (`first` of `urls` names the
/// host), pushing each reply to `replies` as it is read; an error when
/// nothing was answered.
async fn exchange(
    first: &HttpUrl,
    urls: &[HttpUrl],
    pool: &Pool,
    prefer: Prefer<'_>,
    replies: &mut Vec<Result<Vec<u8>, HttpError>>,
) -> Result<(), HttpError> {
    let mut requests = String::new();
    for url in urls {
        requests.push_str(&pipelined_request(url));
    }
    let key = &PoolKey::of(first);
    let mut idle = pool.take(key);
    // A kept-alive connection the server closed as the requests left
    // answers nothing: they go again on a fresh one.
    'attempt: loop {
        let fresh = idle.is_none();
        let mut conn = match idle.take() {
            Some(conn) => conn,
            None => connect(first, Some(prefer)).await?,
        };
        if let Err(e) = conn.send(requests.as_bytes()).await {
            if fresh {
                return Err(e.into_error());
            }
            continue 'attempt;
        }
        let mut open = true;
        for url in urls {
            match conn.read_reply(MAX_REPLY).await {
                Ok((Reply::Body(body), kept)) => {
                    replies.push(Ok(body));
                    open = kept;
                }
                Ok((Reply::Redirect(to), _)) => {
                    let to = url.resolve(&to);
                    replies.push(Err(HttpError::Status(format!("redirect to {to}"))));
                    open = false;
                }
                Err(Failed::Unsent(e)) if replies.is_empty() => {
                    if fresh {
                        return Err(e);
                    }
                    continue 'attempt;
                }
                // Closed between two replies: the rest are unanswered.
                Err(Failed::Unsent(_)) => open = false,
                Err(Failed::Other(e)) => {
                    replies.push(Err(e));
                    open = false;
                }
            }
            if !open {
                break;
            }
        }
        if replies.len() < urls.len() {
            pool.stop_pipelining(key);
        } else if open && !conn.has_unread() {
            pool.put(key.clone(), conn);
        }
        return Ok(());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::{Pool, PoolKey, get_pipelined};
    use crate::http::{HttpUrl, get_pooled};

    /// A server answering each request with its target's query (closing
    /// after `close_after` replies on a connection, if given); counts the
    /// reads it made.
    async fn server(close_after: Option<usize>) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reads = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&reads);
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let count = Arc::clone(&count);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let mut answered = 0;
                    loop {
                        let Ok(n) = s.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        count.fetch_add(1, Ordering::Relaxed);
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).to_string();
                            buf.drain(..end + 4);
                            let query = head.split(['?', ' ']).nth(2).unwrap_or_default();
                            let reply = format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{query}",
                                query.len()
                            );
                            if s.write_all(reply.as_bytes()).await.is_err() {
                                return;
                            }
                            answered += 1;
                            if close_after == Some(answered) {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (format!("http://{addr}/announce"), reads)
    }

    fn urls(base: &str, n: usize) -> Vec<HttpUrl> {
        (0..n)
            .map(|i| HttpUrl::parse(&format!("{base}?n={i}")).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn replies_come_back_in_order_over_one_connection() {
        let (base, reads) = server(None).await;
        let pool = Pool::default();
        let targets = urls(&base, 20);
        let replies = get_pipelined(&targets, Duration::from_secs(10), &pool, &|_| true)
            .await
            .unwrap();
        let bodies: Vec<Vec<u8>> = replies.into_iter().map(Result::unwrap).collect();
        let wanted: Vec<Vec<u8>> = (0..20).map(|i| format!("n={i}").into_bytes()).collect();
        assert_eq!(bodies, wanted);
        // One write: the server read it in a few reads, not twenty.
        assert!(reads.load(Ordering::Relaxed) < 5, "{reads:?}");
        assert!(pool.pipelines(&PoolKey::of(&targets[0])));
    }

    #[tokio::test]
    async fn a_server_closing_part_way_leaves_the_rest_unanswered_and_is_not_pipelined_again() {
        let (base, _) = server(Some(3)).await;
        let pool = Pool::default();
        let targets = urls(&base, 10);
        // A first request leaves a kept-alive connection in the pool.
        get_pooled(&targets[0], Duration::from_secs(10), &pool, &|_| true)
            .await
            .unwrap();
        let replies = get_pipelined(&targets, Duration::from_secs(10), &pool, &|_| true)
            .await
            .unwrap();
        assert_eq!(replies.len(), 2, "the connection had answered one already");
        assert!(replies.iter().all(Result::is_ok));
        assert!(!pool.pipelines(&PoolKey::of(&targets[0])));
    }

    #[tokio::test]
    async fn nothing_answered_is_one_error() {
        // A port nobody listens on: refused.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/announce", closed.local_addr().unwrap());
        drop(closed);
        let pool = Pool::default();
        let got = get_pipelined(&urls(&base, 3), Duration::from_secs(10), &pool, &|_| true).await;
        assert!(got.is_err());
        // A server that takes the requests and never answers: timed out.
        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/announce", silent.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut s, _) = silent.accept().await.unwrap();
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink).await;
        });
        let got = get_pipelined(&urls(&base, 3), Duration::from_millis(300), &pool, &|_| {
            true
        })
        .await;
        assert!(matches!(got, Err(crate::http::HttpError::Timeout)));
    }

    #[tokio::test]
    async fn a_server_stalling_part_way_times_the_rest_out_and_gets_no_more_pipelines() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/announce", listener.local_addr().unwrap());
        // Answers one request per read, the first two reads only.
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut chunk = [0u8; 4096];
            for _ in 0..2 {
                let _ = s.read(&mut chunk).await;
                let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                let _ = s.write_all(ok).await;
            }
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink).await;
        });
        let pool = Pool::default();
        let targets = urls(&base, 3);
        get_pooled(&targets[0], Duration::from_secs(10), &pool, &|_| true)
            .await
            .unwrap();
        let key = PoolKey::of(&targets[0]);
        assert!(pool.pipelines(&key));
        let got = get_pipelined(&targets, Duration::from_millis(500), &pool, &|_| true)
            .await
            .unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].as_ref().unwrap(), b"ok");
        assert!(
            got[1..]
                .iter()
                .all(|r| matches!(r, Err(crate::http::HttpError::Timeout)))
        );
        assert!(!pool.pipelines(&key));
    }
}
