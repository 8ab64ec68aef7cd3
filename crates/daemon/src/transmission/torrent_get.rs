//! `torrent-get`: our torrent snapshots under Transmission's field names,
//! as objects or as a table, with the removed ids for `recently-active`.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::args::{Style, canon, select, string};
use super::fields::{Env, Writer, writer};
use super::file_lists::{Deferred, FileField};
use super::torrent_detail::detail_fields;
use crate::Daemon;
use crate::snapshot::now_unix;
use crate::table::Row;

/// Fields (snake_case) that need the per-peer or per-piece details (the
/// per-file lists are `FileField`s).
const DETAIL_FIELDS: &[&str] = &[
    "peers",
    "peers_from",
    "availability",
    "desired_available",
    "pieces",
    "trackers",
    "tracker_stats",
    "magnet_link",
];

/// Most fields one request may ask for.
const MAX_FIELDS: usize = 256;

/// How one asked field is answered.
enum Source {
    /// A summary field, from the table's row.
    Summary(Writer),
    /// A per-file list, written file by file at the end.
    Files(FileField),
    /// A field from the torrent's details (peers, pieces, trackers).
    Detail,
    /// A field we do not know: left out, as Transmission does.
    Unknown,
}

/// `torrent-get`: the asked fields of the selected torrents, from the
/// shared table (see `crate::table`): the cost is the selected torrents
/// times the asked fields.
pub(super) fn torrent_get(
    d: &Daemon,
    args: &Map<String, Value>,
    style: Style,
    deferred: &mut Deferred,
) -> Result<Value, String> {
    let fields: Vec<String> = args
        .get("fields")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .take(MAX_FIELDS)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_else(|| vec!["id".into(), "name".into(), style.key("hash_string")]);
    let canonical: Vec<String> = fields.iter().map(|f| canon(f)).collect();
    let sources: Vec<Source> = canonical
        .iter()
        .map(|f| {
            if let Some(field) = FileField::of(f) {
                Source::Files(field)
            } else if DETAIL_FIELDS.contains(&f.as_str()) {
                Source::Detail
            } else {
                writer(f).map_or(Source::Unknown, Source::Summary)
            }
        })
        .collect();
    let detailed = sources.iter().any(|s| matches!(s, Source::Detail));
    let files = sources.iter().any(|s| matches!(s, Source::Files(_)));
    let table = d.table();
    let recently_active = args
        .get("ids")
        .and_then(Value::as_str)
        .is_some_and(|s| canon(s) == "recently_active");
    let since = now_unix().saturating_sub(crate::manager::RECENT);
    let selected: Vec<&Arc<Row>> = if recently_active {
        table.active_since(since).collect()
    } else if args.get("ids").is_none() {
        table.rows.iter().collect()
    } else {
        let ids = select(d, args)?.ids;
        ids.iter().filter_map(|id| table.get(*id)).collect()
    };
    let session = d.daemon_record();
    let env = Env {
        daemon: d,
        session: &session,
    };
    // A client that shows swarm counts gets them refreshed (batched, and
    // only when older than the scrape module's freshness bound).
    let counts_shown = canonical.iter().any(|c| c == "tracker_stats");
    let mut rows = Vec::with_capacity(selected.len());
    for row in selected {
        if counts_shown {
            d.want_scrape(row.view.id);
        }
        let have = if files {
            row.snap
                .handle
                .as_ref()
                .map(|h| Arc::new(h.have_bitfield()))
        } else {
            None
        };
        let mut details = if detailed {
            detail_fields(&row.snap, style, |f| canonical.iter().any(|c| c == f))
        } else {
            Map::new()
        };
        let values: Vec<Value> = sources
            .iter()
            .zip(&canonical)
            .map(|(source, name)| match source {
                Source::Summary(write) => write(&env, row),
                Source::Files(field) => deferred.defer(&row.snap, have.as_ref(), *field, style),
                // Moved, not cloned: a detail list is the size of the
                // torrent's. A field asked twice is answered once (an
                // object holds a key once).
                Source::Detail => details.remove(name).unwrap_or(Value::Null),
                Source::Unknown => Value::Null,
            })
            .collect();
        rows.push(values);
    }
    let torrents: Vec<Value> = if string(args, "format") == Some("table") {
        let header = Value::from(fields.clone());
        std::iter::once(header)
            .chain(rows.into_iter().map(Value::from))
            .collect()
    } else {
        rows.into_iter()
            .map(|values| {
                let object: Map<String, Value> = fields
                    .iter()
                    .zip(values)
                    // A field we do not know is left out, as Transmission does.
                    .filter(|(_, v)| !v.is_null())
                    .map(|(f, v)| (f.clone(), v))
                    .collect();
                Value::Object(object)
            })
            .collect()
    };
    let mut out = Map::new();
    out.insert("torrents".into(), torrents.into());
    if recently_active {
        out.insert("removed".into(), d.removed_since(since).into());
    }
    Ok(out.into())
}
