//! `torrent-get` of summary fields only (a client's torrent list) is written
//! straight to JSON text, other requests go through a tree of values: the
//! text must be what the tree gives, byte for byte (key order, left-out and
//! null fields, escaping), in objects and tables, in both framings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::SocketAddr;

use base64::Engine as _;
use common::{rpc, server, torrent_bytes};
use serde_json::{Value, json};

/// Summary fields in the spellings clients use, one of them twice, one
/// that no torrent has, one kebab-case and one snake_case.
const FIELDS: &[&str] = &[
    "status",
    "id",
    "name",
    "noSuchField",
    "activityDate",
    "addedDate",
    "bandwidthPriority",
    "comment",
    "corruptEver",
    "creator",
    "dateCreated",
    "doneDate",
    "downloadDir",
    "downloadedEver",
    "downloadLimit",
    "downloadLimited",
    "editDate",
    "error",
    "errorString",
    "eta",
    "etaIdle",
    "file-count",
    "group",
    "hashString",
    "haveUnchecked",
    "haveValid",
    "honorsSessionLimits",
    "isFinished",
    "isPrivate",
    "isStalled",
    "labels",
    "leftUntilDone",
    "maxConnectedPeers",
    "metadataPercentComplete",
    "peer-limit",
    "peersConnected",
    "percentComplete",
    "percentDone",
    "pieceCount",
    "pieceSize",
    "primary-mime-type",
    "queuePosition",
    "rateDownload",
    "rateUpload",
    "recheckProgress",
    "secondsSeeding",
    "seedIdleLimit",
    "seedRatioLimit",
    "seedRatioMode",
    "sequential_download",
    "sizeWhenDone",
    "torrentFile",
    "totalSize",
    "trackerList",
    "uploadRatio",
    "webseeds",
    "id",
];

/// A field answered from the torrent's details: asking for it as well
/// sends the whole answer through the tree.
const DETAIL: &str = "trackers";

/// `value` without the detail field: its key in objects, its column in
/// tables (the header row names it).
fn without_detail(value: &mut Value, key: &str) {
    match value {
        Value::Object(map) => {
            map.remove(key);
            map.values_mut().for_each(|v| without_detail(v, key));
        }
        Value::Array(rows) if rows.first().is_some_and(Value::is_array) => {
            let header = rows[0].as_array().unwrap().clone();
            let column = header.iter().position(|h| h == key).unwrap();
            for row in rows.iter_mut() {
                row.as_array_mut().unwrap().remove(column);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| without_detail(v, key)),
        _ => {}
    }
}

/// Asserts that `request` (with `fields` under `params_key`) is answered
/// with the text the tree path gives for the same fields; `key` is the
/// detail field's key in the answer. Retried a few times, as a running
/// clock may move between the two reads.
fn same_as_tree(addr: SocketAddr, request: Value, params_key: &str, key: &str) {
    let mut with_detail = request.clone();
    with_detail[params_key]["fields"]
        .as_array_mut()
        .unwrap()
        .push(json!(DETAIL));
    let mut last = (String::new(), String::new());
    for _ in 0..5 {
        let direct = common::rpc_text(addr, &request);
        let mut tree: Value = serde_json::from_str(&common::rpc_text(addr, &with_detail)).unwrap();
        without_detail(&mut tree, key);
        // The tree path's text for the same fields: serde_json writes a
        // tree's keys in sorted order, as the daemon's answers do.
        let expected = serde_json::to_string(&tree).unwrap();
        if direct == expected {
            return;
        }
        last = (direct, expected);
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    assert_eq!(last.0, last.1, "{request}");
}

/// Adds `torrent_bytes(name)` stopped; returns its id.
fn add(addr: SocketAddr, name: &str) -> u64 {
    let meta = base64::engine::general_purpose::STANDARD.encode(torrent_bytes(name));
    let args = json!({ "metainfo": meta, "paused": true, "labels": ["tv", "x\"y"] });
    let v = rpc(addr, json!({ "method": "torrent-add", "arguments": args }));
    v["arguments"]["torrent-added"]["id"].as_u64().unwrap()
}

#[test]
fn a_plain_list_is_written_as_the_tree_would_be() {
    let s = server(|_| {});
    let odd = "q\"uote ✓";
    let a = add(s.addr, odd);
    let b = add(s.addr, "plain");
    // A stored value that is an object: its keys are snake_case in
    // JSON-RPC answers.
    rpc(
        s.addr,
        json!({ "method": "torrent-set", "arguments": { "ids": [b], "group": { "someKey": [{ "innerKey": 1 }] } } }),
    );
    let fields = json!(FIELDS);

    // The exact text of a small list, the envelope and the tag included.
    let text = common::rpc_text(
        s.addr,
        &json!({ "method": "torrent-get", "arguments": { "fields": ["name", "nope", "id"] }, "tag": 7 }),
    );
    let name = serde_json::to_string(odd).unwrap();
    assert_eq!(
        text,
        format!(
            r#"{{"arguments":{{"torrents":[{{"id":{a},"name":{name}}},{{"id":{b},"name":"plain"}}]}},"result":"success","tag":7}}"#
        )
    );
    let text = common::rpc_text(
        s.addr,
        &json!({ "method": "torrent-get", "arguments": { "fields": ["name", "nope", "id"], "format": "table" } }),
    );
    assert_eq!(
        text,
        format!(
            r#"{{"arguments":{{"torrents":[["name","nope","id"],[{name},null,{a}],["plain",null,{b}]]}},"result":"success"}}"#
        )
    );

    // Every summary field, as the tree would have written it.
    for format in [json!("objects"), json!("table")] {
        let legacy =
            json!({ "method": "torrent-get", "arguments": { "fields": fields, "format": format } });
        same_as_tree(s.addr, legacy, "arguments", DETAIL);
        let snake = json!({ "jsonrpc": "2.0", "method": "torrent_get", "params": { "fields": fields, "format": format }, "id": 3 });
        same_as_tree(s.addr, snake, "params", DETAIL);
    }
    let recent = json!({ "method": "torrent-get", "arguments": { "ids": "recently-active", "fields": fields } });
    same_as_tree(s.addr, recent, "arguments", DETAIL);
    let some = json!({ "method": "torrent-get", "arguments": { "ids": [b], "fields": fields } });
    same_as_tree(s.addr, some, "arguments", DETAIL);

    // The nested stored object, snake_case in JSON-RPC.
    let text = common::rpc_text(
        s.addr,
        &json!({ "jsonrpc": "2.0", "method": "torrent_get", "params": { "ids": [b], "fields": ["group", "percentDone"] }, "id": 1 }),
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["result"]["torrents"][0]["group"],
        json!({ "some_key": [{ "inner_key": 1 }] }),
        "{text}"
    );
    assert!(
        v["result"]["torrents"][0]["percent_done"].is_number(),
        "{text}"
    );
}
