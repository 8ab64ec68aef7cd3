//! What the hostile-metainfo tests share: the corpus in `tests/data/hostile/`
//! and the checks its cases are written in (each one names the error, or the
//! sanitised result, that loading a file must give).
#![allow(dead_code)]

use std::path::{Component, Path, PathBuf};

use shoal_bencode::DecodeError;
use shoal_metainfo::limits::MAX_COMPONENT_LEN;
use shoal_metainfo::{FilePath, MetainfoError, PathError, Torrent};

pub type Parsed = Result<Torrent, MetainfoError>;

/// One corpus file and what loading it must give.
pub struct Case {
    pub file: &'static str,
    pub check: fn(&Parsed) -> bool,
}

pub const fn case(file: &'static str, check: fn(&Parsed) -> bool) -> Case {
    Case { file, check }
}

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hostile")
}

pub fn read(file: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Every file path (and symlink target) is a plain relative path whose elements
/// are real names: nothing that could leave, or alias, the download directory.
pub fn contained(t: &Torrent) -> bool {
    let element_ok = |e: &str| {
        !e.is_empty()
            && e != "."
            && e != ".."
            && e.len() <= MAX_COMPONENT_LEN
            && !e.contains(['/', '\\'])
            && !e.chars().any(char::is_control)
    };
    let path_ok = |p: &FilePath| {
        !p.as_str().is_empty()
            && p.elements().all(element_ok)
            && p.to_path_buf()
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
    };
    element_ok(&t.info.name)
        && t.info
            .files
            .iter()
            .all(|f| path_ok(&f.path) && f.symlink_target.as_deref().is_none_or(path_ok))
}

/// Ok, contained, and the files' paths are exactly `expected` (`/`-joined).
pub fn paths_are(r: &Parsed, expected: &[&str]) -> bool {
    let Ok(t) = r else { return false };
    let paths: Vec<String> = t
        .info
        .files
        .iter()
        .filter(|f| !f.attr.pad)
        .map(|f| f.display_path())
        .collect();
    contained(t) && paths == expected
}

pub fn missing(r: &Parsed, field: &str) -> bool {
    matches!(r, Err(MetainfoError::Missing(f)) if f == field)
}

pub fn wrong_type(r: &Parsed, field: &str) -> bool {
    matches!(r, Err(MetainfoError::WrongType(f)) if f == field)
}

pub fn invalid(r: &Parsed, field: &str, reason_has: &str) -> bool {
    matches!(r, Err(MetainfoError::Invalid { field: f, reason }) if f == field && reason.contains(reason_has))
}

pub fn unsafe_path(r: &Parsed, raw: &str, why: PathError) -> bool {
    matches!(r, Err(MetainfoError::UnsafePath { path, reason }) if path == raw && *reason == why)
}

pub fn collision(r: &Parsed, text: &str) -> bool {
    matches!(r, Err(MetainfoError::PathCollision(m)) if m == text)
}

pub fn hybrid(r: &Parsed, text: &str) -> bool {
    matches!(r, Err(MetainfoError::HybridMismatch(m)) if m == text)
}

pub fn layer(r: &Parsed, reason_is: &str) -> bool {
    matches!(r, Err(MetainfoError::PieceLayer { path, reason }) if path == "big" && reason == reason_is)
}

pub fn bencode(r: &Parsed, check: fn(&DecodeError) -> bool) -> bool {
    matches!(r, Err(MetainfoError::Bencode(e)) if check(e))
}
