//! What every HTTP handler shares: the context of a running server, the
//! response body type, body reading with a size cap, and response helpers.
//! Handlers depend on this module, never on the server (`http`), which
//! depends on them.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};

use crate::security::{LoginSessions, Security};
use crate::{Daemon, DaemonError};

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
    /// qBittorrent WebAPI login sessions.
    pub qbt_sessions: LoginSessions,
    /// Failed qBittorrent logins by address (bans after too many).
    pub qbt_throttle: crate::login_throttle::LoginThrottle,
    /// What qBittorrent `sync/maindata` answers showed, by `rid`.
    pub qbt_sync: crate::sync_log::SyncLog,
    /// Largest upload body.
    pub max_body: usize,
    /// Time for a whole request body to arrive.
    pub body_timeout: Duration,
}

/// The client's address, in each request's extensions (for login throttling).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Peer(pub std::net::IpAddr);

/// Reads and decodes a JSON body (see [`read_body`]), or answers with a
/// clear error.
pub(crate) async fn parse<T: serde::de::DeserializeOwned>(
    req: Request<Incoming>,
    limit: usize,
    deadline: Duration,
) -> Result<T, Response<Body>> {
    let bytes = read_body(req, limit, deadline).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "bad_json",
            &format!("invalid request body: {e}"),
        )
    })
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
