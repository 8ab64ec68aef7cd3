//! `torrent-get` of summary fields only (what a client's torrent list asks
//! for, every few seconds) written straight to JSON text: a tree of values
//! per torrent, built, copied into the answer's tree and freed again, cost
//! most of a 5,000-torrent list. The text is what the tree would have been
//! serialized to: objects with their keys in sorted order (the order of
//! serde_json's map), fields we do not know and null values left out; table
//! rows with null in their place.

use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

use super::args::{Style, canon, snake_keys};
use super::fields::{Env, Writer};
use crate::table::Row;

/// The asked fields of a plain list, ready to write.
pub(super) enum Layout<'f> {
    /// One object per torrent: its keys (sorted, once each) and writers.
    Objects(Vec<(String, Writer)>),
    /// A header row, then one row per torrent, a writer per column (none
    /// for a field we do not know).
    Table(&'f [String], Vec<Option<Writer>>),
}

impl<'f> Layout<'f> {
    /// The layout of `fields` (as asked) with their `writers` (as many).
    pub(super) fn new(
        fields: &'f [String],
        writers: Vec<Option<Writer>>,
        table: bool,
        style: Style,
    ) -> Layout<'f> {
        if table {
            return Layout::Table(fields, writers);
        }
        // JSON-RPC answers' keys are snake_case (see `args::snake_keys`,
        // which this text does not pass through).
        let mut keyed: Vec<(String, Writer)> = fields
            .iter()
            .zip(writers)
            .filter_map(|(field, w)| {
                let key = match style {
                    Style::Legacy => field.clone(),
                    Style::Snake => canon(field),
                };
                Some((key, w?))
            })
            .collect();
        // Keys that are equal name one field, so one writer: either will do.
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed.dedup_by(|a, b| a.0 == b.0);
        Layout::Objects(keyed)
    }
}

/// The `torrents` list of `rows` as JSON text.
pub(super) fn write(
    env: &Env<'_>,
    rows: &[&Arc<Row>],
    layout: &Layout<'_>,
    style: Style,
) -> Result<Box<RawValue>, String> {
    let list = List {
        env,
        rows,
        layout,
        style,
    };
    serde_json::value::to_raw_value(&list).map_err(|e| e.to_string())
}

/// The list, serialized row by row.
struct List<'a> {
    env: &'a Env<'a>,
    rows: &'a [&'a Arc<Row>],
    layout: &'a Layout<'a>,
    style: Style,
}

/// One torrent's object or table row.
struct One<'a> {
    list: &'a List<'a>,
    row: &'a Row,
}

impl List<'_> {
    /// One field's value; in JSON-RPC, with the keys of any object in it
    /// snake_case, as `args::snake_keys` would have made them.
    fn value(&self, write: Writer, row: &Row) -> Value {
        let value = write(self.env, row);
        match (&value, self.style) {
            (Value::Object(_) | Value::Array(_), Style::Snake) => snake_keys(value),
            _ => value,
        }
    }
}

impl Serialize for List<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let header = usize::from(matches!(self.layout, Layout::Table(..)));
        let mut seq = serializer.serialize_seq(Some(self.rows.len() + header))?;
        if let Layout::Table(fields, _) = self.layout {
            seq.serialize_element(fields)?;
        }
        for row in self.rows {
            seq.serialize_element(&One { list: self, row })?;
        }
        seq.end()
    }
}

impl Serialize for One<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (list, row) = (self.list, self.row);
        match list.layout {
            Layout::Objects(keyed) => {
                let mut map = serializer.serialize_map(None)?;
                for (key, write) in keyed {
                    let value = list.value(*write, row);
                    // A null (a float that is not a number, a stored null)
                    // is left out, as the tree's objects left it.
                    if !value.is_null() {
                        map.serialize_entry(key, &value)?;
                    }
                }
                map.end()
            }
            Layout::Table(_, writers) => {
                let mut seq = serializer.serialize_seq(Some(writers.len()))?;
                for write in writers {
                    match write {
                        Some(write) => seq.serialize_element(&list.value(*write, row))?,
                        None => seq.serialize_element(&Value::Null)?,
                    }
                }
                seq.end()
            }
        }
    }
}
