//! Kept-alive HTTP/1.1 connections per host, for requests a session makes
//! again and again to the same few hosts (tracker announces: at 10,000
//! torrents on one tracker with a 120 s interval, 83 a second). Reusing a
//! connection saves its TCP (and TLS) handshake and its socket per
//! request. A host that closes connections (HTTP/1.0
//! trackers, `Connection: close`) simply gets a fresh one each time.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::keepalive::KeptAlive;

/// Idle connections kept per host: as many as the tracker gate lets be
/// open to one host at once (`tracker::gate::IN_FLIGHT`).
const MAX_IDLE_PER_HOST: usize = 8;
/// Hosts with idle connections kept; past it the oldest host's go.
const MAX_HOSTS: usize = 64;
/// An idle connection older than this is not reused: servers close idle
/// connections after 5 to 60 s, and a request racing that close fails.
pub(crate) const IDLE_FOR: Duration = Duration::from_secs(15);

/// Which connections may serve a request: same scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl PoolKey {
    /// The connections `url` may go over.
    pub(crate) fn of(url: &super::HttpUrl) -> PoolKey {
        PoolKey {
            tls: url.tls,
            host: url.host.clone(),
            port: url.port,
        }
    }
}

struct Idle {
    conn: KeptAlive,
    since: Instant,
}

/// The idle connections of one session, by host, and which hosts take
/// pipelined requests.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<PoolKey, Vec<Idle>>>,
    /// Hosts that kept a connection open after a reply (`true`), and
    /// those of them that then closed one or fell out of step with
    /// requests still pipelined on it (`false`: asked one request at a
    /// time from then on).
    pipelining: Mutex<HashMap<PoolKey, bool>>,
}

impl Pool {
    /// An idle connection to `key` young enough to be likely still open,
    /// if any (one the server closed meanwhile fails unsent, and the
    /// request goes on a fresh one).
    pub(crate) fn take(&self, key: &PoolKey) -> Option<KeptAlive> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let conns = idle.get_mut(key)?;
        let mut found = None;
        // Newest last: the most recently used is the likeliest still open.
        while let Some(c) = conns.pop() {
            if c.since.elapsed() < IDLE_FOR {
                found = Some(c.conn);
                break;
            }
        }
        if conns.is_empty() {
            idle.remove(key);
        }
        found
    }

    /// Whether requests to `key` may be pipelined: its server kept a
    /// connection open after a reply, and never broke a pipeline.
    pub(crate) fn pipelines(&self, key: &PoolKey) -> bool {
        self.lock_pipelining().get(key) == Some(&true)
    }

    /// `key`'s server broke a pipeline: no more pipelining to it.
    pub(crate) fn stop_pipelining(&self, key: &PoolKey) {
        if let Some(yes) = self.lock_pipelining().get_mut(key) {
            *yes = false;
        }
    }

    fn lock_pipelining(&self) -> std::sync::MutexGuard<'_, HashMap<PoolKey, bool>> {
        self.pipelining
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `conn` for the next request to `key`.
    pub(crate) fn put(&self, key: PoolKey, conn: KeptAlive) {
        {
            let mut pipelining = self.lock_pipelining();
            if !pipelining.contains_key(&key) && pipelining.len() < MAX_HOSTS {
                pipelining.insert(key.clone(), true);
            }
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if !idle.contains_key(&key) && idle.len() >= MAX_HOSTS {
            let oldest = idle
                .iter()
                .min_by_key(|(_, v)| v.last().map(|c| c.since))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                idle.remove(&k);
            }
        }
        let conns = idle.entry(key).or_default();
        conns.retain(|c| c.since.elapsed() < IDLE_FOR);
        if conns.len() >= MAX_IDLE_PER_HOST {
            conns.remove(0);
        }
        conns.push(Idle {
            conn,
            since: Instant::now(),
        });
    }

    /// Idle connections held (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .map(Vec::len)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::Pool;
    use crate::http::{HttpUrl, get_pooled};

    /// A server answering every request on a connection with `body`
    /// (closing after each when `close`); counts the connections accepted.
    async fn server(close: bool) -> (HttpUrl, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    loop {
                        let Ok(n) = s.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            let reply: &[u8] = if close {
                                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                            } else {
                                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                            };
                            if s.write_all(reply).await.is_err() || close {
                                return;
                            }
                        }
                    }
                });
            }
        });
        let url = HttpUrl::parse(&format!("http://{addr}/announce?x=1")).unwrap();
        (url, accepted)
    }

    #[tokio::test]
    async fn requests_to_one_host_share_a_kept_alive_connection() {
        let (url, accepted) = server(false).await;
        let pool = Pool::default();
        for _ in 0..5 {
            let body = get_pooled(&url, Duration::from_secs(10), &pool, &|_| true)
                .await
                .unwrap();
            assert_eq!(body, b"ok");
        }
        assert_eq!(
            accepted.load(Ordering::Relaxed),
            1,
            "one connection for five"
        );
        assert_eq!(pool.len(), 1);
    }

    #[tokio::test]
    async fn a_server_that_closes_gets_a_connection_per_request() {
        let (url, accepted) = server(true).await;
        let pool = Pool::default();
        for _ in 0..3 {
            let body = get_pooled(&url, Duration::from_secs(10), &pool, &|_| true)
                .await
                .unwrap();
            assert_eq!(body, b"ok");
        }
        assert_eq!(accepted.load(Ordering::Relaxed), 3);
        assert_eq!(pool.len(), 0);
    }
}
