//! qBittorrent's WebAPI v2 (`/api/v2/…`, qBittorrent 5 semantics) over the
//! same torrents as the other APIs: a qBittorrent tag is a Transmission
//! label, a category is kept on the torrent's record, so what one API sets
//! the others show. Tools built for qBittorrent (Sonarr, Radarr,
//! `qbittorrent-api` scripts) use it.
//!
//! Auth: with no credentials configured (the daemon then listens on
//! loopback only) every call is allowed and `auth/login` accepts any name,
//! as qBittorrent's localhost bypass does; otherwise `auth/login` checks the
//! configured pair and sets an `SID` cookie, and calls need it (or basic
//! auth, or the configured `api_key` as `Authorization: Bearer`, as
//! qBittorrent 5.2 takes API keys). A request whose `Origin`/`Referer` names another host is refused,
//! as qBittorrent refuses cross-site calls.

mod app;
mod edits;
mod form;
mod info;
mod limits;
mod object;
mod options;
mod peers;
mod reply;
mod sync;
mod torrents;

use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue, SET_COOKIE};
use hyper::{Method, Request, Response, StatusCode};

use crate::web::{Body, Ctx, Peer, SMALL_BODY, read_body};
use form::Form;
use reply::{ok, text};

/// The `SID` cookie of a request.
fn sid(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("SID=").map(str::to_owned))
}

/// Whether `Origin`/`Referer`, when sent, name the host asked (a page on
/// another site cannot drive the API with the user's cookie).
fn same_origin(req: &Request<Incoming>) -> bool {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok());
    [hyper::header::ORIGIN, hyper::header::REFERER]
        .iter()
        .filter_map(|h| req.headers().get(h))
        .all(|v| {
            let origin_host = v
                .to_str()
                .ok()
                .and_then(|v| v.split_once("://"))
                .map(|(_, rest)| rest.split('/').next().unwrap_or_default());
            origin_host.is_some() && origin_host == host
        })
}

/// Reads the parameters: the query string, then a urlencoded or multipart
/// body.
async fn read_form(
    ctx: &Ctx,
    req: Request<Incoming>,
    limit: usize,
) -> Result<Form, Response<Body>> {
    let mut form = Form::default();
    if let Some(q) = req.uri().query() {
        form.add_urlencoded(q);
    }
    if req.method() != Method::POST {
        return Ok(form);
    }
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = read_body(req, limit, ctx.body_timeout).await?;
    if let Some(boundary) = form::boundary(&content_type) {
        form.add_multipart(&body, &boundary)
            .map_err(|e| text(StatusCode::BAD_REQUEST, &e))?;
    } else {
        form.add_urlencoded(&String::from_utf8_lossy(&body));
    }
    Ok(form)
}

/// Answers one `/api/v2/…` request (`rest` is the part after `/api/v2`).
pub(crate) async fn handle(ctx: &Ctx, req: Request<Incoming>, rest: &str) -> Response<Body> {
    if !same_origin(&req) {
        return text(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let credentials = ctx.security.credentials.clone();
    let sid = sid(&req);
    let basic_ok = credentials.is_some()
        && ctx.security.authorized(
            req.headers()
                .get(hyper::header::AUTHORIZATION)
                .map(HeaderValue::as_bytes),
        );
    let key_ok = ctx.security.api_key_ok(
        req.headers()
            .get(hyper::header::AUTHORIZATION)
            .map(HeaderValue::as_bytes),
    );
    let authed = credentials.is_none()
        || basic_ok
        || key_ok
        || sid.as_deref().is_some_and(|s| ctx.qbt_sessions.knows(s));
    let method = req.method().clone();
    let remote = req.extensions().get::<Peer>().map(|p| p.0);
    // Only adding torrents uploads files; every other form is small.
    let limit = if rest == "/torrents/add" {
        ctx.max_body
    } else {
        SMALL_BODY
    };
    let form = match read_form(ctx, req, limit).await {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    match rest {
        "/auth/login" => {
            let now = std::time::Instant::now();
            if remote.is_some_and(|ip| ctx.qbt_throttle.banned(ip, now)) {
                return text(
                    StatusCode::FORBIDDEN,
                    "Your IP address has been banned after too many failed authentication attempts.",
                );
            }
            let good = credentials.as_ref().is_none_or(|(user, pass)| {
                // Both compared in full, so timing tells nothing.
                let same = |given: Option<&str>, want: &str| {
                    crate::security::constant_time_eq(
                        given.unwrap_or("").as_bytes(),
                        want.as_bytes(),
                    )
                };
                let user_ok = same(form.get("username"), user);
                let pass_ok = same(form.get("password"), pass);
                user_ok && pass_ok && form.get("password").is_some()
            });
            if let Some(ip) = remote {
                if good {
                    ctx.qbt_throttle.succeeded(ip);
                } else {
                    ctx.qbt_throttle.failed(ip, now);
                }
            }
            if !good {
                // Counted by qBittorrent's own rule above (`login_throttle`),
                // which its clients know, not by the basic-auth throttle.
                return text(StatusCode::OK, "Fails.");
            }
            let sid = ctx.qbt_sessions.add();
            let mut resp = ok();
            if let Ok(v) =
                HeaderValue::from_str(&format!("SID={sid}; HttpOnly; SameSite=Strict; path=/"))
            {
                resp.headers_mut().insert(SET_COOKIE, v);
            }
            return resp;
        }
        "/auth/logout" => {
            if method != Method::POST {
                return text(StatusCode::METHOD_NOT_ALLOWED, "use POST");
            }
            if let Some(s) = &sid {
                ctx.qbt_sessions.remove(s);
            }
            return ok();
        }
        _ => {}
    }
    if !authed {
        return text(StatusCode::FORBIDDEN, "Forbidden");
    }
    let d = &ctx.daemon;
    if let Some(name) = rest.strip_prefix("/app/") {
        return app::handle(ctx, name, &form);
    }
    if let Some(name) = rest.strip_prefix("/torrents/") {
        let writes = !matches!(
            name,
            "info"
                | "properties"
                | "trackers"
                | "webseeds"
                | "files"
                | "pieceStates"
                | "pieceHashes"
                | "uploadLimit"
                | "downloadLimit"
                | "categories"
                | "tags"
                | "count"
        );
        if writes && method != Method::POST {
            return text(StatusCode::METHOD_NOT_ALLOWED, "use POST");
        }
        match name {
            "uploadLimit" => return limits::torrent_limits(d, &form, false),
            "downloadLimit" => return limits::torrent_limits(d, &form, true),
            "pieceHashes" => return limits::piece_hashes(d, &form),
            _ => {}
        }
        if let Some(reply) = options::handle(d, name, &form) {
            return reply;
        }
        if let Some(reply) = edits::handle(d, name, &form).await {
            return reply;
        }
        return torrents::handle(d, name, &form).await;
    }
    match rest {
        "/transfer/info" => app::transfer_info(d),
        "/transfer/speedLimitsMode" => limits::speed_limits_mode(d),
        "/transfer/toggleSpeedLimitsMode" | "/transfer/setSpeedLimitsMode" => {
            if method != Method::POST {
                return text(StatusCode::METHOD_NOT_ALLOWED, "use POST");
            }
            let mode =
                (rest == "/transfer/setSpeedLimitsMode").then(|| form.get("mode").unwrap_or(""));
            limits::set_speed_limits_mode(d, mode)
        }
        "/transfer/setDownloadLimit" | "/transfer/setUploadLimit" => {
            if method != Method::POST {
                return text(StatusCode::METHOD_NOT_ALLOWED, "use POST");
            }
            limits::set_transfer_limit(d, &form, rest == "/transfer/setDownloadLimit")
        }
        "/transfer/downloadLimit" => {
            text(StatusCode::OK, &d.rate_limits().1.unwrap_or(0).to_string())
        }
        "/transfer/uploadLimit" => {
            text(StatusCode::OK, &d.rate_limits().0.unwrap_or(0).to_string())
        }
        "/sync/maindata" => sync::maindata(d, &ctx.qbt_sync, &form),
        "/sync/torrentPeers" => sync::torrent_peers(d, &ctx.qbt_sync, &form),
        "/log/main" => log_main(d, &form),
        // No peer is banned by address: the peer log stays empty.
        "/log/peers" => crate::web::json(StatusCode::OK, &serde_json::json!([])),
        _ => text(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// `log/main`: the daemon's recent messages after `last_known_id`, of the
/// types asked (`normal`, `info`, `warning`, `critical`; all by default).
fn log_main(d: &crate::Daemon, form: &Form) -> Response<Body> {
    use crate::event_log::Level;
    let on = |key: &str| form.get(key).is_none_or(|v| v != "false" && v != "0");
    let (normal, info, warning, critical) =
        (on("normal"), on("info"), on("warning"), on("critical"));
    let last_known = form
        .get("last_known_id")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .and_then(|v| u64::try_from(v).ok());
    let entries = d.log_since(last_known, |level| match level {
        Level::Normal => normal,
        Level::Info => info,
        Level::Warning => warning,
        Level::Critical => critical,
    });
    crate::web::json(StatusCode::OK, &entries)
}
