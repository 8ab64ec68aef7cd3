//! Bandwidth groups (`group-set`, `group-get`): shoal has no per-group
//! bandwidth, so groups are stored and reported as set, not applied (the
//! README says so). They live in `daemon.json` under `groups`.

use serde_json::{Map, Value, json};

use super::args::{flag, string, uint};
use crate::Daemon;

/// Most groups kept.
const MAX_GROUPS: usize = 256;
/// Longest group name, bytes.
const MAX_NAME: usize = 128;
/// The key in the daemon record's stored settings.
const KEY: &str = "groups";

/// `group-set`: creates or changes a group.
pub(super) fn group_set(d: &Daemon, args: &Map<String, Value>) -> Result<Value, String> {
    let name = string(args, "name").ok_or("group-set needs a name")?;
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!("a group name has 1 to {MAX_NAME} bytes"));
    }
    let mut failed = None;
    d.update_daemon(|r| {
        let groups = r.stored.entry(KEY.to_owned()).or_insert_with(|| json!({}));
        let Some(groups) = groups.as_object_mut() else {
            return;
        };
        if !groups.contains_key(name) && groups.len() >= MAX_GROUPS {
            failed = Some(format!("at most {MAX_GROUPS} groups"));
            return;
        }
        let old = groups.get(name).cloned().unwrap_or_else(|| json!({}));
        let keep_bool = |key: &str, default: bool| {
            flag(args, key)
                .or_else(|| old.get(key).and_then(Value::as_bool))
                .unwrap_or(default)
        };
        let keep_uint = |key: &str| {
            uint(args, key)
                .or_else(|| old.get(key).and_then(Value::as_u64))
                .unwrap_or(0)
        };
        let group = json!({
            "honors_session_limits": keep_bool("honors_session_limits", true),
            "speed_limit_down_enabled": keep_bool("speed_limit_down_enabled", false),
            "speed_limit_down": keep_uint("speed_limit_down"),
            "speed_limit_up_enabled": keep_bool("speed_limit_up_enabled", false),
            "speed_limit_up": keep_uint("speed_limit_up"),
        });
        groups.insert(name.to_owned(), group);
    })
    .map_err(|e| e.to_string())?;
    match failed {
        Some(message) => Err(message),
        None => Ok(json!({})),
    }
}

/// `group-get`: the named groups (a name or a list), or all.
pub(super) fn group_get(d: &Daemon, args: &Map<String, Value>) -> Value {
    let wanted: Option<Vec<String>> = match args.get("group") {
        Some(Value::String(s)) => Some(vec![s.clone()]),
        Some(Value::Array(l)) => Some(
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    };
    let record = d.daemon_record();
    let empty = Map::new();
    let groups = record
        .stored
        .get(KEY)
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let list: Vec<Value> = groups
        .iter()
        .filter(|(name, _)| wanted.as_ref().is_none_or(|w| w.contains(name)))
        .map(|(name, g)| {
            let get = |key: &str| g.get(key).cloned().unwrap_or(Value::Null);
            json!({
                "name": name,
                "honorsSessionLimits": get("honors_session_limits"),
                "speed-limit-down-enabled": get("speed_limit_down_enabled"),
                "speed-limit-down": get("speed_limit_down"),
                "speed-limit-up-enabled": get("speed_limit_up_enabled"),
                "speed-limit-up": get("speed_limit_up"),
            })
        })
        .collect();
    json!({ "group": list })
}
