//! Transmission's RPC (protocol version 16, as Transmission 3.00 speaks it)
//! at `/transmission/rpc`, so `transmission-remote` and the tools built on
//! it (Sonarr, Radarr, Flood …) can drive shoal unchanged.
//!
//! The session-id handshake: a request without the current
//! `X-Transmission-Session-Id` gets 409 and the id to use; it protects
//! against cross-site requests, as a browser page cannot read the header.

mod args;
mod session;
mod torrent_get;
mod torrent_set;

use std::path::PathBuf;

use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::http::{Body, Ctx, read_body, response};
use args::{each, flag};

/// The session-id header.
const SESSION_HEADER: &str = "x-transmission-session-id";

/// Answers one RPC request.
pub(crate) async fn handle(ctx: &Ctx, req: Request<Incoming>) -> Response<Body> {
    let id_ok = req
        .headers()
        .get(SESSION_HEADER)
        .is_some_and(|v| v.as_bytes() == ctx.rpc_session_id.as_bytes());
    if !id_ok {
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
        return resp;
    }
    if req.method() != Method::POST {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "use POST", None, None);
    }
    let body = match read_body(req, ctx.max_body).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return reply(
            StatusCode::BAD_REQUEST,
            "invalid JSON in request",
            None,
            None,
        );
    };
    let tag = request
        .get("tag")
        .filter(|t| t.is_i64() || t.is_u64())
        .cloned();
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return reply(StatusCode::OK, "no method name", None, tag);
    };
    let empty = Map::new();
    let args = request
        .get("arguments")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    match dispatch(ctx, method, args).await {
        Ok(arguments) => reply(StatusCode::OK, "success", Some(arguments), tag),
        Err(message) => reply(StatusCode::OK, &message, None, tag),
    }
}

/// An RPC answer: `result` is "success" or the error, `tag` echoed.
fn reply(
    status: StatusCode,
    result: &str,
    arguments: Option<Value>,
    tag: Option<Value>,
) -> Response<Body> {
    let mut body = json!({ "result": result, "arguments": arguments.unwrap_or_else(|| json!({})) });
    if let (Some(tag), Some(obj)) = (tag, body.as_object_mut()) {
        obj.insert("tag".into(), tag);
    }
    crate::http::json(status, &body)
}

/// Runs one method.
async fn dispatch(ctx: &Ctx, method: &str, args: &Map<String, Value>) -> Result<Value, String> {
    let d = &ctx.daemon;
    match method {
        "session-get" => Ok(session::session_get(d)),
        "session-set" => session::session_set(d, args),
        "session-stats" => Ok(session::session_stats(d)),
        "torrent-get" => torrent_get::torrent_get(d, args),
        "torrent-add" => torrent_set::torrent_add(d, args).await,
        "torrent-start" | "torrent-start-now" => each(d, args, |d, id| d.start_torrent(id)),
        "torrent-stop" => each(d, args, |d, id| d.stop_torrent(id)),
        "torrent-verify" => each(d, args, |d, id| d.verify_torrent(id)),
        "torrent-reannounce" => each(d, args, |d, id| d.reannounce_torrent(id)),
        "torrent-remove" => {
            let delete = flag(args, "delete-local-data").unwrap_or(false);
            each(d, args, |d, id| d.remove_torrent(id, delete))
        }
        "torrent-set" => torrent_set::torrent_set(d, args),
        "torrent-set-location" => {
            let location = args
                .get("location")
                .and_then(Value::as_str)
                .ok_or("torrent-set-location needs a location")?;
            let move_data = flag(args, "move").unwrap_or(false);
            let dir = PathBuf::from(location);
            each(d, args, |d, id| d.set_location(id, &dir, move_data))
        }
        "port-test" => Ok(json!({ "port-is-open": false })),
        "free-space" => Ok(
            json!({ "path": args.get("path").cloned().unwrap_or(Value::Null), "size-bytes": -1 }),
        ),
        _ => Err("method name not recognized".into()),
    }
}
