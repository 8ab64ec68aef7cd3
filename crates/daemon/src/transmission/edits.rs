//! `torrent-rename-path` and the tracker edits of `torrent-set`
//! (`trackerAdd`, `trackerRemove`, `trackerReplace`, 4.x's `trackerList`).

use serde_json::{Map, Value, json};

use super::args::{select, string};
use crate::manager::{check_tracker, parse_tier_text};
use crate::{Daemon, DaemonError};

/// `torrent-rename-path`: renames the file or folder `path` of one torrent
/// to `name` (a single name: it stays in the same folder), on disk and in
/// the torrent; answers with the path and name asked for and the id, as
/// Transmission does.
pub(super) async fn rename_path(d: &Daemon, args: &Map<String, Value>) -> Result<Value, String> {
    let ids = if args.contains_key("ids") {
        select(d, args)?.ids
    } else {
        Vec::new()
    };
    let [id] = ids[..] else {
        return Err("torrent-rename-path requires 1 torrent".into());
    };
    let (Some(path), Some(name)) = (string(args, "path"), string(args, "name")) else {
        return Err("torrent-rename-path needs a path and a name".into());
    };
    if name.is_empty() {
        return Err("invalid name \"\": empty".into());
    }
    if name.contains('/') {
        return Err(format!(
            "invalid name {name:?}: a name cannot hold a path separator"
        ));
    }
    let path = path.trim_matches('/');
    let to = match path.rsplit_once('/') {
        Some((parent, _)) => format!("{parent}/{name}"),
        None => name.to_owned(),
    };
    d.rename_path(id, path, &to).await.map_err(|e| match e {
        DaemonError::Duplicate(m) => format!("File exists: {m}"),
        other => other.to_string(),
    })?;
    Ok(json!({ "path": path, "name": name, "id": id }))
}

/// The tracker edits of one `torrent-set`. Tracker ids are positions in
/// the list `torrent-get` shows (tiers in order); removals and
/// replacements name the list as it was, so they apply before additions,
/// and a whole new list (`trackerList`) last.
pub(super) struct TrackerEdit {
    add: Vec<String>,
    remove: Vec<u64>,
    replace: Vec<(u64, String)>,
    list: Option<Vec<Vec<String>>>,
}

/// The tracker edits a `torrent-set` carries, or `None` when it carries none.
pub(super) fn tracker_edit(args: &Map<String, Value>) -> Result<Option<TrackerEdit>, String> {
    let keys = [
        "tracker_add",
        "tracker_remove",
        "tracker_replace",
        "tracker_list",
    ];
    if !keys.iter().any(|k| args.contains_key(*k)) {
        return Ok(None);
    }
    let urls = |key: &str| -> Result<Vec<String>, String> {
        match args.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(list)) => list
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(|u| check_tracker(u).map_err(|e| e.to_string()))
                        .unwrap_or_else(|| Err(format!("{key}: URLs are strings")))
                })
                .collect(),
            Some(_) => Err(format!("{key}: a list of URLs")),
        }
    };
    let add = urls("tracker_add")?;
    let remove: Vec<u64> = match args.get("tracker_remove") {
        None => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| v.as_u64().ok_or("trackerRemove: a list of tracker ids"))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("trackerRemove: a list of tracker ids".into()),
    };
    let replace = replacements(args.get("tracker_replace"))?;
    let list = match args.get("tracker_list") {
        None => None,
        Some(Value::String(text)) => {
            let tiers = parse_tier_text(text);
            for url in tiers.iter().flatten() {
                check_tracker(url).map_err(|e| e.to_string())?;
            }
            Some(tiers)
        }
        Some(_) => return Err("trackerList: a string, one URL a line".into()),
    };
    Ok(Some(TrackerEdit {
        add,
        remove,
        replace,
        list,
    }))
}

impl TrackerEdit {
    /// The tier list after these edits.
    pub(super) fn apply(
        &self,
        mut tiers: Vec<Vec<String>>,
    ) -> Result<Vec<Vec<String>>, DaemonError> {
        let (add, remove, replace, list) = (&self.add, &self.remove, &self.replace, &self.list);
        let count = tiers.iter().map(Vec::len).sum::<usize>() as u64;
        if let Some(bad) = remove
            .iter()
            .chain(replace.iter().map(|(id, _)| id))
            .find(|id| **id >= count)
        {
            return Err(DaemonError::BadRequest(format!("invalid tracker id {bad}")));
        }
        let mut at = 0u64;
        for tier in &mut tiers {
            tier.retain_mut(|url| {
                let id = at;
                at += 1;
                if let Some((_, new)) = replace.iter().find(|(r, _)| *r == id) {
                    new.clone_into(url);
                }
                !remove.contains(&id)
            });
        }
        tiers.retain(|t| !t.is_empty());
        for url in add {
            if !tiers.iter().flatten().any(|u| u == url) {
                tiers.push(vec![url.clone()]);
            }
        }
        if let Some(list) = list {
            list.clone_into(&mut tiers);
        }
        Ok(tiers)
    }
}

/// `trackerReplace`: pairs of tracker id and new URL, flat
/// (`[id, url, id, url]`, Transmission's form) or nested (`[[id, url]]`).
fn replacements(value: Option<&Value>) -> Result<Vec<(u64, String)>, String> {
    let bad = || "trackerReplace: pairs of tracker id and URL".to_owned();
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let list = value.as_array().ok_or_else(bad)?;
    let flat: Vec<&Value> = if list.iter().all(Value::is_array) {
        list.iter().filter_map(Value::as_array).flatten().collect()
    } else {
        list.iter().collect()
    };
    flat.chunks(2)
        .map(|pair| match pair {
            [id, url] => {
                let id = id.as_u64().ok_or_else(bad)?;
                let url = url.as_str().ok_or_else(bad)?;
                Ok((id, check_tracker(url).map_err(|e| e.to_string())?))
            }
            _ => Err(bad()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn run(args: Value, tiers: &[&[&str]]) -> Result<Vec<Vec<String>>, String> {
        let args = args.as_object().unwrap().clone();
        let edit = tracker_edit(&args)?.unwrap();
        let edit = |t| edit.apply(t);
        let tiers = tiers
            .iter()
            .map(|t| t.iter().map(|u| (*u).to_owned()).collect())
            .collect();
        edit(tiers).map_err(|e| e.to_string())
    }

    #[test]
    fn removals_and_replacements_name_the_old_list_then_additions_follow() {
        let out = run(
            json!({
                "tracker_remove": [0],
                "tracker_replace": [2, "udp://new:1"],
                "tracker_add": ["http://added/a", "http://b/a"],
            }),
            &[&["http://a/a", "http://b/a"], &["http://c/a"]],
        )
        .unwrap();
        assert_eq!(
            out,
            [
                vec!["http://b/a"],
                vec!["udp://new:1"],
                vec!["http://added/a"]
            ]
        );
        let nested = run(
            json!({ "tracker_replace": [[0, "http://x/a"]] }),
            &[&["http://a/a"]],
        );
        assert_eq!(nested.unwrap(), [["http://x/a"]]);
        let list = run(
            json!({ "tracker_list": "http://l/1\n\nhttp://l/2" }),
            &[&["http://a/a"]],
        );
        assert_eq!(list.unwrap(), [["http://l/1"], ["http://l/2"]]);
        assert!(run(json!({ "tracker_remove": [5] }), &[&["http://a/a"]]).is_err());
        assert!(run(json!({ "tracker_add": ["nope"] }), &[]).is_err());
    }
}
