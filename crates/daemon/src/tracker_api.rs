//! `PATCH /api/v1/torrents/{key}/trackers`: adds, replaces and removes a
//! torrent's trackers through the same edits the Transmission and
//! qBittorrent APIs make (`manager::edits`).

use serde::Deserialize;

use crate::manager::{add_trackers, check_tracker, remove_trackers, replace_tracker};
use crate::{Daemon, DaemonError};

/// Most edits one request may carry (each list counted).
const MAX_EDITS: usize = 200;

/// Body of `PATCH /api/v1/torrents/{key}/trackers`; applied in the order
/// replace, remove, add, all or nothing.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrackerEdits {
    /// Announce URLs to add, each in a tier of its own.
    #[serde(default)]
    add: Vec<String>,
    /// Announce URLs to remove.
    #[serde(default)]
    remove: Vec<String>,
    /// Announce URLs to change in place (the tier is kept).
    #[serde(default)]
    replace: Vec<Replace>,
}

/// One tracker changed in place.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Replace {
    from: String,
    to: String,
}

/// Applies `edits` to torrent `id`'s tracker list; a running torrent
/// announces to the new list at once.
pub(crate) fn edit(d: &Daemon, id: u32, edits: TrackerEdits) -> Result<(), DaemonError> {
    let TrackerEdits {
        add,
        remove,
        replace,
    } = edits;
    if add.len().max(remove.len()).max(replace.len()) > MAX_EDITS {
        return Err(DaemonError::BadRequest(format!(
            "at most {MAX_EDITS} tracker edits of each kind"
        )));
    }
    let add: Vec<String> = add
        .iter()
        .map(|u| check_tracker(u))
        .collect::<Result<_, _>>()?;
    let replace: Vec<(String, String)> = replace
        .into_iter()
        .map(|r| Ok((r.from.trim().to_owned(), check_tracker(&r.to)?)))
        .collect::<Result<_, DaemonError>>()?;
    let gone: Vec<&str> = remove.iter().map(|u| u.trim()).collect();
    d.edit_trackers(id, |mut tiers| {
        for (from, to) in replace {
            replace_tracker(&mut tiers, &from, to, None).map_err(|e| match e {
                // The torrent exists: a missing tracker is bad input here.
                DaemonError::NotFound(_) => {
                    DaemonError::BadRequest(format!("{from}: no such tracker"))
                }
                DaemonError::Duplicate(_) => {
                    DaemonError::BadRequest(format!("{from}: the new URL is listed already"))
                }
                other => other,
            })?;
        }
        remove_trackers(&mut tiers, &gone);
        add_trackers(&mut tiers, add);
        Ok(tiers)
    })
}
