//! `/api/v2/torrents/…`: reading torrents and acting on them (add, start,
//! stop, delete, recheck, move, categories, tags, limits, queue).

use std::path::PathBuf;

use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use super::form::Form;
use super::info;
use super::reply::{ok, text};
use crate::manager::{CategoryError, CategoryMode, MAX_CATEGORIES};
use crate::store::LimitMode;
use crate::web::Body;
use crate::{AddRequest, AddSource, Daemon, DaemonError, QueueMove, TorrentChanges};

/// Most torrents one `torrents/add` may add.
const MAX_ADD: usize = 100;

/// The ids `hashes` names (`all`: every torrent).
fn ids(d: &Daemon, form: &Form) -> Vec<u32> {
    let hashes = form.hashes();
    if hashes.iter().any(|h| h == "all") {
        return d.ids();
    }
    hashes.iter().filter_map(|h| d.resolve(h)).collect()
}

/// Runs `f` on each named torrent; `Ok.` or the first error.
fn each(
    d: &Daemon,
    form: &Form,
    f: impl Fn(&Daemon, u32) -> Result<(), DaemonError>,
) -> Response<Body> {
    for id in ids(d, form) {
        if let Err(e) = f(d, id) {
            return failed(&e);
        }
    }
    ok()
}

fn failed(e: &DaemonError) -> Response<Body> {
    let status = match e {
        DaemonError::NotFound(_) => StatusCode::NOT_FOUND,
        DaemonError::BadRequest(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    text(status, &e.to_string())
}

fn json_ok(v: &Value) -> Response<Body> {
    crate::web::json(StatusCode::OK, v)
}

/// `tags`: comma-separated names, trimmed, empty ones dropped.
fn tag_list(form: &Form) -> Vec<String> {
    form.get("tags")
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Answers one `torrents/<name>` call.
pub(super) async fn handle(d: &Daemon, name: &str, form: &Form) -> Response<Body> {
    let one = || {
        form.get("hash")
            .and_then(|h| d.resolve(h))
            .and_then(|id| d.snapshot(id))
    };
    match name {
        "info" => crate::web::response(StatusCode::OK, "application/json", info::list(d, form)),
        "properties" => one().map_or_else(not_found, |s| json_ok(&info::properties(&s))),
        "files" => one().map_or_else(not_found, |s| {
            crate::web::json(StatusCode::OK, &info::Files(&s))
        }),
        "trackers" => one().map_or_else(not_found, |s| {
            // Shown with the swarm counts: refresh them if stale.
            d.want_scrape(s.record.id);
            json_ok(&info::trackers(&s))
        }),
        "webseeds" => one().map_or_else(not_found, |s| {
            let seeds = s
                .torrent
                .as_ref()
                .map(|t| t.web_seeds.clone())
                .unwrap_or_default();
            json_ok(&seeds.iter().map(|u| json!({ "url": u })).collect::<Value>())
        }),
        "pieceStates" => one().map_or_else(not_found, |s| {
            let detail = crate::view::detail(&s, crate::view::FilePage::NONE);
            use base64::Engine as _;
            let have = base64::engine::general_purpose::STANDARD
                .decode(&detail.pieces)
                .unwrap_or_default();
            let states: Vec<u8> = (0..s.stats.pieces_total as usize)
                .map(|p| {
                    let got = have.get(p / 8).is_some_and(|b| b & (0x80 >> (p % 8)) != 0);
                    if got { 2 } else { 0 }
                })
                .collect();
            json_ok(&json!(states))
        }),
        "add" => add(d, form).await,
        "start" | "resume" => each(d, form, |d, id| d.start_torrent(id)),
        "stop" | "pause" => each(d, form, |d, id| d.stop_torrent(id)),
        "recheck" => each(d, form, |d, id| d.verify_torrent(id)),
        "reannounce" => each(d, form, |d, id| d.reannounce_torrent(id)),
        "delete" => {
            let delete = form.flag("deleteFiles").unwrap_or(false);
            each(d, form, |d, id| d.remove_torrent(id, delete))
        }
        "setLocation" => {
            let Some(dir) = form.get("location") else {
                return text(StatusCode::BAD_REQUEST, "location is missing");
            };
            let dir = PathBuf::from(dir);
            each(d, form, |d, id| d.set_location(id, &dir, true))
        }
        "topPrio" | "bottomPrio" | "increasePrio" | "decreasePrio" => {
            if d.queue_limits() == (0, 0) {
                return text(StatusCode::CONFLICT, "Torrent queueing must be enabled");
            }
            let how = match name {
                "topPrio" => QueueMove::Top,
                "bottomPrio" => QueueMove::Bottom,
                "increasePrio" => QueueMove::Up,
                _ => QueueMove::Down,
            };
            match d.queue_move(&ids(d, form), how) {
                Ok(()) => ok(),
                Err(e) => failed(&e),
            }
        }
        // qBittorrent's 0 skip, 1 normal, 6 high, 7 maximal; `id` is
        // `|`-separated file indices.
        "filePrio" => {
            if form.get("id").is_none() || form.get("priority").is_none() {
                // qBittorrent's answer to a missing parameter.
                return text(StatusCode::BAD_REQUEST, "Bad Request");
            }
            let priority = match form.get("priority").and_then(|p| p.parse::<u8>().ok()) {
                Some(0) => 0,
                Some(1) => 4,
                Some(6) => 6,
                Some(7) => 7,
                _ => return text(StatusCode::BAD_REQUEST, "priority is 0, 1, 6 or 7"),
            };
            let files: Option<Vec<usize>> = form
                .get("id")
                .map(|ids| ids.split('|').map(|i| i.parse().ok()).collect())
                .unwrap_or(None);
            let Some(files) = files.filter(|f| !f.is_empty()) else {
                return text(StatusCode::BAD_REQUEST, "id is missing or not file indices");
            };
            let Some(id) = form.get("hash").and_then(|h| d.resolve(h)) else {
                return not_found();
            };
            let changes = TorrentChanges {
                file_priorities: files.into_iter().map(|f| (f, priority)).collect(),
                ..TorrentChanges::default()
            };
            updated(d.change(id, &changes))
        }
        // The name shown, as qBittorrent's rename: the files keep theirs.
        "rename" => {
            let (Some(hash), Some(name)) = (form.get("hash"), form.get("name")) else {
                return text(StatusCode::BAD_REQUEST, "Bad Request");
            };
            let Some(id) = d.resolve(hash) else {
                return not_found();
            };
            let changes = TorrentChanges {
                name: Some(name.to_owned()),
                ..TorrentChanges::default()
            };
            updated(d.change(id, &changes))
        }
        "toggleFirstLastPiecePrio" => each(d, form, |d, id| {
            let now = d.view(id).is_some_and(|v| v.first_last_pieces);
            d.change(
                id,
                &TorrentChanges {
                    first_last_pieces: Some(!now),
                    ..TorrentChanges::default()
                },
            )
        }),
        "toggleSequentialDownload" => each(d, form, |d, id| {
            let now = d.view(id).is_some_and(|v| v.sequential);
            d.change(
                id,
                &TorrentChanges {
                    sequential: Some(!now),
                    ..TorrentChanges::default()
                },
            )
        }),
        "setDownloadLimit" | "setUploadLimit" => {
            let limit = form
                .get("limit")
                .and_then(|l| l.parse::<i64>().ok())
                .map(|l| u64::try_from(l).ok().filter(|l| *l > 0));
            let Some(limit) = limit else {
                return text(StatusCode::BAD_REQUEST, "limit is missing");
            };
            let changes = if name == "setDownloadLimit" {
                TorrentChanges {
                    max_download: Some(limit),
                    ..TorrentChanges::default()
                }
            } else {
                TorrentChanges {
                    max_upload: Some(limit),
                    ..TorrentChanges::default()
                }
            };
            each(d, form, |d, id| d.change(id, &changes))
        }
        "setShareLimits" => each(d, form, |d, id| d.change(id, &share_limits(form))),
        "setCategory" => {
            let category = form.get("category").unwrap_or_default();
            if !category.is_empty() && !d.daemon_record().categories.contains_key(category) {
                return text(StatusCode::CONFLICT, "Category does not exist");
            }
            let changes = TorrentChanges {
                category: Some(Some(category.to_owned()).filter(|c| !c.is_empty())),
                ..TorrentChanges::default()
            };
            each(d, form, |d, id| d.change(id, &changes))
        }
        "categories" => {
            let record = d.daemon_record();
            let cats: serde_json::Map<String, Value> = record
                .categories
                .iter()
                .map(|(name, path)| (name.clone(), super::options::category(&record, name, path)))
                .collect();
            json_ok(&Value::Object(cats))
        }
        "createCategory" | "editCategory" => {
            let Some(category) = form.get("category").filter(|c| !c.is_empty()) else {
                return text(StatusCode::BAD_REQUEST, "category is missing");
            };
            let download = form.get("downloadPath").unwrap_or_default();
            if !download.is_empty() {
                if let Err(e) = crate::manager::check_dir(&PathBuf::from(download)) {
                    return failed(&e);
                }
            }
            let mode = if name == "createCategory" {
                CategoryMode::Create
            } else {
                CategoryMode::Edit
            };
            let path = form.get("savePath").unwrap_or_default();
            let set = d.set_category(category, path, mode, |r, name| {
                super::options::set_category_download_path(r, name, Some(form));
            });
            match set {
                Ok(_) => ok(),
                Err(CategoryError::Exists(_)) => {
                    text(StatusCode::CONFLICT, "Category already exists")
                }
                Err(CategoryError::Missing(_)) => {
                    text(StatusCode::CONFLICT, "Category does not exist")
                }
                Err(e @ CategoryError::TooMany) => text(StatusCode::CONFLICT, &e.to_string()),
                Err(CategoryError::Daemon(e)) => failed(&e),
            }
        }
        "removeCategories" => {
            let names: Vec<String> = form
                .get("categories")
                .map(|c| c.split('\n').map(str::to_owned).collect())
                .unwrap_or_default();
            let removed = d.remove_categories(&names, |r, name| {
                super::options::set_category_download_path(r, name, None);
            });
            removed.map_or_else(|e| failed(&e), |()| ok())
        }
        "tags" => {
            let mut tags = d.daemon_record().tags;
            for s in d.snapshots() {
                tags.extend(s.record.labels.iter().cloned());
            }
            tags.sort();
            tags.dedup();
            json_ok(&json!(tags))
        }
        "createTags" => {
            let new = match crate::manager::check_labels(tag_list(form)) {
                Ok(t) => t,
                Err(e) => return failed(&e),
            };
            updated(d.update_daemon(|r| {
                for t in new {
                    if !r.tags.contains(&t) && r.tags.len() < 1024 {
                        r.tags.push(t);
                    }
                }
            }))
        }
        "deleteTags" => {
            let gone = tag_list(form);
            if let Err(e) = d.update_daemon(|r| r.tags.retain(|t| !gone.contains(t))) {
                return failed(&e);
            }
            for s in d.snapshots() {
                if s.record.labels.iter().any(|l| gone.contains(l)) {
                    let labels = s
                        .record
                        .labels
                        .iter()
                        .filter(|l| !gone.contains(l))
                        .cloned()
                        .collect();
                    let _ = d.change(
                        s.record.id,
                        &TorrentChanges {
                            labels: Some(labels),
                            ..TorrentChanges::default()
                        },
                    );
                }
            }
            ok()
        }
        "addTags" | "removeTags" => {
            let tags = tag_list(form);
            let adding = name == "addTags";
            each(d, form, |d, id| {
                let Some(mut labels) = d.view(id).map(|v| v.labels) else {
                    return Ok(());
                };
                if adding {
                    labels.extend(
                        tags.iter()
                            .filter(|t| !labels.contains(t))
                            .cloned()
                            .collect::<Vec<_>>(),
                    );
                } else if tags.is_empty() {
                    labels.clear();
                } else {
                    labels.retain(|l| !tags.contains(l));
                }
                d.change(
                    id,
                    &TorrentChanges {
                        labels: Some(labels),
                        ..TorrentChanges::default()
                    },
                )
            })
        }
        _ => text(StatusCode::NOT_FOUND, "Not Found"),
    }
}

fn not_found() -> Response<Body> {
    // qBittorrent's bare answer: clients name the hash themselves.
    text(StatusCode::NOT_FOUND, "Not Found")
}

fn updated(r: Result<(), DaemonError>) -> Response<Body> {
    match r {
        Ok(()) => ok(),
        Err(e) => failed(&e),
    }
}

/// `setShareLimits`: `ratioLimit` and `inactiveSeedingTimeLimit` (minutes):
/// -2 the session's, -1 none, else the torrent's own. `seedingTimeLimit`
/// (total seeding time) has no counterpart in shoal and is ignored.
fn share_limits(form: &Form) -> TorrentChanges {
    let mut c = TorrentChanges::default();
    if let Some(r) = form.get("ratioLimit").and_then(|r| r.parse::<f64>().ok()) {
        if (r + 2.0).abs() < 1e-9 {
            c.seed_ratio_mode = Some(LimitMode::Session);
        } else if r < 0.0 {
            c.seed_ratio_mode = Some(LimitMode::Unlimited);
        } else {
            c.seed_ratio_mode = Some(LimitMode::Own);
            c.seed_ratio_limit = Some(Some(r));
        }
    }
    if let Some(m) = form
        .get("seedingTimeLimit")
        .and_then(|m| m.parse::<i64>().ok())
    {
        match m {
            -2 => c.seed_time_mode = Some(LimitMode::Session),
            m if m < 0 => c.seed_time_mode = Some(LimitMode::Unlimited),
            m => {
                c.seed_time_mode = Some(LimitMode::Own);
                c.seed_time_limit = Some(Some(m.unsigned_abs().saturating_mul(60)));
            }
        }
    }
    if let Some(m) = form
        .get("inactiveSeedingTimeLimit")
        .and_then(|m| m.parse::<i64>().ok())
    {
        match m {
            -2 => c.seed_idle_mode = Some(LimitMode::Session),
            m if m < 0 => c.seed_idle_mode = Some(LimitMode::Unlimited),
            m => {
                c.seed_idle_mode = Some(LimitMode::Own);
                c.seed_idle_limit =
                    Some(Some(m.unsigned_abs().saturating_mul(60)).filter(|s| *s > 0));
            }
        }
    }
    c
}

/// The options `torrents/add` takes beyond where and how: `upLimit` and
/// `dlLimit` (bytes per second; 0 or less none) and the share limits.
/// `firstLastPiecePrio` and `rename` (the name shown).
fn add_options(form: &Form) -> TorrentChanges {
    let limit = |key: &str| {
        form.get(key)
            .and_then(|l| l.trim().parse::<i64>().ok())
            .map(|l| u64::try_from(l).ok().filter(|l| *l > 0))
    };
    TorrentChanges {
        max_upload: limit("upLimit"),
        max_download: limit("dlLimit"),
        first_last_pieces: form.flag("firstLastPiecePrio").filter(|on| *on),
        name: form
            .get("rename")
            .filter(|n| !n.trim().is_empty())
            .map(str::to_owned),
        ..share_limits(form)
    }
}

/// The content layout asked for on add: `Some(true)` a folder around a
/// lone file (`Subfolder`, legacy `root_folder=true`), `Some(false)` no top
/// folder (`NoSubfolder`, `root_folder=false`), `None` as the torrent has
/// it (`Original`).
fn layout(form: &Form) -> Option<bool> {
    match form.get("contentLayout") {
        Some("Subfolder") => Some(true),
        Some("NoSubfolder") => Some(false),
        Some(_) => None,
        None => form.flag("root_folder"),
    }
}

/// `torrents/add`: `urls` (newline-separated magnet links or http(s) URLs)
/// and/or uploaded .torrent files, with `savepath`, `category`, `tags`,
/// `stopped`/`paused`, `sequentialDownload`.
async fn add(d: &Daemon, form: &Form) -> Response<Body> {
    let mut sources: Vec<AddSource> = form
        .get("urls")
        .map(|u| {
            u.split('\n')
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(|u| {
                    if u.get(..7)
                        .is_some_and(|p| p.eq_ignore_ascii_case("magnet:"))
                    {
                        AddSource::Magnet(u.to_owned())
                    } else {
                        AddSource::Url(u.to_owned())
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    sources.extend(
        form.files
            .iter()
            .map(|(_, bytes)| AddSource::Metainfo(bytes.clone())),
    );
    if sources.is_empty() {
        return text(StatusCode::BAD_REQUEST, "Fails.");
    }
    if sources.len() > MAX_ADD {
        return text(
            StatusCode::BAD_REQUEST,
            &format!("at most {MAX_ADD} torrents at once"),
        );
    }
    let category = form
        .get("category")
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let record = d.daemon_record();
    if let Some(c) = &category {
        if let Err(e) = crate::manager::check_category(c) {
            return failed(&e);
        }
        if !record.categories.contains_key(c) && record.categories.len() >= MAX_CATEGORIES {
            return text(
                StatusCode::CONFLICT,
                &format!("at most {MAX_CATEGORIES} categories"),
            );
        }
        if !record.categories.contains_key(c) {
            // qBittorrent creates a category named on add.
            if let Err(e) = d.update_daemon(|r| {
                r.categories.insert(c.clone(), String::new());
            }) {
                return failed(&e);
            }
        }
    }
    let savepath = form
        .get("savepath")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            let path = category.as_ref().and_then(|c| record.categories.get(c))?;
            (!path.is_empty()).then(|| PathBuf::from(path))
        });
    let paused = form.flag("stopped").or_else(|| form.flag("paused"));
    let mut added = 0;
    for source in sources {
        let is_file = matches!(source, AddSource::Metainfo(_));
        let outcome = d
            .add(AddRequest {
                source,
                download_dir: savepath.clone(),
                paused,
                file_priorities: None,
                sequential: form.flag("sequentialDownload").unwrap_or(false),
                labels: tag_list(form),
                category: category.clone(),
            })
            .await;
        match outcome {
            Ok(crate::AddOutcome::Added { id, .. }) => {
                added += 1;
                if let Err(e) = d.change(id, &add_options(form)) {
                    return failed(&e);
                }
                if let Some(path) = form.get("downloadPath").filter(|p| !p.is_empty()) {
                    if form.flag("useDownloadPath") != Some(false) {
                        let mut m = serde_json::Map::new();
                        m.insert(super::options::DOWNLOAD_PATH.into(), path.into());
                        if let Err(e) = d.store_torrent_settings(id, m) {
                            return failed(&e);
                        }
                    }
                }
                if let Some(subfolder) = layout(form) {
                    if let Err(e) = d.set_layout(id, subfolder).await {
                        return failed(&e);
                    }
                }
            }
            Ok(crate::AddOutcome::Duplicate { .. }) => {}
            // As qBittorrent: an uploaded file that is no torrent is 415.
            Err(DaemonError::BadRequest(_)) if is_file => {
                return text(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "Torrent file is not valid",
                );
            }
            Err(e) => return failed(&e),
        }
    }
    if added == 0 {
        // Every one was already there.
        return text(StatusCode::CONFLICT, "Fails.");
    }
    ok()
}
