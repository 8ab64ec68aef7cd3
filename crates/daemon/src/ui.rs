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
    ("/categories.js", include_str!("../ui/categories.js"), JS),
    ("/columns.js", include_str!("../ui/columns.js"), JS),
    ("/details.js", include_str!("../ui/details.js"), JS),
    ("/format.js", include_str!("../ui/format.js"), JS),
    ("/graph.js", include_str!("../ui/graph.js"), JS),
    ("/list.js", include_str!("../ui/list.js"), JS),
    ("/settings.js", include_str!("../ui/settings.js"), JS),
    ("/toolbar.js", include_str!("../ui/toolbar.js"), JS),
    ("/trackers.js", include_str!("../ui/trackers.js"), JS),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What index.html loads.
    const INDEX_LINKS: [&str; 2] = ["/app.js", "/style.css"];

    /// Every module a served module imports is served too (a missing
    /// entry would only show in a browser otherwise).
    #[test]
    fn every_import_is_served() {
        let served = |p: &str| ASSETS.iter().any(|(path, _, _)| *path == p);
        let mut imports = 0;
        for (path, body, kind) in ASSETS {
            if *kind != JS {
                continue;
            }
            for part in body.split("from \"./").skip(1) {
                let name = part.split('"').next().unwrap_or_default();
                assert!(
                    served(&format!("/{name}")),
                    "{path} imports {name}, not served"
                );
                imports += 1;
            }
        }
        assert!(imports > 5, "found only {imports} imports");
        assert!(INDEX_LINKS.iter().all(|p| served(p)));
    }

    #[test]
    fn index_loads_the_app_as_a_module() {
        let html = ASSETS.first().map(|(_, body, _)| *body).unwrap_or_default();
        assert!(html.contains(r#"<script type="module" src="/app.js">"#));
        assert!(html.contains(r#"href="/style.css""#));
        let resp = handle("/list.js", &Method::GET);
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers().contains_key("content-security-policy"));
        assert_eq!(
            handle("/nope.js", &Method::GET).status(),
            StatusCode::NOT_FOUND
        );
    }
}
