//! Transmission's RPC at `/transmission/rpc`, so `transmission-remote` and
//! the tools built on it (Sonarr, Radarr, Flood, the `transmission-rpc`
//! libraries …) drive shoal unchanged: the legacy protocol
//! (`{"method": "torrent-get", "arguments": …, "tag": …}`) and JSON-RPC 2.0 (`{"jsonrpc": "2.0", "method":
//! "torrent_get", "params": …, "id": …}`, batches included) as Transmission
//! 4.1 added. Keys may be spelled in kebab-case, camelCase or snake_case.
//!
//! The session-id handshake: a request without the current
//! `X-Transmission-Session-Id` gets 409 and the id to use; it protects
//! against cross-site requests, as a browser page cannot read the header.

mod args;
mod edits;
mod fields;
mod file_lists;
mod groups;
mod jsonrpc;
mod methods;
mod session;
mod summary_rows;
mod torrent_detail;
mod torrent_get;
mod torrent_set;

pub(crate) use fields::mime_of;

use hyper::body::Incoming;
use hyper::header::{CONNECTION, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value};

use crate::web::{Body, Ctx, SMALL_BODY, json_too_big, read_body, response, too_large};
use args::{Style, canonical};
use file_lists::{Deferred, Expanded};

/// Free bytes on the file system holding `path`.
pub(crate) fn free_bytes(path: &std::path::Path) -> Option<u64> {
    session::disk_space(path).map(|(free, _)| free)
}

/// The session-id header.
const SESSION_HEADER: &str = "x-transmission-session-id";

/// Answers one RPC request.
pub(crate) async fn handle(ctx: &Ctx, req: Request<Incoming>) -> Response<Body> {
    let id_ok = req
        .headers()
        .get(SESSION_HEADER)
        .is_some_and(|v| v.as_bytes() == ctx.rpc_session_id.as_bytes());
    if !id_ok {
        // The body is read and dropped so the connection stays usable for
        // the retry (clients resend on the same one); one that cannot be
        // read ends the connection, and the answer says so.
        let drained = read_body(req, SMALL_BODY, ctx.body_timeout).await.is_ok();
        let mut resp = response(
            StatusCode::CONFLICT,
            "text/html; charset=utf-8",
            format!(
                "<h1>409: Conflict</h1><p>Your request had an invalid session-id header.</p>\
                 <p><code>X-Transmission-Session-Id: {}</code></p>",
                ctx.rpc_session_id
            ),
        );
        if let Ok(v) = HeaderValue::from_str(&ctx.rpc_session_id) {
            resp.headers_mut().insert(SESSION_HEADER, v);
        }
        if !drained {
            resp.headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        return resp;
    }
    if req.method() != Method::POST {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "use POST",
            None,
            None,
            &Deferred::default(),
        );
    }
    let body = match read_body(req, ctx.max_body, ctx.body_timeout).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    if let Some(resp) = json_too_big(&body) {
        return resp;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        if jsonrpc::looks_like(&body) {
            return jsonrpc::parse_error();
        }
        return reply(
            StatusCode::BAD_REQUEST,
            "invalid JSON in request",
            None,
            None,
            &Deferred::default(),
        );
    };
    if body.len() > SMALL_BODY && !may_be_big(&request) {
        return too_large(SMALL_BODY);
    }
    if jsonrpc::is_jsonrpc(&request) {
        return jsonrpc::handle(ctx, request).await;
    }
    let tag = request
        .get("tag")
        .filter(|t| t.is_i64() || t.is_u64())
        .cloned();
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return reply(
            StatusCode::OK,
            "no method name",
            None,
            tag,
            &Deferred::default(),
        );
    };
    let empty = Map::new();
    let args = canonical(
        request
            .get("arguments")
            .and_then(Value::as_object)
            .unwrap_or(&empty),
    );
    let mut deferred = Deferred::default();
    match methods::dispatch(ctx, method, &args, Style::Legacy, &mut deferred).await {
        Ok(arguments) => reply(StatusCode::OK, "success", Some(arguments), tag, &deferred),
        Err(err) => reply(StatusCode::OK, &err.message, None, tag, &deferred),
    }
}

/// Whether a request (or every request of a batch) may have a body over
/// [`SMALL_BODY`]: `torrent-add` (a .torrent file) and `torrent-set` (per-file
/// lists such as `files-wanted`, over 10k indices for a large torrent).
fn may_be_big(request: &Value) -> bool {
    let allowed = |r: &Value| {
        r.get("method")
            .and_then(Value::as_str)
            .is_some_and(|m| matches!(args::canon(m).as_str(), "torrent_add" | "torrent_set"))
    };
    match request {
        Value::Array(batch) => batch.iter().all(allowed),
        one => allowed(one),
    }
}

/// An RPC answer: `result` is "success" or the error, `tag` echoed.
fn reply(
    status: StatusCode,
    result: &str,
    arguments: Option<Value>,
    tag: Option<Value>,
    deferred: &Deferred,
) -> Response<Body> {
    // Built by moving `arguments` in: `json!` would copy the whole tree.
    let mut body = Map::new();
    body.insert("result".into(), result.into());
    body.insert(
        "arguments".into(),
        arguments.unwrap_or_else(|| Value::Object(Map::new())),
    );
    if let Some(tag) = tag {
        body.insert("tag".into(), tag);
    }
    let value = &Value::Object(body);
    crate::web::json(status, &Expanded { value, deferred })
}
