//! The user's edits of a torrent's metainfo, kept in its record and laid
//! over the metainfo wherever the daemon holds the torrent: renamed files
//! and folders (Transmission's `torrent-rename-path`, qBittorrent's
//! `renameFile`/`renameFolder`) and an edited tracker list.
//!
//! The info dictionary itself is never changed (its hash is the torrent's
//! identity, and peers fetch it byte for byte); only the parsed file paths
//! and tracker tiers are. The session builds its file store from the
//! paths it is given, so every read and write goes to the renamed files.

use shoal_metainfo::Info;
use shoal_metainfo::Torrent;

use crate::DaemonError;
use crate::store::TorrentRecord;

/// Most renames one torrent keeps (each is replayed at every load).
pub(crate) const MAX_RENAMES: usize = 1000;
/// Most trackers one torrent's edited list may hold.
pub(crate) const MAX_TRACKERS: usize = 200;
/// Longest tracker URL accepted.
const MAX_URL: usize = 2048;

/// The torrent as the daemon runs it: the metainfo with the record's
/// renames and tracker list applied. A rename that no longer applies (a
/// damaged record) is skipped with a warning.
pub(crate) fn apply(mut torrent: Torrent, record: &TorrentRecord) -> Torrent {
    for (from, to) in &record.renames {
        // An empty new path: the top folder was dropped (`drop_root`).
        let target = |to: &str| match to {
            "" => Ok(Vec::new()),
            _ => split_path(to),
        };
        let moved = split_path(from)
            .and_then(|f| target(to).map(|t| (f, t)))
            .and_then(|(f, t)| rename_in(&mut torrent.info, &f, &t));
        if let Err(err) = moved {
            tracing::warn!("torrent {}: rename {from} → {to} skipped: {err}", record.id);
        }
    }
    if let Some(tiers) = &record.trackers {
        torrent.trackers.clone_from(tiers);
    }
    torrent
}

/// A path inside a torrent, `/`-separated, as the APIs name files: each
/// element a plain name (see [`check_name`]).
pub(crate) fn split_path(path: &str) -> Result<Vec<String>, DaemonError> {
    let parts: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(|p| check_name(p).map(str::to_owned))
        .collect::<Result<_, _>>()?;
    if parts.len() > shoal_metainfo::limits::MAX_PATH_DEPTH {
        return Err(DaemonError::BadRequest(format!("{path}: too deep")));
    }
    Ok(parts)
}

/// One new file or folder name: not empty, not `.` or `..`, no separator
/// and nothing the torrent path sanitiser would change (control
/// characters, reserved device names, trailing dots), so the name on disk
/// is the name asked for.
pub(crate) fn check_name(name: &str) -> Result<&str, DaemonError> {
    let invalid = |why: &str| {
        Err(DaemonError::BadRequest(format!(
            "invalid name {name:?}: {why}"
        )))
    };
    if name.is_empty() || name == "." || name == ".." {
        return invalid("empty, `.` or `..`");
    }
    if name.contains(['/', '\\']) {
        return invalid("a name cannot hold a path separator");
    }
    match shoal_metainfo::path::sanitize_component(name.as_bytes()) {
        Ok(Some(clean)) if clean == name => Ok(name),
        _ => invalid("not a portable file name"),
    }
}

/// Whether `path` is `prefix` or lies under it.
fn under(path: &[String], prefix: &[String]) -> bool {
    path.starts_with(prefix)
}

/// A file's path as its elements.
fn parts(path: &shoal_metainfo::FilePath) -> Vec<String> {
    path.elements().map(str::to_owned).collect()
}

/// Renames the file or folder `from` to `to` in the torrent's file list
/// (a folder's files move with it); a rename of the torrent's top-level
/// entry renames the torrent too. Refused: a `from` that names nothing, a
/// `to` that is taken (a file or folder of the torrent there, or above),
/// or a folder moved into itself.
pub(crate) fn rename_in(
    info: &mut Info,
    from: &[String],
    to: &[String],
) -> Result<(), DaemonError> {
    if from.is_empty() {
        return Err(DaemonError::BadRequest("empty path".into()));
    }
    if to.is_empty() {
        return drop_root(info, from);
    }
    if from == to {
        return Ok(());
    }
    if !info.files.iter().any(|f| under(&parts(&f.path), from)) {
        return Err(DaemonError::BadRequest(format!(
            "{}: no such file or folder in the torrent",
            from.join("/")
        )));
    }
    if under(to, from) {
        return Err(DaemonError::BadRequest(
            "a folder cannot be moved into itself".into(),
        ));
    }
    let taken = info
        .files
        .iter()
        .map(|f| parts(&f.path))
        .filter(|p| !under(p, from))
        .any(|p| under(&p, to) || under(to, &p));
    if taken {
        return Err(DaemonError::Duplicate(format!(
            "{}: a file or folder of that name exists",
            to.join("/")
        )));
    }
    for file in &mut info.files {
        let path = parts(&file.path);
        if let Some(rest) = path.strip_prefix(from) {
            file.path = shoal_metainfo::FilePath::new(to.iter().chain(rest));
        }
    }
    if from.len() == 1 && from.first() == Some(&info.name) {
        if let Some(top) = to.first() {
            info.name.clone_from(top);
        }
    }
    Ok(())
}

/// Takes the top folder `root` out of every path (qBittorrent's
/// `NoSubfolder` layout): refused unless every file lies inside it.
fn drop_root(info: &mut Info, root: &[String]) -> Result<(), DaemonError> {
    let inside = |f: &shoal_metainfo::FileEntry| f.path.depth() > 1 && under(&parts(&f.path), root);
    if root.len() != 1 || !info.files.iter().all(inside) {
        return Err(DaemonError::BadRequest(
            "only a top folder holding every file can be dropped".into(),
        ));
    }
    for file in &mut info.files {
        file.path = shoal_metainfo::FilePath::new(file.path.elements().skip(1));
    }
    Ok(())
}

/// A tracker URL from a user, as Transmission takes one: http, https or
/// udp, printable, bounded.
pub(crate) fn check_tracker(url: &str) -> Result<String, DaemonError> {
    let url = check_tracker_text(url)?;
    let scheme_ok = ["http://", "https://", "udp://"].iter().any(|s| {
        url.get(..s.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(s))
    });
    if !scheme_ok {
        return Err(DaemonError::BadRequest(format!(
            "invalid tracker announce URL {url:?}"
        )));
    }
    Ok(url)
}

/// A tracker entry as qBittorrent takes one (any text: one it cannot
/// announce to is listed and skipped): not empty, bounded, no whitespace
/// or control characters.
pub(crate) fn check_tracker_text(url: &str) -> Result<String, DaemonError> {
    let url = url.trim();
    if url.is_empty()
        || url.len() > MAX_URL
        || url.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(DaemonError::BadRequest(format!(
            "invalid tracker URL {url:?}"
        )));
    }
    Ok(url.to_owned())
}

/// Checks a whole new tier list: sane entries (each API checks its own
/// rules first), no repeats, bounded, no empty tiers.
pub(crate) fn check_tiers(tiers: Vec<Vec<String>>) -> Result<Vec<Vec<String>>, DaemonError> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for tier in tiers {
        let mut kept = Vec::new();
        for url in tier {
            let url = check_tracker_text(&url)?;
            if seen.insert(url.clone()) {
                kept.push(url);
            }
        }
        if !kept.is_empty() {
            out.push(kept);
        }
    }
    if seen.len() > MAX_TRACKERS {
        return Err(DaemonError::BadRequest(format!(
            "at most {MAX_TRACKERS} trackers per torrent"
        )));
    }
    Ok(out)
}

/// Adds each of `urls` in a tier of its own after the others, unless it
/// is listed already (qBittorrent's `addTrackers`, the native API's `add`).
pub(crate) fn add_trackers(tiers: &mut Vec<Vec<String>>, urls: Vec<String>) {
    for url in urls {
        if !tiers.iter().flatten().any(|u| *u == url) {
            tiers.push(vec![url]);
        }
    }
}

/// Replaces `orig` with `new` in its tier, or moves it to tier `tier`
/// when that is given (qBittorrent 2.13's `editTrackers`; a tier past the
/// last becomes a new last tier, tiers left empty are dropped). Refused: a
/// `new` listed already ([`DaemonError::Duplicate`]) or an `orig` not
/// listed ([`DaemonError::NotFound`]).
pub(crate) fn replace_tracker(
    tiers: &mut Vec<Vec<String>>,
    orig: &str,
    new: String,
    tier: Option<usize>,
) -> Result<(), DaemonError> {
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
        return Ok(());
    };
    if let Some(t) = tiers.get_mut(at) {
        t.retain(|u| u.as_str() != orig);
    }
    match tiers.get_mut(target) {
        Some(t) => t.push(new),
        None => tiers.push(vec![new]),
    }
    tiers.retain(|t| !t.is_empty());
    Ok(())
}

/// Removes the trackers `gone` lists (unknown ones are ignored) and the
/// tiers left empty.
pub(crate) fn remove_trackers(tiers: &mut Vec<Vec<String>>, gone: &[&str]) {
    for tier in tiers.iter_mut() {
        tier.retain(|u| !gone.contains(&u.as_str()));
    }
    tiers.retain(|t| !t.is_empty());
}

/// A tracker list in Transmission's `trackerList` form: one URL a line, a
/// blank line between tiers.
pub(crate) fn parse_tier_text(text: &str) -> Vec<Vec<String>> {
    let mut tiers = vec![Vec::new()];
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if tiers.last().is_some_and(|t| !t.is_empty()) {
                tiers.push(Vec::new());
            }
        } else if let Some(tier) = tiers.last_mut() {
            tier.push(line.to_owned());
        }
    }
    tiers.retain(|t| !t.is_empty());
    tiers
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use shoal_metainfo::Version;
    use shoal_metainfo::build::{ContentHashes, NewFile, TorrentSpec};

    fn multi() -> Torrent {
        let file = |path: &[&str]| NewFile {
            path: path.iter().map(|p| (*p).to_owned()).collect(),
            length: 10,
            executable: false,
        };
        let files = vec![
            file(&["a", "x.txt"]),
            file(&["a", "y.txt"]),
            file(&["z.txt"]),
        ];
        let mut spec = TorrentSpec::new("root".into(), files, false, 16 * 1024);
        spec.version = Version::V1;
        let hashes = ContentHashes {
            v1_pieces: vec![[0u8; 20]],
            v2_files: vec![],
        };
        Torrent::from_bytes(&spec.encode(&hashes).unwrap()).unwrap()
    }

    fn paths(t: &Torrent) -> Vec<String> {
        t.info.files.iter().map(|f| f.display_path()).collect()
    }

    fn p(s: &str) -> Vec<String> {
        split_path(s).unwrap()
    }

    #[test]
    fn file_and_folder_renames_move_what_they_name() {
        let mut t = multi();
        rename_in(&mut t.info, &p("root/a/x.txt"), &p("root/a/w.txt")).unwrap();
        rename_in(&mut t.info, &p("root/a"), &p("root/b")).unwrap();
        assert_eq!(paths(&t), ["root/b/w.txt", "root/b/y.txt", "root/z.txt"]);
        rename_in(&mut t.info, &p("root"), &p("top")).unwrap();
        assert_eq!(t.info.name, "top");
        assert_eq!(paths(&t), ["top/b/w.txt", "top/b/y.txt", "top/z.txt"]);
    }

    #[test]
    fn taken_missing_and_invalid_names_are_refused() {
        let mut t = multi();
        let before = paths(&t);
        let taken = rename_in(&mut t.info, &p("root/a/x.txt"), &p("root/a/y.txt"));
        assert!(matches!(taken, Err(DaemonError::Duplicate(_))));
        let onto_folder = rename_in(&mut t.info, &p("root/z.txt"), &p("root/a"));
        assert!(matches!(onto_folder, Err(DaemonError::Duplicate(_))));
        let under_file = rename_in(&mut t.info, &p("root/a"), &p("root/z.txt/a"));
        assert!(matches!(under_file, Err(DaemonError::Duplicate(_))));
        let missing = rename_in(&mut t.info, &p("root/nope"), &p("root/q"));
        assert!(matches!(missing, Err(DaemonError::BadRequest(_))));
        let into_itself = rename_in(&mut t.info, &p("root/a"), &p("root/a/b"));
        assert!(into_itself.is_err());
        assert_eq!(paths(&t), before);
        for bad in ["", ".", "..", "a\\b", "nul", "x.", "\u{1}"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(split_path("root/../x").is_err());
    }

    #[test]
    fn the_top_folder_can_be_dropped_when_it_holds_everything() {
        let mut t = multi();
        rename_in(&mut t.info, &p("root"), &[]).unwrap();
        assert_eq!(paths(&t), ["a/x.txt", "a/y.txt", "z.txt"]);
        assert!(
            rename_in(&mut t.info, &p("a"), &[]).is_err(),
            "z.txt is outside"
        );
    }

    #[test]
    fn the_record_replays_renames_and_trackers() {
        let mut record = TorrentRecord::new(1, "00".repeat(20), "root".into(), "/tmp".into());
        record.renames = vec![
            ("root/a".into(), "root/c".into()),
            ("root/missing".into(), "root/q".into()),
        ];
        record.trackers = Some(vec![vec!["udp://t.example:1/announce".into()]]);
        let t = apply(multi(), &record);
        assert_eq!(paths(&t), ["root/c/x.txt", "root/c/y.txt", "root/z.txt"]);
        assert_eq!(t.trackers, [["udp://t.example:1/announce"]]);
    }

    #[test]
    fn tracker_lists_parse_and_check() {
        let tiers = parse_tier_text("http://a/ann\nhttp://b/ann\n\n\nudp://c:1\n");
        assert_eq!(
            tiers,
            [vec!["http://a/ann", "http://b/ann"], vec!["udp://c:1"]]
        );
        assert!(check_tracker("ftp://x").is_err());
        assert!(check_tracker("http://a b").is_err());
        let deduped = check_tiers(vec![vec!["http://a/x".into()], vec!["http://a/x".into()]]);
        assert_eq!(deduped.unwrap(), [["http://a/x"]]);
    }

    #[test]
    fn tracker_edits_add_replace_and_remove() {
        let mut tiers = vec![vec!["http://a/ann".to_owned(), "http://b/ann".to_owned()]];
        add_trackers(&mut tiers, vec!["udp://c:1".into(), "http://a/ann".into()]);
        assert_eq!(
            tiers,
            [vec!["http://a/ann", "http://b/ann"], vec!["udp://c:1"]]
        );
        replace_tracker(&mut tiers, "http://b/ann", "http://d/ann".into(), None).unwrap();
        assert_eq!(tiers.first().unwrap(), &["http://a/ann", "http://d/ann"]);
        let taken = replace_tracker(&mut tiers, "http://a/ann", "udp://c:1".into(), None);
        assert!(matches!(taken, Err(DaemonError::Duplicate(_))));
        let missing = replace_tracker(&mut tiers, "http://nope", "http://e".into(), None);
        assert!(matches!(missing, Err(DaemonError::NotFound(_))));
        remove_trackers(&mut tiers, &["udp://c:1", "http://unknown"]);
        assert_eq!(tiers, [["http://a/ann", "http://d/ann"]]);
    }

    #[test]
    fn a_tracker_is_moved_to_another_tier() {
        let tiers = |t: &[&[&str]]| -> Vec<Vec<String>> {
            t.iter()
                .map(|tier| tier.iter().map(|u| (*u).to_string()).collect())
                .collect()
        };
        let moved = |orig: &str, new: &str, tier: usize| {
            let mut t = tiers(&[&["a", "b"], &["c"]]);
            replace_tracker(&mut t, orig, new.into(), Some(tier)).map(|()| t)
        };
        assert_eq!(moved("b", "x", 1).ok(), Some(tiers(&[&["a"], &["c", "x"]])));
        assert_eq!(moved("c", "c", 0).ok(), Some(tiers(&[&["a", "b", "c"]])));
        assert_eq!(
            moved("a", "a", 9).ok(),
            Some(tiers(&[&["b"], &["c"], &["a"]]))
        );
        assert!(matches!(moved("a", "c", 1), Err(DaemonError::Duplicate(_))));
    }
}
