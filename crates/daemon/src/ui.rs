//! The web UI: hand-written HTML, CSS and JavaScript modules embedded in
//! the binary (no build step, nothing fetched from elsewhere).

use hyper::header::HeaderValue;
use hyper::{Method, Response, StatusCode};

use crate::web::{Body, error, response};

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every asset: its path, body and content type. The modules import each
/// other by these paths.
const ASSETS: &[(&str, &str, &str)] = &[
    ("/", include_str!("../ui/index.html"), HTML),
    ("/index.html", include_str!("../ui/index.html"), HTML),
    ("/style.css", include_str!("../ui/style.css"), CSS),
    ("/app.js", include_str!("../ui/app.js"), JS),
    ("/api.js", include_str!("../ui/api.js"), JS),
    ("/add.js", include_str!("../ui/add.js"), JS),
    ("/columns.js", include_str!("../ui/columns.js"), JS),
    ("/details.js", include_str!("../ui/details.js"), JS),
    ("/format.js", include_str!("../ui/format.js"), JS),
    ("/graph.js", include_str!("../ui/graph.js"), JS),
    ("/list.js", include_str!("../ui/list.js"), JS),
    ("/settings.js", include_str!("../ui/settings.js"), JS),
    ("/toolbar.js", include_str!("../ui/toolbar.js"), JS),
];

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
    let Some((_, body, kind)) = ASSETS.iter().find(|(p, _, _)| *p == path) else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such page");
    };
    let mut resp = response(StatusCode::OK, kind, *body);
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
