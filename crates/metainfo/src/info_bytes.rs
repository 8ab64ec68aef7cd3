//! A torrent's info dictionary bytes: held in memory, or read back from a
//! copy on disk while somebody needs them and let go when nobody does.
//!
//! The bytes are what BEP 9 serves to magnet-link peers, and the v1 piece
//! hashes lie in them (20 bytes a piece). A seedbox's idle torrents need
//! neither, so once the daemon has the `.torrent` safely in its state
//! directory ([`crate::Torrent::keep_on_disk`]) the bytes stay in
//! memory only while an [`InfoBytes`] lives: an awake engine, a check, an
//! API call. Whatever is read back is checked against the info-hash.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use shoal_bencode::decode_prefix;

use crate::limits::TORRENT_LIMITS;
use crate::resident::Resident;
use crate::source::{InfoReadError, InfoSource, unreadable};
use crate::{InfoHashV1, InfoHashV2, InfoHashes};

/// The info dictionary's bytes, loaded: they stay in memory while a clone
/// of this lives.
#[derive(Clone)]
pub struct InfoBytes(Arc<Loaded>);

/// The bytes behind an [`InfoBytes`]: a box of their own, so that a
/// `Weak` to them keeps only this small header once they are let go (a
/// `Weak<[u8]>` would keep the whole allocation).
struct Loaded(Box<[u8]>);

impl Deref for InfoBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0.0
    }
}

impl From<Vec<u8>> for InfoBytes {
    fn from(bytes: Vec<u8>) -> Self {
        InfoBytes(Arc::new(Loaded(bytes.into_boxed_slice())))
    }
}

impl From<&[u8]> for InfoBytes {
    fn from(bytes: &[u8]) -> Self {
        InfoBytes(Arc::new(Loaded(Box::from(bytes))))
    }
}

impl PartialEq for InfoBytes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for InfoBytes {}

impl fmt::Debug for InfoBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoBytes({} bytes)", self.len())
    }
}

/// One torrent's info dictionary, shared by its `Torrent` and its piece
/// hashes (and so by every clone of them).
pub(crate) struct InfoCell {
    /// The bytes' length, known while they are on disk.
    len: usize,
    bytes: Resident<Loaded>,
}

impl InfoCell {
    /// A cell holding `bytes` in memory.
    pub(crate) fn held(bytes: InfoBytes) -> Arc<InfoCell> {
        Arc::new(InfoCell {
            len: bytes.len(),
            bytes: Resident::held(bytes.0),
        })
    }

    /// The bytes' length, without loading them.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The bytes, read back from disk if nobody holds them now. Two
    /// callers at once read once: the second waits for the first.
    pub(crate) fn load(&self) -> Result<InfoBytes, InfoReadError> {
        self.bytes
            .load(|source, hashes| read_back(source, hashes, self.len))
            .map(InfoBytes)
    }

    /// From now on the bytes are kept in memory only while an
    /// [`InfoBytes`] of them lives, and read back from `source` when
    /// asked for again. `hashes`: the torrent's, to check what is read.
    pub(crate) fn keep_on_disk(&self, source: Arc<dyn InfoSource>, hashes: InfoHashes) {
        self.bytes.keep_on_disk(source, hashes);
    }

    /// Whether the bytes are in memory now.
    pub(crate) fn is_resident(&self) -> bool {
        self.bytes.is_resident()
    }
}

impl PartialEq for InfoCell {
    /// The same bytes (cells whose bytes cannot be read equal only themselves).
    fn eq(&self, other: &Self) -> bool {
        if std::ptr::eq(self, other) {
            return true;
        }
        self.len == other.len && matches!((self.load(), other.load()), (Ok(a), Ok(b)) if a == b)
    }
}

impl Eq for InfoCell {}

impl fmt::Debug for InfoCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfoCell({} bytes, {})", self.len, self.bytes.place())
    }
}

/// Reads the info dictionary back from `source` and checks it is the one
/// with `hashes` (and so `len` bytes long).
fn read_back(
    source: &dyn InfoSource,
    hashes: &InfoHashes,
    len: usize,
) -> Result<Loaded, InfoReadError> {
    let file = source.read(hashes).map_err(unreadable)?;
    let (root, _) =
        decode_prefix(&file, &TORRENT_LIMITS).map_err(|_| InfoReadError::Changed("not bencode"))?;
    // A whole .torrent holds the dictionary under `info`; a bare one is it.
    let raw = root.get(b"info").unwrap_or(&root).raw();
    let same = raw.len() == len
        && match (hashes.v1, hashes.v2) {
            (Some(v1), _) => InfoHashV1::of(raw) == v1,
            (None, Some(v2)) => InfoHashV2::of(raw) == v2,
            (None, None) => false,
        };
    if !same {
        return Err(InfoReadError::Changed("its info-hash differs"));
    }
    Ok(Loaded(Box::from(raw)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::source::memory::MemoryCopies;

    const INFO: &[u8] = b"d6:lengthi40000e4:name1:a12:piece lengthi16384e6:pieces60:\
        aaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbcccccccccccccccccccce";

    fn cell_on_disk() -> (Arc<InfoCell>, Arc<MemoryCopies>) {
        let mut file = b"d8:announce3:url4:info".to_vec();
        file.extend_from_slice(INFO);
        file.push(b'e');
        let copy = MemoryCopies::of(file);
        let cell = InfoCell::held(InfoBytes::from(INFO));
        let hashes = InfoHashes {
            v1: Some(InfoHashV1::of(INFO)),
            v2: None,
        };
        cell.keep_on_disk(Arc::clone(&copy) as Arc<dyn InfoSource>, hashes);
        (cell, copy)
    }

    #[test]
    fn bytes_stay_in_memory_only_while_held() {
        let (cell, copy) = cell_on_disk();
        assert!(!cell.is_resident(), "let go once on disk");
        let first = cell.load().unwrap();
        assert_eq!(&*first, INFO);
        let second = cell.load().unwrap();
        assert_eq!(copy.reads(), 1, "read once while held");
        assert!(cell.is_resident());
        drop((first, second));
        assert!(!cell.is_resident());
        assert_eq!(&*cell.load().unwrap(), INFO);
        assert_eq!(copy.reads(), 2, "read again");
    }

    #[test]
    fn a_copy_that_changed_or_went_is_an_error() {
        let (cell, copy) = cell_on_disk();
        let spoilt = String::from_utf8_lossy(&copy.torrent.lock().unwrap()).replace("aaaa", "aaab");
        *copy.torrent.lock().unwrap() = spoilt.into_bytes();
        assert_eq!(
            cell.load(),
            Err(InfoReadError::Changed("its info-hash differs"))
        );
        *copy.torrent.lock().unwrap() = b"not bencode".to_vec();
        assert_eq!(cell.load(), Err(InfoReadError::Changed("not bencode")));
        copy.torrent.lock().unwrap().clear();
        let err = cell.load().unwrap_err();
        assert!(err.to_string().contains("a.torrent: gone"), "{err}");
    }

    #[test]
    fn a_bare_info_dictionary_reads_back_too() {
        let (cell, copy) = cell_on_disk();
        *copy.torrent.lock().unwrap() = INFO.to_vec();
        assert_eq!(&*cell.load().unwrap(), INFO);
    }

    #[test]
    fn cells_equal_by_their_bytes() {
        let (on_disk, _copy) = cell_on_disk();
        assert_eq!(*on_disk, *InfoCell::held(InfoBytes::from(INFO)));
        assert_ne!(*on_disk, *InfoCell::held(InfoBytes::from(&INFO[1..])));
    }
}
