//! Typed access to bencode dictionary fields, with errors that name the field.

use shoal_bencode::Value;

use crate::MetainfoError;
use crate::limits::MAX_TEXT_LEN;

/// An optional integer under `key`.
pub(crate) fn opt_int(
    parent: &Value<'_>,
    key: &str,
    field: &str,
) -> Result<Option<i64>, MetainfoError> {
    parent
        .get(key.as_bytes())
        .map(|v| v.as_int().ok_or_else(|| wrong(field)))
        .transpose()
}

/// An integer under `key` that must be present and within `0..=max`.
pub(crate) fn req_uint(
    parent: &Value<'_>,
    key: &str,
    field: &str,
    max: u64,
) -> Result<u64, MetainfoError> {
    let n = opt_int(parent, key, field)?.ok_or_else(|| missing(field))?;
    let n = u64::try_from(n).map_err(|_| MetainfoError::invalid(field, "negative"))?;
    if n > max {
        return Err(MetainfoError::invalid(
            field,
            format!("{n} is larger than {max}"),
        ));
    }
    Ok(n)
}

/// Optional bytes under `key`.
pub(crate) fn opt_bytes<'a>(
    parent: &Value<'a>,
    key: &str,
    field: &str,
) -> Result<Option<&'a [u8]>, MetainfoError> {
    parent
        .get(key.as_bytes())
        .map(|v| v.as_bytes().ok_or_else(|| wrong(field)))
        .transpose()
}

/// Human text under `key` (preferring a valid `key.utf-8` twin), lossily decoded
/// and capped; wrong types are ignored, since these fields are informational.
pub(crate) fn text(parent: &Value<'_>, key: &str) -> Option<String> {
    let utf8_key = format!("{key}.utf-8");
    let raw = parent
        .get(utf8_key.as_bytes())
        .and_then(Value::as_str)
        .map(str::as_bytes)
        .or_else(|| parent.get(key.as_bytes()).and_then(Value::as_bytes))?;
    let mut s = String::from_utf8_lossy(raw).into_owned();
    if s.len() > MAX_TEXT_LEN {
        let mut cut = MAX_TEXT_LEN;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    Some(s)
}

/// Bytes under `key`, preferring a `key.utf-8` twin when it is valid UTF-8.
pub(crate) fn name_bytes<'a>(parent: &Value<'a>, key: &str) -> Option<&'a [u8]> {
    let utf8_key = format!("{key}.utf-8");
    parent
        .get(utf8_key.as_bytes())
        .and_then(Value::as_str)
        .map(str::as_bytes)
        .or_else(|| parent.get(key.as_bytes()).and_then(Value::as_bytes))
}

/// A list of path elements under `key`, preferring a valid `key.utf-8` twin.
pub(crate) fn path_list<'v, 'a>(
    parent: &'v Value<'a>,
    key: &str,
    field: &str,
) -> Result<Vec<&'a [u8]>, MetainfoError> {
    let utf8_key = format!("{key}.utf-8");
    let as_elements = |v: &Value<'a>| -> Option<Vec<&'a [u8]>> {
        v.as_list()?.iter().map(Value::as_bytes).collect()
    };
    if let Some(elements) = parent
        .get(utf8_key.as_bytes())
        .and_then(as_elements)
        .filter(|els| els.iter().all(|e| std::str::from_utf8(e).is_ok()))
    {
        return Ok(elements);
    }
    let v = parent.get(key.as_bytes()).ok_or_else(|| missing(field))?;
    as_elements(v).ok_or_else(|| wrong(field))
}

pub(crate) fn missing(field: &str) -> MetainfoError {
    MetainfoError::Missing(field.to_owned())
}

pub(crate) fn wrong(field: &str) -> MetainfoError {
    MetainfoError::WrongType(field.to_owned())
}
