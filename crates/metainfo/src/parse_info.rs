//! Parsing the info dictionary: v1 file lists, v2 file trees, and hybrids.

use std::collections::HashSet;
use std::sync::Arc;

use shoal_bencode::Value;

use crate::fields::{name_bytes, opt_bytes, opt_int, path_list, req_uint, text, wrong};
use crate::file_path::PathArena;
use crate::info::{FileAttr, FileEntry, Info, Version};
use crate::info_bytes::InfoCell;
use crate::limits::{
    MAX_FILES, MAX_PATH_DEPTH, MAX_PIECE_LENGTH, MAX_PIECES, MAX_TOTAL_SIZE, MIN_PIECE_LENGTH,
};
use crate::path::{sanitize_component, sanitize_path};
use crate::piece_hashes::PieceHashes;
use crate::{FilePath, MetainfoError, PathError};

/// Parses a decoded info dictionary; `raw` holds its bytes (`info.raw()`),
/// and the piece hashes are read from there rather than copied.
pub(crate) fn parse_info(info: &Value<'_>, raw: &Arc<InfoCell>) -> Result<Info, MetainfoError> {
    if info.as_dict().is_none() {
        return Err(wrong("info"));
    }
    let piece_length = req_uint(info, "piece length", "info.piece length", MAX_PIECE_LENGTH)?;
    if piece_length < MIN_PIECE_LENGTH {
        return Err(MetainfoError::invalid(
            "info.piece length",
            format!("{piece_length} is smaller than {MIN_PIECE_LENGTH}"),
        ));
    }
    let raw_name = name_bytes(info, "name").ok_or_else(|| match info.get(b"name") {
        Some(_) => wrong("info.name"),
        None => MetainfoError::Missing("info.name".into()),
    })?;
    let name = sanitize_component(raw_name)
        .map_err(|reason| unsafe_path(&[raw_name], reason))?
        .ok_or_else(|| unsafe_path(&[raw_name], PathError::Empty))?;

    let meta_version = opt_int(info, "meta version", "info.meta version")?;
    let has_v2 = match meta_version {
        None => false,
        Some(2) => true,
        Some(v) => {
            return Err(MetainfoError::invalid(
                "info.meta version",
                format!("unsupported version {v}"),
            ));
        }
    };
    let pieces = opt_bytes(info, "pieces", "info.pieces")?;
    let info_start = info.raw().as_ptr() as usize;
    let has_v1 = pieces.is_some();
    let version = match (has_v1, has_v2) {
        (true, true) => Version::Hybrid,
        (true, false) => Version::V1,
        (false, true) => Version::V2,
        (false, false) => return Err(MetainfoError::Missing("info.pieces".into())),
    };
    if has_v2 && !piece_length.is_power_of_two() {
        return Err(MetainfoError::invalid(
            "info.piece length",
            "v2 requires a power of two",
        ));
    }

    // A hybrid's form (single file or directory) is the v1 one: a directory holding
    // one file has a v1 `files` list but a v2 tree that looks like a single file
    // (libtorrent makes such torrents and reads them as `name/file`).
    let (files, single_file) = if has_v1 {
        let (mut files, single) = v1_files(info, &name)?;
        if has_v2 {
            let (v2_files, _) = v2_files(info, &name, piece_length, Some(single))?;
            attach_v2_roots(&mut files, &v2_files, piece_length)?;
        }
        (files, single)
    } else {
        v2_files(info, &name, piece_length, None)?
    };
    check_collisions(&files)?;

    let mut info = Info {
        name,
        piece_length,
        private: opt_int(info, "private", "info.private")? == Some(1),
        source: text(info, "source"),
        version,
        files,
        single_file,
        v1_pieces: PieceHashes::default(),
    };
    // Nothing to download can never complete (libtorrent refuses it too:
    // `zero.torrent`), and a zero-piece torrent breaks every "all pieces"
    // invariant downstream.
    if info.piece_space_end() == 0 {
        return Err(MetainfoError::invalid(
            "info.length",
            "the torrent holds no data",
        ));
    }
    let expected = info.piece_space_end().div_ceil(piece_length);
    if expected > MAX_PIECES as u64 {
        return Err(MetainfoError::Limit {
            field: "info.pieces",
            count: expected,
            max: MAX_PIECES as u64,
        });
    }
    if let Some(pieces) = pieces {
        info.v1_pieces = piece_hashes(pieces, expected, info_start, raw)?;
    }
    Ok(info)
}

/// The `pieces` string as hashes, in place in `raw` (the info dictionary's
/// bytes, which begin at `info_start` in the buffer `pieces` lies in).
fn piece_hashes(
    pieces: &[u8],
    expected: u64,
    info_start: usize,
    raw: &Arc<InfoCell>,
) -> Result<PieceHashes, MetainfoError> {
    if pieces.len() % 20 != 0 {
        return Err(MetainfoError::invalid(
            "info.pieces",
            format!("length {} is not a multiple of 20", pieces.len()),
        ));
    }
    let found = (pieces.len() / 20) as u64;
    if found != expected {
        return Err(MetainfoError::PieceCount { expected, found });
    }
    // Both are slices of the one decoded buffer, so the string's offset in
    // the dictionary is the distance between them.
    let start = (pieces.as_ptr() as usize).wrapping_sub(info_start);
    let span = start..start.saturating_add(pieces.len());
    let in_place = PieceHashes::within(raw, span).filter(|hashes| {
        hashes
            .load()
            .is_ok_and(|loaded| loaded.as_bytes() == pieces)
    });
    Ok(in_place.unwrap_or_else(|| PieceHashes::from(pieces)))
}

fn unsafe_path(raw: &[&[u8]], reason: PathError) -> MetainfoError {
    let path = raw
        .iter()
        .map(|e| String::from_utf8_lossy(e))
        .collect::<Vec<_>>()
        .join("/");
    MetainfoError::UnsafePath { path, reason }
}

fn parse_attr(dict: &Value<'_>) -> FileAttr {
    let attr = dict
        .get(b"attr")
        .and_then(Value::as_bytes)
        .unwrap_or_default();
    FileAttr {
        pad: attr.contains(&b'p'),
        executable: attr.contains(&b'x'),
        hidden: attr.contains(&b'h'),
        symlink: attr.contains(&b'l'),
    }
}

fn symlink_target(
    dict: &Value<'_>,
    attr: FileAttr,
    field: &str,
    arena: &mut PathArena,
) -> Result<Option<Box<FilePath>>, MetainfoError> {
    if !attr.symlink {
        return Ok(None);
    }
    let raw = path_list(dict, "symlink path", field)?;
    let target = sanitize_path(raw.iter().copied()).map_err(|reason| unsafe_path(&raw, reason))?;
    Ok(Some(Box::new(arena.push(target))))
}

/// Points the paths of `files` at their finished arena.
fn seal(arena: PathArena, files: &mut [FileEntry]) {
    arena.seal(
        files
            .iter_mut()
            .flat_map(|f| std::iter::once(&mut f.path).chain(f.symlink_target.as_deref_mut())),
    );
}

/// A file's `length`: required and bounded, except for a BEP 47 symlink,
/// which has no data of its own, so it takes no piece space whatever its
/// `length` says and may omit it (libtorrent: `symlink_zero_size`).
fn file_length(dict: &Value<'_>, attr: FileAttr, field: &str) -> Result<u64, MetainfoError> {
    if attr.symlink {
        return Ok(0);
    }
    req_uint(dict, "length", field, MAX_TOTAL_SIZE)
}

/// Advances a piece-space cursor, refusing totals above [`MAX_TOTAL_SIZE`].
fn add_length(total: &mut u64, length: u64) -> Result<(), MetainfoError> {
    *total = total
        .checked_add(length)
        .filter(|t| *t <= MAX_TOTAL_SIZE)
        .ok_or(MetainfoError::Limit {
            field: "total size",
            count: total.saturating_add(length),
            max: MAX_TOTAL_SIZE,
        })?;
    Ok(())
}

/// v1 `length` (single file) or `files` (multi-file), offsets packed back to back.
fn v1_files(info: &Value<'_>, name: &str) -> Result<(Vec<FileEntry>, bool), MetainfoError> {
    let mut arena = PathArena::default();
    if info.get(b"files").is_none() {
        let attr = parse_attr(info);
        let length = file_length(info, attr, "info.length")?;
        let mut files = vec![FileEntry {
            path: arena.push([name]),
            length,
            attr,
            symlink_target: symlink_target(info, attr, "info.symlink path", &mut arena)?,
            pieces_root: None,
            offset: 0,
        }];
        seal(arena, &mut files);
        return Ok((files, true));
    }
    let list = info
        .get(b"files")
        .and_then(Value::as_list)
        .ok_or_else(|| wrong("info.files"))?;
    if list.len() > MAX_FILES {
        return Err(MetainfoError::Limit {
            field: "info.files",
            count: list.len() as u64,
            max: MAX_FILES as u64,
        });
    }
    if list.is_empty() {
        return Err(MetainfoError::invalid("info.files", "empty file list"));
    }
    let mut files = Vec::with_capacity(list.len());
    let mut offset = 0u64;
    for (i, entry) in list.iter().enumerate() {
        let field = format!("info.files[{i}]");
        if entry.as_dict().is_none() {
            return Err(wrong(&field));
        }
        let attr = parse_attr(entry);
        let length = file_length(entry, attr, &format!("{field}.length"))?;
        let rel = if attr.pad && entry.get(b"path").is_none() {
            // A pad file without a path (libtorrent's `pad_file_no_path`):
            // it is never written, so any name will do.
            vec![".pad".to_owned(), length.to_string()]
        } else {
            let raw = path_list(entry, "path", &format!("{field}.path"))?;
            sanitize_path(raw.iter().copied()).map_err(|reason| unsafe_path(&raw, reason))?
        };
        let path = arena.push(std::iter::once(name).chain(rel.iter().map(String::as_str)));
        let target_field = format!("{field}.symlink path");
        files.push(FileEntry {
            path,
            length,
            attr,
            symlink_target: symlink_target(entry, attr, &target_field, &mut arena)?,
            pieces_root: None,
            offset,
        });
        add_length(&mut offset, length)?;
    }
    seal(arena, &mut files);
    Ok((files, false))
}

/// A v2 `file tree`, flattened in tree order, each file aligned to a piece boundary;
/// `single` forces the single-file form (or not) instead of inferring it.
fn v2_files(
    info: &Value<'_>,
    name: &str,
    piece_length: u64,
    single: Option<bool>,
) -> Result<(Vec<FileEntry>, bool), MetainfoError> {
    let tree = info
        .get(b"file tree")
        .ok_or_else(|| MetainfoError::Missing("info.file tree".into()))?;
    let mut flat = Vec::new();
    walk_tree(tree, &mut Vec::new(), &mut flat)?;
    if flat.is_empty() {
        return Err(MetainfoError::invalid("info.file tree", "no files"));
    }
    // A lone file at the root is the single-file form (BEP 52: named like the torrent).
    let single = single
        .unwrap_or_else(|| flat.len() == 1 && flat.first().is_some_and(|(p, _)| p.len() == 1));
    let mut files = Vec::with_capacity(flat.len());
    let mut arena = PathArena::default();
    let mut offset = 0u64;
    for (raw_path, node) in flat {
        let rel = sanitize_path(raw_path.iter().copied())
            .map_err(|reason| unsafe_path(&raw_path, reason))?;
        let field = format!("info.file tree/{}", rel.join("/"));
        let attr = parse_attr(node);
        if attr.pad {
            // BEP 52 aligns files by piece boundaries, not pad files; a pad
            // entry in a tree would be data no peer ever sends (libtorrent:
            // `v2_invalid_pad_file`).
            return Err(MetainfoError::invalid(field, "pad file in a v2 file tree"));
        }
        let length = file_length(node, attr, &format!("{field}.length"))?;
        let root_field = format!("{field}.pieces root");
        let pieces_root = match opt_bytes(node, "pieces root", &root_field)? {
            Some(root) => {
                Some(Box::new(<[u8; 32]>::try_from(root).map_err(|_| {
                    MetainfoError::invalid(&root_field, "not 32 bytes")
                })?))
            }
            None if length > 0 => return Err(MetainfoError::Missing(root_field)),
            None => None,
        };
        if length > 0 && pieces_root.as_deref() == Some(&[0; 32]) {
            // An all-zero root is what a creator writes when it hashed nothing;
            // no data can ever match it (libtorrent: `v2_zero_root`).
            return Err(MetainfoError::invalid(root_field, "all zeros"));
        }
        let prefix = if single { None } else { Some(name) };
        let path = arena.push(prefix.into_iter().chain(rel.iter().map(String::as_str)));
        if length > 0 {
            offset = offset.div_ceil(piece_length) * piece_length;
        }
        files.push(FileEntry {
            path,
            length,
            attr,
            symlink_target: symlink_target(
                node,
                attr,
                &format!("{field}.symlink path"),
                &mut arena,
            )?,
            pieces_root: pieces_root.filter(|_| length > 0),
            offset,
        });
        add_length(&mut offset, length)?;
    }
    seal(arena, &mut files);
    Ok((files, single))
}

type TreeFile<'v, 'a> = (Vec<&'a [u8]>, &'v Value<'a>);

fn walk_tree<'v, 'a>(
    node: &'v Value<'a>,
    prefix: &mut Vec<&'a [u8]>,
    out: &mut Vec<TreeFile<'v, 'a>>,
) -> Result<(), MetainfoError> {
    let entries = node.as_dict().ok_or_else(|| wrong("info.file tree"))?;
    if prefix.len() > MAX_PATH_DEPTH {
        return Err(unsafe_path(prefix, PathError::TooDeep));
    }
    // BEP 52 files lie in piece space in key order; the decoder is lenient
    // about order elsewhere, but here unsorted or repeated keys would make
    // two readers disagree on every file's offset (libtorrent refuses
    // `v2_unordered_files`).
    if entries
        .windows(2)
        .any(|w| matches!(w, [a, b] if a.0 >= b.0))
    {
        return Err(unsorted_tree(prefix));
    }
    for (key, child) in entries {
        if key.is_empty() {
            // The "" key marks a file; it must be the only entry of its node.
            if entries.len() != 1 || prefix.is_empty() {
                return Err(MetainfoError::invalid(
                    "info.file tree",
                    "a file node must hold only the \"\" key",
                ));
            }
            if child.as_dict().is_none() {
                return Err(wrong("info.file tree"));
            }
            if out.len() >= MAX_FILES {
                return Err(MetainfoError::Limit {
                    field: "info.file tree",
                    count: out.len() as u64 + 1,
                    max: MAX_FILES as u64,
                });
            }
            out.push((prefix.clone(), child));
            continue;
        }
        prefix.push(key);
        walk_tree(child, prefix, out)?;
        prefix.pop();
    }
    Ok(())
}

fn unsorted_tree(prefix: &[&[u8]]) -> MetainfoError {
    let at = prefix
        .iter()
        .map(|e| String::from_utf8_lossy(e))
        .collect::<Vec<_>>()
        .join("/");
    MetainfoError::invalid(
        "info.file tree",
        format!("keys under {at:?} are not sorted or repeat"),
    )
}

/// Checks a hybrid's v1 list against its v2 tree and copies the merkle roots over.
fn attach_v2_roots(
    v1: &mut [FileEntry],
    v2: &[FileEntry],
    piece_length: u64,
) -> Result<(), MetainfoError> {
    let mut v2_iter = v2.iter();
    for file in v1.iter_mut().filter(|f| !f.attr.pad) {
        let twin = v2_iter.next().ok_or_else(|| {
            MetainfoError::HybridMismatch(format!(
                "{} is not in the file tree",
                file.display_path()
            ))
        })?;
        if twin.path != file.path || twin.length != file.length {
            return Err(MetainfoError::HybridMismatch(format!(
                "{} ({} bytes) vs {} ({} bytes)",
                file.display_path(),
                file.length,
                twin.display_path(),
                twin.length
            )));
        }
        if file.length > 0 && file.offset % piece_length != 0 {
            return Err(MetainfoError::HybridMismatch(format!(
                "{} does not start on a piece boundary",
                file.display_path()
            )));
        }
        file.pieces_root.clone_from(&twin.pieces_root);
    }
    if let Some(extra) = v2_iter.next() {
        return Err(MetainfoError::HybridMismatch(format!(
            "{} is not in the v1 file list",
            extra.display_path()
        )));
    }
    Ok(())
}

/// Refuses two files with one path, and a file that is also another's directory.
fn check_collisions(files: &[FileEntry]) -> Result<(), MetainfoError> {
    let real = files.iter().filter(|f| !f.attr.pad);
    let mut paths: HashSet<&str> = HashSet::with_capacity(files.len());
    for f in real.clone() {
        if !paths.insert(f.path.as_str()) {
            return Err(MetainfoError::PathCollision(format!(
                "{} appears twice",
                f.display_path()
            )));
        }
    }
    for f in real {
        if let Some(dir) = f.path.ancestors().find(|d| paths.contains(d)) {
            return Err(MetainfoError::PathCollision(format!(
                "{dir} is a file and the directory of {}",
                f.display_path()
            )));
        }
    }
    Ok(())
}
