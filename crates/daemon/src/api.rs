//! The native JSON API under `/api/v1` (described in `openapi.yaml`).
//!
//! Reads are plain GETs. Every other method must carry the token from
//! `GET /api/v1/session` in `X-Shoal-Csrf`: a page on another origin can
//! neither read the token nor send a custom header without a CORS
//! preflight, which the daemon never approves.

use std::path::PathBuf;

use base64::Engine as _;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::view::FilePage;
use crate::web::{Body, Ctx, SMALL_BODY, daemon_error, error, json, parse, response};
use crate::{AddOutcome, AddRequest, AddSource, TorrentChanges};

/// The OpenAPI description served at `/api/v1/openapi.yaml`.
const OPENAPI: &str = include_str!("../openapi.yaml");

/// Body of `POST /api/v1/torrents`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    /// A .torrent file, base64.
    metainfo: Option<String>,
    /// A magnet link.
    magnet: Option<String>,
    /// An http(s) URL of a .torrent file.
    url: Option<String>,
    download_dir: Option<PathBuf>,
    paused: Option<bool>,
    file_priorities: Option<Vec<u8>>,
    #[serde(default)]
    sequential: bool,
    #[serde(default)]
    labels: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePriority {
    index: usize,
    priority: u8,
}

/// Body of `PATCH /api/v1/torrents/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    #[serde(default)]
    files: Vec<FilePriority>,
    sequential: Option<bool>,
    /// Bytes per second; 0 removes the limit.
    max_upload: Option<u64>,
    max_download: Option<u64>,
    /// A ratio; a negative value removes the limit.
    seed_ratio_limit: Option<f64>,
    /// Seconds without upload before seeding stops; 0 removes the limit.
    seed_idle_limit: Option<u64>,
    /// Move the torrent to this directory.
    download_dir: Option<PathBuf>,
    /// With `download_dir`: move the files too (default true).
    move_data: Option<bool>,
    /// Replaces the labels.
    labels: Option<Vec<String>>,
    /// Place in the queue, 0 first.
    queue_position: Option<usize>,
    /// The category (one of `/categories`); empty: none.
    category: Option<String>,
}

/// Answers a request for `/api/v1{rest}`.
pub(crate) async fn handle(ctx: &Ctx, req: Request<Incoming>, rest: &str) -> Response<Body> {
    let method = req.method().clone();
    if method != Method::GET && method != Method::HEAD {
        let token = req.headers().get("x-shoal-csrf").map(|v| v.as_bytes());
        if !ctx.security.csrf_ok(token) {
            return error(
                StatusCode::FORBIDDEN,
                "csrf",
                "missing or wrong X-Shoal-Csrf header (get the token from GET /api/v1/session)",
            );
        }
    }
    let query = req.uri().query().unwrap_or("").to_owned();
    let segments: Vec<String> = rest
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let d = &ctx.daemon;
    match (method, parts.as_slice()) {
        (Method::GET, ["openapi.yaml"]) => response(StatusCode::OK, "application/yaml", OPENAPI),
        (Method::GET, ["session"]) => {
            let mut settings = crate::session_api::settings(d);
            if let Some(map) = settings.as_object_mut() {
                map.insert("csrf_token".into(), json!(ctx.security.csrf_token));
            }
            json(StatusCode::OK, &settings)
        }
        (Method::PATCH, ["session"]) => match parse(req, SMALL_BODY, ctx.body_timeout).await {
            Ok(body) => crate::session_api::change(ctx, body),
            Err(resp) => resp,
        },
        (Method::GET, ["categories"]) => json(StatusCode::OK, &crate::category_api::list(ctx)),
        (method, ["categories"]) => crate::category_api::change(ctx, req, method).await,
        (Method::GET, ["torrents"]) => {
            let table = d.table();
            let body = crate::table::json_array(table.rows.iter());
            response(StatusCode::OK, "application/json", body)
        }
        (Method::POST, ["torrents"]) => add(ctx, req).await,
        (Method::GET, ["events"]) => crate::sse::stream(d.clone()),
        (method, ["torrents", key, tail @ ..]) => {
            let Some(id) = d.resolve(key) else {
                return error(
                    StatusCode::NOT_FOUND,
                    "not_found",
                    &format!("no torrent {key}"),
                );
            };
            torrent(ctx, req, method, id, tail, &query).await
        }
        _ => error(StatusCode::NOT_FOUND, "not_found", "no such endpoint"),
    }
}

async fn torrent(
    ctx: &Ctx,
    req: Request<Incoming>,
    method: Method,
    id: u32,
    tail: &[&str],
    query: &str,
) -> Response<Body> {
    let d = &ctx.daemon;
    let result = match (method, tail) {
        (Method::GET, []) => {
            // The detail shows the swarm counts: fresh ones, batched.
            d.want_scrape(id);
            return match d.detail(id, file_page(query)) {
                Some(detail) => json(StatusCode::OK, &detail),
                None => error(StatusCode::NOT_FOUND, "not_found", "torrent is gone"),
            };
        }
        (Method::GET, ["streams"]) => return streams(ctx, id),
        (Method::DELETE, []) => {
            let delete_data = query
                .split('&')
                .any(|kv| kv == "delete_data=true" || kv == "delete_data=1");
            d.remove_torrent(id, delete_data)
        }
        (Method::PATCH, []) => {
            let body: ChangeBody = match parse(req, SMALL_BODY, ctx.body_timeout).await {
                Ok(b) => b,
                Err(resp) => return resp,
            };
            if let Some(c) = body.category.as_deref().filter(|c| !c.is_empty()) {
                if !d.daemon_record().categories.contains_key(c) {
                    let why = format!("no category {c:?} (create it first)");
                    return error(StatusCode::BAD_REQUEST, "bad_request", &why);
                }
            }
            let changes = TorrentChanges {
                file_priorities: body.files.iter().map(|f| (f.index, f.priority)).collect(),
                sequential: body.sequential,
                max_upload: body.max_upload.map(|v| Some(v).filter(|v| *v > 0)),
                max_download: body.max_download.map(|v| Some(v).filter(|v| *v > 0)),
                seed_ratio_limit: body.seed_ratio_limit.map(|r| Some(r).filter(|r| *r >= 0.0)),
                seed_idle_limit: body.seed_idle_limit.map(|s| Some(s).filter(|s| *s > 0)),
                labels: body.labels,
                queue_position: body.queue_position,
                category: body.category.map(|c| Some(c).filter(|c| !c.is_empty())),
                ..TorrentChanges::default()
            };
            let changed = d.change(id, &changes);
            match (changed, body.download_dir) {
                (Ok(()), Some(dir)) => d.set_location(id, &dir, body.move_data.unwrap_or(true)),
                (other, _) => other,
            }
        }
        (Method::PATCH, ["trackers"]) => match parse(req, SMALL_BODY, ctx.body_timeout).await {
            Ok(edits) => crate::tracker_api::edit(d, id, edits),
            Err(resp) => return resp,
        },
        (Method::POST, ["start"]) => d.start_torrent(id),
        (Method::POST, ["stop"]) => d.stop_torrent(id),
        (Method::POST, ["verify"]) => d.verify_torrent(id),
        (Method::POST, ["reannounce"]) => d.reannounce_torrent(id),
        _ => return error(StatusCode::NOT_FOUND, "not_found", "no such endpoint"),
    };
    match result {
        Ok(()) => match d.view(id) {
            Some(view) => json(StatusCode::OK, &view),
            None => json(StatusCode::OK, &json!({ "removed": id })),
        },
        Err(e) => daemon_error(&e),
    }
}

/// The stream URL of each file of torrent `id` (`stream.rs`), with the
/// token a media player needs.
fn streams(ctx: &Ctx, id: u32) -> Response<Body> {
    let Some(snap) = ctx.daemon.snapshot(id) else {
        return error(StatusCode::NOT_FOUND, "not_found", "torrent is gone");
    };
    let hash = snap.record.info_hash.to_ascii_lowercase();
    let secret = &ctx.security.csrf_token;
    let Some(torrent) = &snap.torrent else {
        return json(StatusCode::OK, &json!({ "playlist": null, "files": [] }));
    };
    let files: Vec<_> = torrent
        .info
        .files
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.attr.pad)
        .map(|(index, f)| {
            json!({
                "index": index,
                "name": f.display_path(),
                "length": f.length,
                "content_type": crate::transmission::mime_of(&f.display_path()),
                "url": crate::stream::url(secret, &hash, index),
            })
        })
        .collect();
    let playlist = crate::stream::playlist_url(secret, &hash);
    json(
        StatusCode::OK,
        &json!({ "playlist": playlist, "files": files }),
    )
}

async fn add(ctx: &Ctx, req: Request<Incoming>) -> Response<Body> {
    let body: AddBody = match parse(req, ctx.max_body, ctx.body_timeout).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let source = match (body.metainfo, body.magnet, body.url) {
        (Some(meta), None, None) => {
            let cleaned: String = meta.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            match base64::engine::general_purpose::STANDARD.decode(cleaned) {
                Ok(bytes) => AddSource::Metainfo(bytes),
                Err(e) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        &format!("metainfo is not base64: {e}"),
                    );
                }
            }
        }
        (None, Some(link), None) => AddSource::Magnet(link),
        (None, None, Some(url)) => AddSource::Url(url),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "give exactly one of metainfo (base64 .torrent), magnet and url",
            );
        }
    };
    let outcome = ctx
        .daemon
        .add(AddRequest {
            source,
            download_dir: body.download_dir,
            paused: body.paused,
            file_priorities: body.file_priorities,
            sequential: body.sequential,
            labels: body.labels,
            category: None,
        })
        .await;
    match outcome {
        Ok(AddOutcome::Added { id, .. }) => match ctx.daemon.view(id) {
            Some(view) => json(StatusCode::CREATED, &view),
            None => json(StatusCode::CREATED, &json!({ "id": id })),
        },
        Ok(AddOutcome::Duplicate { id, hash, .. }) => error(
            StatusCode::CONFLICT,
            "duplicate",
            &format!("torrent {hash} is already added as {id}"),
        ),
        Err(e) => daemon_error(&e),
    }
}

/// Files listed by `GET /torrents/{key}` unless `files_limit` says otherwise.
pub const FILES_PAGE: usize = 1000;
/// Most files one `GET /torrents/{key}` lists (a hostile torrent has 500k).
pub const MAX_FILES_PAGE: usize = 10_000;

/// The page of files asked by `files_offset` and `files_limit` (default
/// [`FILES_PAGE`], at most [`MAX_FILES_PAGE`]).
fn file_page(query: &str) -> FilePage {
    let get = |key: &str| {
        query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.parse::<usize>().ok())
    };
    FilePage {
        offset: get("files_offset").unwrap_or(0),
        limit: get("files_limit").unwrap_or(FILES_PAGE).min(MAX_FILES_PAGE),
    }
}
