//! JSON-RPC 2.0 framing of the same methods (Transmission 4.1): requests
//! `{"jsonrpc": "2.0", "method": "torrent_get", "params": {…}, "id": 1}`,
//! answers `{"jsonrpc": "2.0", "result": {…}, "id": 1}` or an `error`
//! object with the codes of jsonrpc.org's specification; batches (arrays)
//! answered in one array; notifications (no `id`) not answered. Answer keys
//! are snake_case throughout.

use hyper::StatusCode;
use serde_json::{Map, Value, json};

use super::args::{Style, canonical, snake_keys};
use super::file_lists::{Deferred, Expanded};
use super::methods::{ErrorKind, dispatch};
use crate::web::{Body, Ctx, response};

/// The body was not JSON.
const PARSE_ERROR: i64 = -32700;
/// Not a request object.
const INVALID_REQUEST: i64 = -32600;
/// No such method.
const METHOD_NOT_FOUND: i64 = -32601;
/// The method failed (a server error in JSON-RPC's reserved range).
const SERVER_ERROR: i64 = -32000;
/// Most requests in one batch.
const MAX_BATCH: usize = 1000;

/// Whether a parsed body is JSON-RPC 2.0 (a `jsonrpc` member, or a batch).
pub(super) fn is_jsonrpc(request: &Value) -> bool {
    match request {
        Value::Array(_) => true,
        Value::Object(o) => o.contains_key("jsonrpc"),
        _ => false,
    }
}

/// Whether an unparsable body was meant as JSON-RPC (so the parse error
/// is answered in its framing).
pub(super) fn looks_like(body: &[u8]) -> bool {
    body.windows(9).any(|w| w == b"\"jsonrpc\"") || body.first() == Some(&b'[')
}

/// The answer to a body that is not JSON.
pub(super) fn parse_error() -> hyper::Response<Body> {
    crate::web::json(
        StatusCode::OK,
        &error_object(Value::Null, PARSE_ERROR, "parse error"),
    )
}

/// Answers one request or a batch.
pub(super) async fn handle(ctx: &Ctx, request: Value) -> hyper::Response<Body> {
    let mut deferred = Deferred::default();
    let answers = match request {
        Value::Array(batch) if batch.is_empty() || batch.len() > MAX_BATCH => {
            let message = format!("a batch holds 1 to {MAX_BATCH} requests");
            return crate::web::json(
                StatusCode::OK,
                &error_object(Value::Null, INVALID_REQUEST, &message),
            );
        }
        Value::Array(batch) => {
            let mut answers = Vec::new();
            for request in batch {
                answers.extend(one(ctx, request, &mut deferred).await);
            }
            Value::Array(answers)
        }
        request => match one(ctx, request, &mut deferred).await {
            Some(answer) => answer,
            None => Value::Null,
        },
    };
    match answers {
        // Only notifications: nothing to say.
        Value::Null => response(StatusCode::NO_CONTENT, "application/json", ""),
        Value::Array(a) if a.is_empty() => response(StatusCode::NO_CONTENT, "application/json", ""),
        answers => {
            let value = &answers;
            crate::web::json(
                StatusCode::OK,
                &Expanded {
                    value,
                    deferred: &deferred,
                },
            )
        }
    }
}

/// One request's answer; `None` for a notification.
async fn one(ctx: &Ctx, request: Value, deferred: &mut Deferred) -> Option<Value> {
    let Value::Object(request) = request else {
        return Some(error_object(
            Value::Null,
            INVALID_REQUEST,
            "a request is an object",
        ));
    };
    let id = request.get("id").cloned();
    let reply_id = id.clone().unwrap_or(Value::Null);
    let valid_id = matches!(
        id,
        None | Some(Value::Null | Value::Number(_) | Value::String(_))
    );
    let method = request.get("method").and_then(Value::as_str);
    let params = match request.get("params") {
        None => Some(Map::new()),
        Some(Value::Object(p)) => Some(canonical(p)),
        Some(_) => None,
    };
    let (Some(method), Some(params), true, Some("2.0")) = (
        method,
        params,
        valid_id,
        request.get("jsonrpc").and_then(Value::as_str),
    ) else {
        return Some(error_object(
            reply_id,
            INVALID_REQUEST,
            "not a JSON-RPC 2.0 request: jsonrpc \"2.0\", a method, params as an object",
        ));
    };
    let result = dispatch(ctx, method, &params, Style::Snake, deferred).await;
    // A notification is run but not answered.
    id.as_ref()?;
    Some(match result {
        Ok(value) => {
            // Built by moving the result in: `json!` would copy the tree.
            let mut answer = Map::new();
            answer.insert("jsonrpc".into(), "2.0".into());
            answer.insert("result".into(), snake_keys(value));
            answer.insert("id".into(), reply_id);
            Value::Object(answer)
        }
        Err(err) => {
            let code = match err.kind {
                ErrorKind::UnknownMethod => METHOD_NOT_FOUND,
                ErrorKind::Failed => SERVER_ERROR,
            };
            error_object(reply_id, code, &err.message)
        }
    })
}

/// An error answer; Transmission puts its explanation in
/// `data.error_string` too.
fn error_object(id: Value, code: i64, message: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "error": { "code": code, "message": message, "data": { "error_string": message } },
        "id": id,
    })
}
