//! The HTTP server: one hyper HTTP/1.1 connection per client, every request
//! through the security checks, then routed to the Transmission RPC, the
//! native API, the metrics or the UI.

use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::security::{LoginSessions, Security};
use crate::web::{Body, Ctx, Peer, error};
use crate::{Daemon, DaemonConfig, DaemonError};

/// Most client connections served at once.
const MAX_CONNECTIONS: usize = 256;
/// A client must send its request headers within this time.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Runs the daemon until `shutdown` resolves: opens the state, binds the
/// peer port and the API address, serves, then saves and stops.
pub async fn serve(
    config: DaemonConfig,
    shutdown: impl Future<Output = ()>,
    on_ready: impl FnOnce(std::net::SocketAddr, std::net::SocketAddr),
) -> Result<(), DaemonError> {
    config.validate()?;
    let listener = TcpListener::bind(config.rpc)
        .await
        .map_err(|e| DaemonError::io(format!("cannot listen on {}", config.rpc), e))?;
    let api_addr = listener
        .local_addr()
        .map_err(|e| DaemonError::io("API address", e))?;
    let daemon = Daemon::start(config.clone()).await?;
    on_ready(api_addr, daemon.session().local_addr());
    let ctx = Arc::new(Ctx {
        security: Security {
            credentials: config.username.clone().zip(config.password.clone()),
            allowed_hosts: config.allowed_hosts.clone(),
            csrf_token: crate::security::random_token(),
            api_key: config.api_key.clone(),
            throttle: crate::security::AuthThrottle::default(),
        },
        rpc_session_id: crate::security::random_token(),
        qbt_sessions: LoginSessions::default(),
        qbt_throttle: crate::login_throttle::LoginThrottle::default(),
        qbt_sync: crate::sync_log::SyncLog::default(),
        max_body: config.max_body,
        body_timeout: Duration::from_secs(config.body_timeout),
        daemon: daemon.clone(),
    });
    tokio::select! {
        () = accept_loop(ctx, listener) => {}
        () = shutdown => {}
    }
    daemon.shutdown().await;
    Ok(())
}

async fn accept_loop(ctx: Arc<Ctx>, listener: TcpListener) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let ctx = Arc::clone(&ctx);
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let ctx = Arc::clone(&ctx);
                async move { Ok::<_, Infallible>(handle(&ctx, req, peer.ip()).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(64 * 1024)
                .serve_connection(TokioIo::new(stream), service);
            let _ = conn.await;
        });
    }
}

async fn handle(ctx: &Ctx, mut req: Request<Incoming>, peer: IpAddr) -> Response<Body> {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok());
    if !ctx.security.host_allowed(host) {
        return error(
            StatusCode::FORBIDDEN,
            "bad_host",
            "this Host is not allowed (add it to allowed_hosts)",
        );
    }
    // A source that failed to log in too often waits, whatever it sends
    // (basic auth here, or the qBittorrent API's login form).
    if ctx.security.credentials.is_some() {
        if let Err(wait) = ctx.security.throttle.check(peer, Instant::now()) {
            let mut resp = error(
                StatusCode::TOO_MANY_REQUESTS,
                "throttled",
                "too many failed logins from this address; try again later",
            );
            let secs = wait.as_secs().max(1).to_string();
            if let Ok(v) = HeaderValue::from_str(&secs) {
                resp.headers_mut().insert(hyper::header::RETRY_AFTER, v);
            }
            return resp;
        }
    }
    req.extensions_mut().insert(Peer(peer));
    // qBittorrent's clients log in for a cookie instead of sending basic
    // auth: that API checks its callers itself.
    let path = req.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix("/api/v2") {
        return crate::qbittorrent::handle(ctx, req, rest).await;
    }
    let auth = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if let Some(rest) = path.strip_prefix("/stream/") {
        // Media players carry no credentials: the stream's token stands in.
        let authorized = ctx.security.authorized(auth);
        return crate::stream::handle(ctx, req, rest, authorized).await;
    }
    if !ctx.security.authorized(auth) {
        // A request without credentials is no guess (browsers and clients
        // send one first to learn that auth is needed).
        if auth.is_some() {
            ctx.security.throttle.failed(peer, Instant::now());
        }
        let mut resp = error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "credentials required",
        );
        resp.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"shoal\""),
        );
        return resp;
    }
    if path == "/transmission/rpc" || path == "/transmission/rpc/" {
        return crate::transmission::handle(ctx, req).await;
    }
    if let Some(rest) = path.strip_prefix("/api/v1") {
        return crate::api::handle(ctx, req, rest).await;
    }
    if path == "/metrics" {
        return crate::metrics::handle(ctx);
    }
    crate::ui::handle(&path, req.method())
}
