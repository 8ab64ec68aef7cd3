//! Reading Transmission's request arguments, which clients send loosely
//! typed (booleans as 0/1, integers as floats).

use serde_json::{Map, Value, json};

use crate::{Daemon, DaemonError};

/// Transmission's speed unit for limits (kB/s).
pub(super) const SPEED_K: u64 = 1000;

/// A boolean argument (Transmission clients send true/false or 0/1).
pub(super) fn flag(args: &Map<String, Value>, key: &str) -> Option<bool> {
    match args.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

/// Sequential download: Transmission 4's `sequentialDownload`, or the
/// snake-case `sequential_download` of its newer RPC.
pub(super) fn sequential_flag(args: &Map<String, Value>) -> Option<bool> {
    flag(args, "sequentialDownload").or_else(|| flag(args, "sequential_download"))
}

/// A non-negative integer argument (floats are truncated, negatives are 0).
pub(super) fn uint(args: &Map<String, Value>, key: &str) -> Option<u64> {
    args.get(key)
        .and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f.max(0.0) as u64)))
}

/// The torrents `ids` names: a number, a hash, a list of those,
/// "recently-active", or nothing (every torrent).
pub(super) fn select(d: &Daemon, args: &Map<String, Value>) -> Result<Vec<u32>, String> {
    let resolve = |v: &Value| match v {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .and_then(|n| d.resolve(&n.to_string())),
        Value::String(s) => d.resolve(s),
        _ => None,
    };
    match args.get("ids") {
        None => Ok(d.ids()),
        Some(Value::String(s)) if s == "recently-active" => Ok(d.ids()),
        Some(Value::Array(list)) => Ok(list.iter().filter_map(resolve).collect()),
        Some(v @ (Value::Number(_) | Value::String(_))) => Ok(resolve(v).into_iter().collect()),
        Some(_) => Err("invalid ids".into()),
    }
}

/// Runs `f` on every selected torrent, stopping at the first error.
pub(super) fn each(
    d: &Daemon,
    args: &Map<String, Value>,
    f: impl Fn(&Daemon, u32) -> Result<(), DaemonError>,
) -> Result<Value, String> {
    for id in select(d, args)? {
        f(d, id).map_err(|e| e.to_string())?;
    }
    Ok(json!({}))
}

/// A list of file indices (`files-wanted`, `priority-high`, …); entries
/// that are not non-negative integers are skipped.
pub(super) fn index_list(args: &Map<String, Value>, key: &str) -> Vec<usize> {
    args.get(key)
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|v| v.as_u64().map(|n| n as usize))
                .collect()
        })
        .unwrap_or_default()
}
