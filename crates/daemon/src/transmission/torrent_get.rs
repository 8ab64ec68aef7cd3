//! `torrent-get`: our torrent snapshots under Transmission's field names,
//! as objects or as a table, with the removed ids for `recently-active`.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::args::{Style, canon, select, string};
use super::fields::{Env, Writer, writer};
use super::file_lists::{Deferred, FileField};
use super::summary_rows::{self, Layout};
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

/// The fields one request asks for, and how each is answered.
struct Asked {
    /// As the request spells them (the keys of its answer's objects).
    fields: Vec<String>,
    /// In snake_case.
    canonical: Vec<String>,
    /// How each is answered.
    sources: Vec<Source>,
    /// Whether any needs the torrent's details.
    detailed: bool,
    /// Whether any is a per-file list.
    files: bool,
}

impl Asked {
    /// The request's `fields` (id, name and hash when it names none).
    fn of(args: &Map<String, Value>, style: Style) -> Asked {
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
        Asked {
            detailed: sources.iter().any(|s| matches!(s, Source::Detail)),
            files: sources.iter().any(|s| matches!(s, Source::Files(_))),
            fields,
            canonical,
            sources,
        }
    }

    /// The summary writer of each field (none for one we do not know), if
    /// every field is a summary field or unknown.
    fn summary_writers(&self) -> Option<Vec<Option<Writer>>> {
        self.sources
            .iter()
            .map(|s| match s {
                Source::Summary(w) => Some(Some(*w)),
                Source::Unknown => Some(None),
                Source::Files(_) | Source::Detail => None,
            })
            .collect()
    }

    /// One torrent's values of the fields (null for those we do not know),
    /// per-file lists deferred.
    fn values(
        &self,
        env: &Env<'_>,
        row: &Row,
        style: Style,
        deferred: &mut Deferred,
    ) -> Vec<Value> {
        // A client that shows swarm counts gets them refreshed (batched, and
        // only when older than the scrape module's freshness bound).
        if self.canonical.iter().any(|c| c == "tracker_stats") {
            env.daemon.want_scrape(row.view.id);
        }
        let have = if self.files {
            row.snap
                .handle
                .as_ref()
                .map(|h| Arc::new(h.have_bitfield()))
        } else {
            None
        };
        let mut details = if self.detailed {
            detail_fields(&row.snap, style, |f| self.canonical.iter().any(|c| c == f))
        } else {
            Map::new()
        };
        self.sources
            .iter()
            .zip(&self.canonical)
            .map(|(source, name)| match source {
                Source::Summary(write) => write(env, row),
                Source::Files(field) => deferred.defer(&row.snap, have.as_ref(), *field, style),
                // Moved, not cloned: a detail list is the size of the
                // torrent's. A field asked twice is answered once (an
                // object holds a key once).
                Source::Detail => details.remove(name).unwrap_or(Value::Null),
                Source::Unknown => Value::Null,
            })
            .collect()
    }

    /// The `torrents` list as a tree: objects, or a table under a header row.
    fn tree(&self, rows: impl Iterator<Item = Vec<Value>>, table: bool) -> Value {
        if table {
            let header = Value::from(self.fields.clone());
            return std::iter::once(header)
                .chain(rows.map(Value::from))
                .collect();
        }
        rows.map(|values| {
            let object: Map<String, Value> = self
                .fields
                .iter()
                .zip(values)
                // A field we do not know is left out, as Transmission does.
                .filter(|(_, v)| !v.is_null())
                .map(|(f, v)| (f.clone(), v))
                .collect();
            Value::Object(object)
        })
        .collect()
    }
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
    let asked = Asked::of(args, style);
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
    let table_format = string(args, "format") == Some("table");
    let torrents = match asked.summary_writers() {
        // A plain list (the common case, and the large one) is written
        // straight to text; see `summary_rows`.
        Some(writers) => {
            let layout = Layout::new(&asked.fields, writers, table_format, style);
            deferred.raw(summary_rows::write(&env, &selected, &layout, style)?)
        }
        None => {
            let mut rows = Vec::with_capacity(selected.len());
            for row in &selected {
                rows.push(asked.values(&env, row, style, deferred));
            }
            asked.tree(rows.into_iter(), table_format)
        }
    };
    let mut out = Map::new();
    out.insert("torrents".into(), torrents);
    if recently_active {
        out.insert("removed".into(), d.removed_since(since).into());
    }
    Ok(out.into())
}
