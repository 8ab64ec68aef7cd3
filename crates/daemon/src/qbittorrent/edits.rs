//! `torrents/renameFile`, `renameFolder`, `addTrackers`, `editTracker`
//! (and WebAPI 2.13's `editTrackers`, which can also move a tracker to
//! another tier) and `removeTrackers`: edits of one torrent's files and
//! trackers.

use hyper::{Response, StatusCode};

use super::form::Form;
use super::reply::{ok, text};
use crate::manager::check_tracker_text;
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
        for url in urls {
            if !tiers.iter().flatten().any(|u| *u == url) {
                tiers.push(vec![url]);
            }
        }
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
    let result = d.edit_trackers(id, |tiers| replace_tracker(tiers, orig, new, tier));
    match result {
        Ok(()) => ok(),
        Err(DaemonError::Duplicate(m)) => text(StatusCode::CONFLICT, &m),
        Err(DaemonError::NotFound(_)) => text(StatusCode::CONFLICT, "Tracker not found"),
        Err(e) => failed(&e),
    }
}

/// The highest tier `editTrackers` may move a tracker to.
const MAX_TIER: usize = 255;

/// `tiers` with `orig` replaced by `new`, in tier `tier` if given (tiers
/// left empty are dropped, missing ones up to `tier` are not invented: the
/// tracker goes to the last tier when `tier` is past it).
fn replace_tracker(
    mut tiers: Vec<Vec<String>>,
    orig: &str,
    new: String,
    tier: Option<usize>,
) -> Result<Vec<Vec<String>>, DaemonError> {
    if orig != new && tiers.iter().flatten().any(|u| *u == new) {
        return Err(DaemonError::Duplicate(
            "New tracker URL already exists".into(),
        ));
    }
    let Some(at) = tiers
        .iter()
        .position(|t| t.iter().any(|u| u.as_str() == orig))
    else {
        return Err(DaemonError::NotFound("Tracker not found".into()));
    };
    let Some(target) = tier else {
        for slot in tiers.iter_mut().flatten().filter(|u| u.as_str() == orig) {
            slot.clone_from(&new);
        }
        return Ok(tiers);
    };
    if let Some(t) = tiers.get_mut(at) {
        t.retain(|u| u.as_str() != orig);
    }
    match tiers.get_mut(target) {
        Some(t) => t.push(new),
        None => tiers.push(vec![new]),
    }
    tiers.retain(|t| !t.is_empty());
    Ok(tiers)
}

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
        for tier in &mut tiers {
            tier.retain(|u| !gone.contains(&u.as_str()));
        }
        tiers.retain(|t| !t.is_empty());
        Ok(tiers)
    });
    result.map_or_else(|e| failed(&e), |()| ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers(t: &[&[&str]]) -> Vec<Vec<String>> {
        t.iter()
            .map(|tier| tier.iter().map(|u| (*u).to_string()).collect())
            .collect()
    }

    #[test]
    fn a_tracker_is_replaced_in_its_tier_or_moved_to_another() {
        let start = tiers(&[&["a", "b"], &["c"]]);
        let same_tier = replace_tracker(start.clone(), "b", "x".into(), None);
        assert_eq!(same_tier.ok(), Some(tiers(&[&["a", "x"], &["c"]])));
        let moved = replace_tracker(start.clone(), "b", "x".into(), Some(1));
        assert_eq!(moved.ok(), Some(tiers(&[&["a"], &["c", "x"]])));
        let emptied = replace_tracker(start.clone(), "c", "c".into(), Some(0));
        assert_eq!(emptied.ok(), Some(tiers(&[&["a", "b", "c"]])));
        let past_the_end = replace_tracker(start.clone(), "a", "a".into(), Some(9));
        assert_eq!(past_the_end.ok(), Some(tiers(&[&["b"], &["c"], &["a"]])));
        assert!(matches!(
            replace_tracker(start.clone(), "a", "c".into(), None),
            Err(DaemonError::Duplicate(_))
        ));
        assert!(matches!(
            replace_tracker(start, "zz", "y".into(), None),
            Err(DaemonError::NotFound(_))
        ));
    }
}
