//! Turning path elements from a torrent into names that cannot escape the
//! download directory.
//!
//! A torrent's paths are remote input. Each element goes through
//! [`sanitize_component`], which treats them as follows:
//!
//! | element                                  | what happens                          |
//! |------------------------------------------|---------------------------------------|
//! | `..`                                     | refused: [`PathError::ParentDir`]      |
//! | empty or `.`                             | dropped (a path left empty is refused: [`PathError::Empty`]) |
//! | contains `/` or `\`                      | each separator becomes `_`, so one element is always one name and never absolute (`/etc/x` → `_etc_x`, `../x` → `.._x`) |
//! | NUL or another control character          | becomes `_`                           |
//! | invalid UTF-8                            | decoded lossily (U+FFFD), as other clients do; the info-hash is unaffected |
//! | longer than 255 bytes                    | cut at a character boundary, keeping a short extension |
//! | Windows device name (`CON`, `nul.txt`, `COM1`…, any case) | `_` appended to the stem (`con.txt` → `con_.txt`) |
//! | trailing dots or spaces                  | become `_` (Windows would strip them and merge names) |
//! | `:` on Windows                           | becomes `_` (drive letters, alternate streams); kept elsewhere |
//!
//! A path deeper than [`MAX_PATH_DEPTH`] elements is refused: [`PathError::TooDeep`].

use crate::limits::{MAX_COMPONENT_LEN, MAX_PATH_DEPTH};

/// Why a path from a torrent was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// An element is `..`.
    #[error("`..` element")]
    ParentDir,
    /// Nothing is left after dropping empty and `.` elements.
    #[error("empty path")]
    Empty,
    /// More than [`MAX_PATH_DEPTH`] elements.
    #[error("more than {MAX_PATH_DEPTH} elements")]
    TooDeep,
}

const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Longest extension kept when an over-long element is cut.
const MAX_KEPT_EXTENSION: usize = 16;

/// Sanitises one path element; `Ok(None)` means the element is dropped.
pub fn sanitize_component(raw: &[u8]) -> Result<Option<String>, PathError> {
    match raw {
        b".." => return Err(PathError::ParentDir),
        b"" | b"." => return Ok(None),
        _ => {}
    }
    // Most names are printable ASCII with nothing to replace: copied as they
    // are, without decoding them char by char (a torrent of many files spends
    // its parse here).
    let plain = raw
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && !is_forbidden(char::from(b)));
    let mut name: String = if plain {
        String::from_utf8_lossy(raw).into_owned()
    } else {
        String::from_utf8_lossy(raw)
            .chars()
            .map(|c| if is_forbidden(c) { '_' } else { c })
            .collect()
    };
    escape_reserved(&mut name);
    truncate_keeping_extension(&mut name);
    let trimmed = name.trim_end_matches(['.', ' ']).len();
    if trimmed < name.len() {
        let tail = "_".repeat(name.len() - trimmed);
        name.truncate(trimmed);
        name.push_str(&tail);
    }
    Ok(Some(name))
}

/// Sanitises a whole path (each element as [`sanitize_component`] does).
pub fn sanitize_path<'a>(
    elements: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<String>, PathError> {
    let mut out = Vec::new();
    for raw in elements {
        if let Some(name) = sanitize_component(raw)? {
            out.push(name);
            if out.len() > MAX_PATH_DEPTH {
                return Err(PathError::TooDeep);
            }
        }
    }
    if out.is_empty() {
        return Err(PathError::Empty);
    }
    Ok(out)
}

fn is_forbidden(c: char) -> bool {
    c == '/' || c == '\\' || c.is_control() || (cfg!(windows) && c == ':')
}

fn escape_reserved(name: &mut String) {
    let stem_len = name.find('.').unwrap_or(name.len());
    let stem = name.get(..stem_len).unwrap_or_default();
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem)) {
        name.insert(stem_len, '_');
    }
}

fn truncate_keeping_extension(name: &mut String) {
    if name.len() <= MAX_COMPONENT_LEN {
        return;
    }
    // Split only a short extension off: splitting first and then discarding a long
    // one used to drop everything from the dot on (".xxx…" became "").
    let extension = match name.rfind('.') {
        Some(dot) if name.len() - dot <= MAX_KEPT_EXTENSION => name.split_off(dot),
        _ => String::new(),
    };
    let mut cut = MAX_COMPONENT_LEN - extension.len();
    while !name.is_char_boundary(cut.min(name.len())) {
        cut -= 1;
    }
    name.truncate(cut.min(name.len()));
    name.push_str(&extension);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(raw: &str) -> Option<String> {
        sanitize_component(raw.as_bytes()).unwrap()
    }

    #[test]
    fn parent_dir_is_refused() {
        assert_eq!(sanitize_component(b".."), Err(PathError::ParentDir));
        assert_eq!(
            sanitize_path([&b"a"[..], b"..", b"b"]),
            Err(PathError::ParentDir)
        );
    }

    #[test]
    fn dots_and_empties_are_dropped() {
        assert_eq!(one("."), None);
        assert_eq!(one(""), None);
        assert_eq!(sanitize_path([&b"."[..], b"", b"x"]).unwrap(), vec!["x"]);
        assert_eq!(sanitize_path([&b"."[..], b""]), Err(PathError::Empty));
    }

    #[test]
    fn separators_and_controls_become_underscores() {
        assert_eq!(one("/etc/passwd").unwrap(), "_etc_passwd");
        assert_eq!(one("..\\..\\x").unwrap(), ".._.._x");
        assert_eq!(one("a\0b\nc").unwrap(), "a_b_c");
        assert_eq!(one("../x").unwrap(), ".._x");
    }

    #[test]
    fn reserved_names_and_trailing_dots() {
        assert_eq!(one("con").unwrap(), "con_");
        assert_eq!(one("NUL.txt").unwrap(), "NUL_.txt");
        assert_eq!(one("console").unwrap(), "console");
        assert_eq!(one("name. ").unwrap(), "name__");
        assert_eq!(one("...").unwrap(), "___");
    }

    #[test]
    fn long_names_are_cut_keeping_extension() {
        let long = format!("{}.mkv", "é".repeat(200));
        let cut = one(&long).unwrap();
        assert!(cut.len() <= MAX_COMPONENT_LEN);
        assert!(cut.ends_with(".mkv"));
        let no_ext = "x".repeat(1000);
        assert_eq!(one(&no_ext).unwrap().len(), MAX_COMPONENT_LEN);
        // Regression: a long extension (or a leading dot) must not swallow the name.
        let hidden = format!(".{}", "x".repeat(300));
        assert_eq!(one(&hidden).unwrap(), hidden[..MAX_COMPONENT_LEN]);
        let long_ext = format!("name.{}", "x".repeat(300));
        assert_eq!(one(&long_ext).unwrap(), long_ext[..MAX_COMPONENT_LEN]);
    }

    #[test]
    fn invalid_utf8_is_lossy() {
        assert_eq!(
            sanitize_component(b"a\xffb").unwrap().unwrap(),
            "a\u{fffd}b"
        );
    }

    #[test]
    fn depth_is_limited() {
        let deep: Vec<&[u8]> = vec![b"d"; MAX_PATH_DEPTH + 1];
        assert_eq!(sanitize_path(deep), Err(PathError::TooDeep));
    }
}
