//! `torrents/renameFile`, `renameFolder`, `addTrackers`, `editTracker`
//! (and WebAPI 2.13's `editTrackers`, which can also move a tracker to
//! another tier) and `removeTrackers`: edits of one torrent's files and
//! trackers.

use hyper::{Response, StatusCode};

use super::form::Form;
use super::reply::{ok, text};
use crate::manager::{
    add_trackers as add_to, check_tracker_text, remove_trackers as remove_from, replace_tracker,
};
use crate::web::Body;
use crate::{Daemon, DaemonError};

/// Answers one of the edit endpoints; `None` when `name` is none of them.
pub(super) async fn handle(d: &Daemon, name: &str, form: &Form) -> Option<Response<Body>> {
    if !matches!(
        name,
        "renameFile"
            | "renameFolder"
            | "addTrackers"
            | "editTracker"
            | "editTrackers"
            | "removeTrackers"
    ) {
        return None;
    }
    let Some(id) = form.get("hash").and_then(|h| d.resolve(h)) else {
        return Some(text(StatusCode::NOT_FOUND, "Torrent not found"));
    };
    Some(match name {
        "renameFile" | "renameFolder" => rename(d, id, form).await,
        "addTrackers" => add_trackers(d, id, form),
        "editTracker" | "editTrackers" => edit_tracker(d, id, form),
        _ => remove_trackers(d, id, form),
    })
}

/// An error as qBittorrent reports these: a conflict for what cannot be
/// done to this torrent, a bad request for malformed input.
fn failed(e: &DaemonError) -> Response<Body> {
    let status = match e {
        DaemonError::BadRequest(_) => StatusCode::BAD_REQUEST,
        DaemonError::NotFound(_) | DaemonError::Duplicate(_) => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    text(status, &e.to_string())
}

/// Renames a file or folder to another path (any folder of the torrent).
async fn rename(d: &Daemon, id: u32, form: &Form) -> Response<Body> {
    let (Some(from), Some(to)) = (form.get("oldPath"), form.get("newPath")) else {
        return text(StatusCode::BAD_REQUEST, "oldPath and newPath are needed");
    };
    match d.rename_path(id, from, to).await {
        Ok(()) => ok(),
        // qBittorrent answers 409 for every refused rename.
        Err(DaemonError::BadRequest(m)) => text(StatusCode::CONFLICT, &m),
        Err(e) => failed(&e),
    }
}

/// `urls`, one a line: each added in a tier of its own, unless listed.
fn add_trackers(d: &Daemon, id: u32, form: &Form) -> Response<Body> {
    let urls: Result<Vec<String>, _> = form
        .get("urls")
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(check_tracker_text)
        .collect();
    let urls = match urls {
        Ok(u) => u,
        Err(e) => return failed(&e),
    };
    let result = d.edit_trackers(id, |mut tiers| {
        add_to(&mut tiers, urls);
        Ok(tiers)
    });
    result.map_or_else(|e| failed(&e), |()| ok())
}

/// Replaces `origUrl` (`url` in WebAPI 2.13) with `newUrl` in its tier,
/// or in tier `tier` when that is given.
fn edit_tracker(d: &Daemon, id: u32, form: &Form) -> Response<Body> {
    let orig = form.get("origUrl").or_else(|| form.get("url"));
    let (Some(orig), Some(new)) = (orig, form.get("newUrl").or(orig)) else {
        return text(StatusCode::BAD_REQUEST, "origUrl and newUrl are needed");
    };
    let new = match check_tracker_text(new) {
        Ok(u) => u,
        Err(_) => return text(StatusCode::BAD_REQUEST, "New tracker URL is invalid"),
    };
    let tier = match form.get("tier").map(str::parse::<usize>) {
        None => None,
        // Every tier is a list of its own; more than that many is no tier.
        Some(Ok(t)) if t <= MAX_TIER => Some(t),
        Some(_) => return text(StatusCode::BAD_REQUEST, "tier is invalid"),
    };
    let orig = orig.trim();
    let result = d.edit_trackers(id, |mut tiers| {
        replace_tracker(&mut tiers, orig, new, tier)?;
        Ok(tiers)
    });
    match result {
        Ok(()) => ok(),
        Err(DaemonError::Duplicate(m)) => text(StatusCode::CONFLICT, &m),
        Err(DaemonError::NotFound(_)) => text(StatusCode::CONFLICT, "Tracker not found"),
        Err(e) => failed(&e),
    }
}

/// The highest tier `editTrackers` may move a tracker to.
const MAX_TIER: usize = 255;

/// Removes the trackers `urls` lists (`|`-separated); unknown ones are
/// ignored.
fn remove_trackers(d: &Daemon, id: u32, form: &Form) -> Response<Body> {
    let gone: Vec<&str> = form
        .get("urls")
        .unwrap_or("")
        .split('|')
        .map(str::trim)
        .collect();
    let result = d.edit_trackers(id, |mut tiers| {
        remove_from(&mut tiers, &gone);
        Ok(tiers)
    });
    result.map_or_else(|e| failed(&e), |()| ok())
}
