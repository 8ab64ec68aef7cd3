//! The HTTP server: one hyper HTTP/1.1 connection per client, every request
//! through the security checks, then routed to the Transmission RPC, the
//! native API, the metrics or the UI.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::security::Security;
use crate::{Daemon, DaemonConfig, DaemonError};

/// Most client connections served at once.
const MAX_CONNECTIONS: usize = 256;
/// A client must send its request headers within this time.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Body size for requests that carry no upload.
pub(crate) const SMALL_BODY: usize = 64 * 1024;

/// The response body type of every handler.
pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// What the handlers share.
pub(crate) struct Ctx {
    pub daemon: Daemon,
    pub security: Security,
    /// Transmission's session id (the 409 handshake).
    pub rpc_session_id: String,
    /// Largest upload body.
    pub max_body: usize,
}

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
        },
        rpc_session_id: crate::security::random_token(),
        max_body: config.max_body,
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
        let Ok((stream, _peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let ctx = Arc::clone(&ctx);
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req| {
                let ctx = Arc::clone(&ctx);
                async move { Ok::<_, Infallible>(handle(&ctx, req).await) }
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

async fn handle(ctx: &Ctx, req: Request<Incoming>) -> Response<Body> {
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
    let auth = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if !ctx.security.authorized(auth) {
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
    let path = req.uri().path().to_owned();
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

/// Reads a request body of at most `limit` bytes, or answers 413.
pub(crate) async fn read_body(
    req: Request<Incoming>,
    limit: usize,
) -> Result<Bytes, Response<Body>> {
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(too_large(limit)),
        Err(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "could not read the request body",
        )),
    }
}

fn too_large(limit: usize) -> Response<Body> {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        &format!("request body is larger than {limit} bytes"),
    )
}

/// A response with a body and content type.
pub(crate) fn response(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut resp = Response::new(Full::new(body.into()).boxed());
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(CONTENT_TYPE, v);
    }
    resp.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    resp
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(body) => response(status, "application/json", body),
        Err(_) => response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/json",
            r#"{"error":{"code":"internal","message":"encoding failed"}}"#,
        ),
    }
}

/// A JSON error: `{"error": {"code": …, "message": …}}`.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json(
        status,
        &serde_json::json!({ "error": { "code": code, "message": message } }),
    )
}

/// The JSON error for a daemon error.
pub(crate) fn daemon_error(err: &DaemonError) -> Response<Body> {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    error(status, err.code(), &err.to_string())
}
