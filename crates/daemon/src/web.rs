//! What every HTTP handler shares: the context of a running server, the
//! response body type, body reading with a size cap, and response helpers.
//! Handlers depend on this module, never on the server (`http`), which
//! depends on them.

use std::convert::Infallible;

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
    /// What qBittorrent `sync/maindata` answers showed, by `rid`.
    pub qbt_sync: crate::sync_log::SyncLog,
    /// Largest upload body.
    pub max_body: usize,
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
