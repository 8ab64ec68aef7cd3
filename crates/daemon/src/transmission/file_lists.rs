//! `torrent-get`'s per-file fields (`files`, `fileStats`, `priorities`,
//! `wanted`) written file by file while the answer is serialised.
//!
//! Answers are JSON trees (`serde_json::Value`), and a tree object per file
//! costs ~700 bytes: a hostile torrent's 500k files made every such request
//! over a gigabyte. So the tree holds a placeholder for each list (a string
//! with a per-answer random prefix, which no torrent name or URL can equal)
//! and [`Expanded`] writes the list in its place from the torrent's snapshot.
//! A plain list's torrents, written as JSON text up front (see
//! `summary_rows`), go in the same way, so the tree never holds them.

use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

use super::args::Style;
use crate::snapshot::TorrentSnapshot;
use crate::view::{FilePage, FileView};

/// Which per-file field a list is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FileField {
    /// `files`: name, length, bytes completed, first and last piece.
    Files,
    /// `fileStats`: bytes completed, wanted, priority.
    FileStats,
    /// `priorities`: -1, 0 or 1 per file.
    Priorities,
    /// `wanted`: 0 or 1 per file.
    Wanted,
}

impl FileField {
    const ALL: [FileField; 4] = [
        FileField::Files,
        FileField::FileStats,
        FileField::Priorities,
        FileField::Wanted,
    ];

    /// The field of a (snake_case) name, if it is a per-file one.
    pub(super) fn of(name: &str) -> Option<FileField> {
        FileField::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Its snake_case name.
    pub(super) fn name(self) -> &'static str {
        match self {
            FileField::Files => "files",
            FileField::FileStats => "file_stats",
            FileField::Priorities => "priorities",
            FileField::Wanted => "wanted",
        }
    }
}

/// One deferred list: a field of one torrent.
struct FileList {
    snap: Arc<TorrentSnapshot>,
    /// The torrent's bitfield, read once (empty while it is not running).
    have: Option<Arc<Vec<u8>>>,
    field: FileField,
    style: Style,
}

/// What one placeholder stands for.
enum Part {
    /// A per-file list, written when the answer is.
    List(FileList),
    /// JSON text written already.
    Raw(Box<RawValue>),
}

/// The lists of one answer, and the placeholders that stand for them.
#[derive(Default)]
pub(crate) struct Deferred {
    /// Starts every placeholder: random, made at the first list.
    prefix: String,
    lists: Vec<Part>,
}

impl Deferred {
    /// The placeholder for `field` of `snap`, to put where its list goes.
    pub(super) fn defer(
        &mut self,
        snap: &Arc<TorrentSnapshot>,
        have: Option<&Arc<Vec<u8>>>,
        field: FileField,
        style: Style,
    ) -> Value {
        self.placeholder(Part::List(FileList {
            snap: Arc::clone(snap),
            have: have.cloned(),
            field,
            style,
        }))
    }

    /// The placeholder for JSON text, to put where it goes.
    pub(super) fn raw(&mut self, json: Box<RawValue>) -> Value {
        self.placeholder(Part::Raw(json))
    }

    fn placeholder(&mut self, part: Part) -> Value {
        if self.prefix.is_empty() {
            self.prefix = format!("\u{0}shoal-file-list-{}-", crate::security::random_token());
        }
        let token = format!("{}{}", self.prefix, self.lists.len());
        self.lists.push(part);
        Value::String(token)
    }

    fn list(&self, s: &str) -> Option<&Part> {
        if self.lists.is_empty() {
            return None;
        }
        let index: usize = s.strip_prefix(&self.prefix)?.parse().ok()?;
        self.lists.get(index)
    }
}

/// `value` serialised with each placeholder written as its list.
pub(crate) struct Expanded<'a> {
    /// The answer.
    pub(crate) value: &'a Value,
    /// Its lists.
    pub(crate) deferred: &'a Deferred,
}

impl Serialize for Expanded<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let inner = |value| Expanded {
            value,
            deferred: self.deferred,
        };
        match self.value {
            Value::String(s) => match self.deferred.list(s) {
                Some(Part::List(list)) => list.serialize(serializer),
                // serde_json's serializer writes it as it is.
                Some(Part::Raw(json)) => json.serialize(serializer),
                None => serializer.serialize_str(s),
            },
            Value::Array(items) => serializer.collect_seq(items.iter().map(inner)),
            Value::Object(map) => serializer.collect_map(map.iter().map(|(k, v)| (k, inner(v)))),
            other => other.serialize(serializer),
        }
    }
}

/// Transmission's priority (-1, 0, 1) of one of ours (0–7).
pub(super) fn tr_priority(p: u8) -> i64 {
    match p {
        0 | 4 => 0,
        1..=3 => -1,
        _ => 1,
    }
}

impl Serialize for FileList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let snap = &*self.snap;
        let views =
            crate::view::file_views(snap, self.have.as_deref().map(Vec::as_slice), FilePage::ALL);
        let rows = views.map(|f| Row { list: self, f });
        serializer.collect_seq(rows)
    }
}

/// One file's entry in a list.
struct Row<'l> {
    list: &'l FileList,
    f: FileView,
}

impl Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (f, style) = (&self.f, self.list.style);
        match self.list.field {
            FileField::Priorities => serializer.serialize_i64(tr_priority(f.priority)),
            FileField::Wanted => serializer.serialize_i64(i64::from(f.priority > 0)),
            FileField::Files => {
                let (begin, end) = self.list.snap.torrent.as_ref().map_or((0, 0), |t| {
                    let mut pieces = t.info.file_pieces(f.index);
                    let first = pieces.next().unwrap_or(0);
                    (first, pieces.last().unwrap_or(first))
                });
                let mut m = serializer.serialize_map(Some(5))?;
                m.serialize_entry("name", &f.name)?;
                m.serialize_entry("length", &f.length)?;
                m.serialize_entry(&style.key("bytes_completed"), &f.bytes_completed)?;
                m.serialize_entry(&style.key("begin_piece"), &begin)?;
                m.serialize_entry(&style.key("end_piece"), &end)?;
                m.end()
            }
            FileField::FileStats => {
                let mut m = serializer.serialize_map(Some(3))?;
                m.serialize_entry(&style.key("bytes_completed"), &f.bytes_completed)?;
                m.serialize_entry("wanted", &(f.priority > 0))?;
                m.serialize_entry("priority", &tr_priority(f.priority))?;
                m.end()
            }
        }
    }
}
