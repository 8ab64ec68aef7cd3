//! Reading Transmission's request arguments. Clients spell keys three ways
//! (kebab-case and camelCase before 4.1, snake_case since) and send values
//! loosely typed (booleans as 0/1, integers as floats), so every key is
//! brought to snake_case first ([`canonical`]) and read through the helpers
//! here.

use serde_json::{Map, Value, json};

use crate::{Daemon, DaemonError};

/// Transmission's speed unit for limits (kB/s).
pub(super) const SPEED_K: u64 = 1000;
/// Most torrents one request may name in `ids`.
const MAX_IDS: usize = 100_000;

/// A key in snake_case: `seedRatioLimit`, `seed-ratio-limit` and
/// `seed_ratio_limit` are the same key.
pub(super) fn canon(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '-' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

/// How answers spell their keys: as Transmission 4.0 did (camelCase inside
/// torrent objects) or as 4.1's JSON-RPC does (snake_case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    /// The legacy protocol.
    Legacy,
    /// JSON-RPC 2.0.
    Snake,
}

impl Style {
    /// A snake_case key in this style (legacy: camelCase).
    pub fn key(self, snake: &str) -> String {
        match (self, snake) {
            (Style::Snake, _) => snake.to_owned(),
            // The one legacy key that is not plain camelCase.
            (Style::Legacy, "is_utp") => "isUTP".to_owned(),
            (Style::Legacy, _) => {
                let mut out = String::with_capacity(snake.len());
                let mut upper = false;
                for c in snake.chars() {
                    if c == '_' {
                        upper = true;
                    } else if upper {
                        out.push(c.to_ascii_uppercase());
                        upper = false;
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        }
    }

    /// An object with snake_case keys in this style.
    pub fn object(self, value: Value) -> Value {
        match (self, value) {
            (Style::Legacy, Value::Object(map)) => {
                Value::Object(map.into_iter().map(|(k, v)| (self.key(&k), v)).collect())
            }
            (_, other) => other,
        }
    }
}

/// The arguments with snake_case keys.
pub(super) fn canonical(args: &Map<String, Value>) -> Map<String, Value> {
    args.iter().map(|(k, v)| (canon(k), v.clone())).collect()
}

/// A boolean argument (Transmission clients send true/false or 0/1).
pub(super) fn flag(args: &Map<String, Value>, key: &str) -> Option<bool> {
    match args.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|n| n != 0.0),
        _ => None,
    }
}

/// A non-negative integer argument (floats are truncated, negatives are 0).
pub(super) fn uint(args: &Map<String, Value>, key: &str) -> Option<u64> {
    args.get(key)
        .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f.max(0.0) as u64)))
}

/// A number argument.
pub(super) fn float(args: &Map<String, Value>, key: &str) -> Option<f64> {
    args.get(key)
        .and_then(Value::as_f64)
        .filter(|f| f.is_finite())
}

/// A string argument.
pub(super) fn string<'a>(args: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    args.get(key).and_then(Value::as_str)
}

/// A list of strings (non-strings skipped); `None` if absent.
pub(super) fn strings(args: &Map<String, Value>, key: &str) -> Option<Vec<String>> {
    args.get(key).and_then(Value::as_array).map(|l| {
        l.iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    })
}

/// A list of file indices (`files_wanted`, `priority_high`, …); entries
/// that are not non-negative integers are skipped.
pub(super) fn index_list(args: &Map<String, Value>, key: &str) -> Vec<usize> {
    args.get(key)
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_u64().and_then(|n| usize::try_from(n).ok()))
                .collect()
        })
        .unwrap_or_default()
}

/// Longest value of a stored-only setting, as JSON text: they are kept in
/// the state directory, so a client cannot grow it without bound.
const MAX_STORED: usize = 4096;

/// The stored-only settings among `keys` that `args` carries; an error if
/// one is too large.
pub(super) fn stored_values<'a>(
    args: &Map<String, Value>,
    keys: impl Iterator<Item = &'a str>,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for key in keys {
        if let Some(v) = args.get(key) {
            if v.to_string().len() > MAX_STORED {
                return Err(format!("{key}: at most {MAX_STORED} bytes"));
            }
            out.insert(key.to_owned(), v.clone());
        }
    }
    Ok(out)
}

/// Which torrents a request names.
pub(super) struct Selection {
    /// Their ids, in the order named (every torrent when none is named).
    pub ids: Vec<u32>,
}

/// The torrents `ids` names: a number, a hash, a list of those,
/// `recently-active` (those that changed in the last minute), or nothing
/// (every torrent).
pub(super) fn select(d: &Daemon, args: &Map<String, Value>) -> Result<Selection, String> {
    let resolve = |v: &Value| match v {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .and_then(|n| d.resolve(&n.to_string())),
        Value::String(s) => d.resolve(s),
        _ => None,
    };
    let all = |ids| Selection { ids };
    match args.get("ids") {
        None => Ok(all(d.ids())),
        Some(Value::String(s)) if canon(s) == "recently_active" => Ok(all(d.recently_active())),
        Some(Value::Array(list)) if list.len() > MAX_IDS => Err("too many ids".into()),
        Some(Value::Array(list)) => Ok(all(list.iter().filter_map(resolve).collect())),
        Some(v @ (Value::Number(_) | Value::String(_))) => {
            Ok(all(resolve(v).into_iter().collect()))
        }
        Some(_) => Err("invalid ids".into()),
    }
}

/// Runs `f` on every selected torrent, stopping at the first error.
pub(super) fn each(
    d: &Daemon,
    args: &Map<String, Value>,
    f: impl Fn(&Daemon, u32) -> Result<(), DaemonError>,
) -> Result<Value, String> {
    for id in select(d, args)?.ids {
        f(d, id).map_err(|e| e.to_string())?;
    }
    Ok(json!({}))
}

/// Every object key in `value`, at any depth, in snake_case.
pub(super) fn snake_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| (canon(&k), snake_keys(v)))
            .collect::<Map<String, Value>>()
            .into(),
        Value::Array(items) => items.into_iter().map(snake_keys).collect(),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_key_is_one_key() {
        for k in ["seedRatioLimit", "seed-ratio-limit", "seed_ratio_limit"] {
            assert_eq!(canon(k), "seed_ratio_limit");
        }
        assert_eq!(canon("hashString"), "hash_string");
        assert_eq!(canon("recently-active"), "recently_active");
        assert_eq!(canon("rpc-version"), "rpc_version");
        assert_eq!(canon("peer-limit"), "peer_limit");
        assert_eq!(canon("ids"), "ids");
        assert_eq!(Style::Legacy.key("bytes_completed"), "bytesCompleted");
        assert_eq!(Style::Legacy.key("is_utp"), "isUTP");
        assert_eq!(Style::Snake.key("is_utp"), "is_utp");
    }

    #[test]
    fn loose_values_are_read() {
        let args = canonical(
            json!({ "paused": 1, "peer-limit": 5.7, "seedRatioLimit": -1, "x": "y" })
                .as_object()
                .unwrap(),
        );
        assert_eq!(flag(&args, "paused"), Some(true));
        assert_eq!(uint(&args, "peer_limit"), Some(5));
        assert_eq!(uint(&args, "seed_ratio_limit"), Some(0));
        assert_eq!(float(&args, "seed_ratio_limit"), Some(-1.0));
        assert_eq!(string(&args, "x"), Some("y"));
        assert_eq!(flag(&args, "x"), None);
    }
}
