//! The web UI: hand-written HTML, CSS and JavaScript embedded in the
//! binary (no build step, nothing fetched from elsewhere).

use hyper::header::HeaderValue;
use hyper::{Method, Response, StatusCode};

use crate::web::{Body, error, response};

const INDEX: &str = include_str!("../ui/index.html");
const APP: &str = include_str!("../ui/app.js");
const STYLE: &str = include_str!("../ui/style.css");

/// Serves an asset, or 404.
pub(crate) fn handle(path: &str, method: &Method) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method",
            "UI assets are read-only",
        );
    }
    if path == "/favicon.ico" {
        // No icon; an empty answer keeps browsers from logging a 404.
        return response(StatusCode::NO_CONTENT, "image/x-icon", "");
    }
    let (body, kind) = match path {
        "/" | "/index.html" => (INDEX, "text/html; charset=utf-8"),
        "/app.js" => (APP, "text/javascript; charset=utf-8"),
        "/style.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return error(StatusCode::NOT_FOUND, "not_found", "no such page"),
    };
    let mut resp = response(StatusCode::OK, kind, body);
    let h = resp.headers_mut();
    // Only our own scripts and styles; no framing by other sites.
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    resp
}
