//! The plain-text answers most qBittorrent endpoints give.

use hyper::{Response, StatusCode};

use crate::web::{Body, response};

/// A plain-text answer, as most qBittorrent endpoints give.
pub(super) fn text(status: StatusCode, body: &str) -> Response<Body> {
    response(status, "text/plain; charset=UTF-8", body.to_owned())
}

/// `Ok.`
pub(super) fn ok() -> Response<Body> {
    text(StatusCode::OK, "Ok.")
}
