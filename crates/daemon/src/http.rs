//! The HTTP server: one hyper HTTP/1.1 connection per client, every request
//! through the security checks, then routed to the Transmission RPC, the
//! native API, the metrics or the UI.

use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
/// Most JSON structure (`[`, `{`, `,` and `:` outside strings) in one
/// request body: a generic JSON value costs tens of bytes per element, so
/// this bounds a parsed body to a few tens of MB whatever its size.
const MAX_JSON_STRUCTURE: usize = 256 * 1024;

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
    /// Time for a whole request body to arrive.
    pub body_timeout: Duration,
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
            throttle: crate::security::AuthThrottle::default(),
        },
        rpc_session_id: crate::security::random_token(),
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
            let service = hyper::service::service_fn(move |req| {
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

async fn handle(ctx: &Ctx, req: Request<Incoming>, peer: IpAddr) -> Response<Body> {
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

/// Reads a request body of at most `limit` bytes within `deadline`, or
/// answers 413 (refused from its declared length before any of it is read)
/// or 408. Either error closes the connection, as the rest of the body is
/// left unread.
pub(crate) async fn read_body(
    req: Request<Incoming>,
    limit: usize,
    deadline: Duration,
) -> Result<Bytes, Response<Body>> {
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(closing(too_large(limit)));
    }
    let collect = Limited::new(req.into_body(), limit).collect();
    match tokio::time::timeout(deadline, collect).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => {
            Err(closing(too_large(limit)))
        }
        Ok(Err(_)) => Err(closing(error(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "could not read the request body",
        ))),
        Err(_) => Err(closing(error(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            &format!(
                "the request body did not arrive within {} s",
                deadline.as_secs()
            ),
        ))),
    }
}

/// A 413 for JSON whose structure (not its strings) exceeds
/// [`MAX_JSON_STRUCTURE`], to answer before it is parsed into a generic
/// value. Only a scan: whether the JSON is valid is left to the parser.
pub(crate) fn json_too_big(body: &[u8]) -> Option<Response<Body>> {
    let mut structure = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'[' | b'{' | b',' | b':' => structure += 1,
                _ => {}
            }
        }
    }
    (structure > MAX_JSON_STRUCTURE).then(|| {
        closing(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!("request body has more than {MAX_JSON_STRUCTURE} JSON elements"),
        ))
    })
}

/// An answer of 413 for a body over `limit`.
pub(crate) fn too_large(limit: usize) -> Response<Body> {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        &format!("request body is larger than {limit} bytes"),
    )
}

/// `resp` with `Connection: close`.
fn closing(mut resp: Response<Body>) -> Response<Body> {
    resp.headers_mut()
        .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    resp
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
