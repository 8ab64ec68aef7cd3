//! Reading and writing piece data in a torrent's files.
//!
//! Pieces map to file slices through [`Info::piece_slices`]; pad files are
//! never written and read back as zeros. Whole aligned pages are written with
//! `O_DIRECT` where the file system allows it (see `direct.rs`); reads go
//! through the page cache. Files are created on first write
//! at their full length (sparse), under the download directory only: paths
//! come from `shoal-metainfo`, which guarantees every element is one plain
//! name (no `..`, no separators), so `root.join(path)` cannot escape `root`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use shoal_metainfo::{Info, Torrent};

use crate::direct;
use crate::hash::Segment;

/// Most files held open at once; beyond this the least recently used is closed.
pub const MAX_OPEN_FILES: usize = 64;

/// Why a read or write failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file system refused.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A range that is not inside the piece.
    #[error("piece {piece}: range {offset}+{len} is outside the piece")]
    OutOfRange {
        /// Piece index.
        piece: usize,
        /// Offset in the piece.
        offset: u64,
        /// Length.
        len: usize,
    },
}

/// Piece-level access to the files of one torrent in one download directory.
pub struct FileStore {
    root: PathBuf,
    info: Meta,
    open: Mutex<OpenFiles>,
}

/// The metainfo a store serves: its own info dictionary, or the torrent a
/// session already holds (one copy per torrent, not one per holder: piece
/// hashes of thousands of seeded torrents add up).
enum Meta {
    Info(Arc<Info>),
    Torrent(Arc<Torrent>),
}

impl std::ops::Deref for Meta {
    type Target = Info;

    fn deref(&self) -> &Info {
        match self {
            Meta::Info(info) => info,
            Meta::Torrent(torrent) => &torrent.info,
        }
    }
}

#[derive(Default)]
struct OpenFiles {
    files: HashMap<usize, OpenFile>,
    tick: u64,
    /// A sync that failed while evicting a file, reported by the next [`FileStore::sync`].
    failed_sync: Option<(usize, std::io::Error)>,
}

struct OpenFile {
    file: Arc<File>,
    writable: bool,
    last_use: u64,
    dirty: bool,
    /// The `O_DIRECT` handle: not tried yet, open, or refused by the file
    /// system (then every write is buffered).
    direct: Direct,
}

#[derive(Clone)]
enum Direct {
    Untried,
    Open(Arc<File>),
    Refused,
}

impl FileStore {
    /// A store for `info`'s files below `root` (the download directory).
    pub fn new(root: impl Into<PathBuf>, info: Arc<Info>) -> Self {
        FileStore {
            root: root.into(),
            info: Meta::Info(info),
            open: Mutex::new(OpenFiles::default()),
        }
    }

    /// A store for `torrent`'s files below `root`, sharing the torrent
    /// rather than copying its info dictionary.
    pub fn of_torrent(root: impl Into<PathBuf>, torrent: Arc<Torrent>) -> Self {
        FileStore {
            root: root.into(),
            info: Meta::Torrent(torrent),
            open: Mutex::new(OpenFiles::default()),
        }
    }

    /// The download directory.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The torrent this store serves.
    pub fn info(&self) -> &Info {
        &self.info
    }

    /// Where file `index` lives on disk.
    pub fn file_path(&self, index: usize) -> Option<PathBuf> {
        self.info
            .files
            .get(index)
            .map(|f| self.root.join(f.relative_path()))
    }

    /// The content as hashing segments (for rechecking data on disk).
    pub fn segments(&self) -> Vec<Segment> {
        self.info
            .files
            .iter()
            .map(|f| match f.attr.pad {
                true => Segment::Padding { length: f.length },
                false => Segment::File {
                    path: self.root.join(f.relative_path()),
                    length: f.length,
                },
            })
            .collect()
    }

    /// Writes `data` at `offset` inside `piece`, across file boundaries.
    pub fn write(&self, piece: usize, offset: u64, data: &[u8]) -> Result<(), StoreError> {
        self.each_slice(piece, offset, data.len(), |file, file_offset, range| {
            // Pad files are never written.
            let Some(file) = file else { return Ok(()) };
            let bytes = data.get(range).unwrap_or_default();
            self.write_slice(file, bytes, file_offset)
                .map_err(|source| self.io_error(file, source))
        })
    }

    /// Writes one file's part of a piece: aligned whole pages directly, the
    /// rest (and everything, where `O_DIRECT` is refused) buffered.
    fn write_slice(&self, file: usize, bytes: &[u8], offset: u64) -> std::io::Result<()> {
        let buffered = self.handle(file, true).map_err(into_io)?;
        let (head, middle, _) = direct::split(offset, bytes.len());
        let direct = match middle {
            0 => None,
            _ => self.direct_handle(file),
        };
        let Some(direct) = direct else {
            return buffered.write_all_at(bytes, offset);
        };
        let (front, rest) = bytes.split_at(head);
        let (aligned, tail) = rest.split_at(middle);
        buffered.write_all_at(front, offset)?;
        let aligned_at = offset + head as u64;
        match direct::write_aligned(&direct, aligned, aligned_at) {
            Ok(()) => {}
            // Accepted at open, refused at write (some network and FUSE
            // file systems): buffered from now on.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                self.refuse_direct(file);
                buffered.write_all_at(aligned, aligned_at)?;
            }
            Err(e) => return Err(e),
        }
        buffered.write_all_at(tail, aligned_at + middle as u64)
    }

    /// The `O_DIRECT` handle of an open file, opened on first use; `None`
    /// where the file system refuses direct I/O.
    fn direct_handle(&self, file: usize) -> Option<Arc<File>> {
        let state = {
            let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            open.files.get(&file).map(|f| f.direct.clone())?
        };
        match state {
            Direct::Open(handle) => Some(handle),
            Direct::Refused => None,
            Direct::Untried => {
                let path = self.file_path(file)?;
                let opened = direct::open(&path);
                let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
                let entry = open.files.get_mut(&file)?;
                match opened {
                    Ok(handle) => {
                        let handle = Arc::new(handle);
                        entry.direct = Direct::Open(Arc::clone(&handle));
                        Some(handle)
                    }
                    Err(_) => {
                        entry.direct = Direct::Refused;
                        None
                    }
                }
            }
        }
    }

    fn refuse_direct(&self, file: usize) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = open.files.get_mut(&file) {
            entry.direct = Direct::Refused;
        }
    }

    /// Fills `buf` from `offset` inside `piece` (pad bytes read as zeros).
    pub fn read(&self, piece: usize, offset: u64, buf: &mut [u8]) -> Result<(), StoreError> {
        let len = buf.len();
        let mut slices = Vec::new();
        self.each_slice(piece, offset, len, |file, file_offset, range| {
            slices.push((file, file_offset, range));
            Ok(())
        })?;
        for (file, file_offset, range) in slices {
            let Some(part) = buf.get_mut(range) else {
                continue;
            };
            let Some(file) = file else {
                part.fill(0);
                continue;
            };
            let handle = self.handle(file, false)?;
            handle
                .read_exact_at(part, file_offset)
                .map_err(|source| self.io_error(file, source))?;
        }
        Ok(())
    }

    /// Flushes written data to stable storage (`fdatasync` of each file
    /// written since the last call), so resume data written afterwards never
    /// claims pieces the disk could lose.
    pub fn sync(&self) -> Result<(), StoreError> {
        let dirty: Vec<(usize, Arc<File>)> = {
            let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((index, source)) = open.failed_sync.take() {
                return Err(self.io_error(index, source));
            }
            open.files
                .iter_mut()
                .filter(|(_, f)| f.dirty)
                .map(|(i, f)| {
                    f.dirty = false;
                    (*i, Arc::clone(&f.file))
                })
                .collect()
        };
        for (index, file) in dirty {
            file.sync_data()
                .map_err(|source| self.io_error(index, source))?;
        }
        Ok(())
    }

    /// Calls `f(file, offset in file, range in the caller's buffer)` for every
    /// file slice that `offset..offset+len` of `piece` covers; `file` is `None`
    /// for pad files.
    fn each_slice(
        &self,
        piece: usize,
        offset: u64,
        len: usize,
        mut f: impl FnMut(Option<usize>, u64, std::ops::Range<usize>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let out_of_range = || StoreError::OutOfRange { piece, offset, len };
        let end = offset.checked_add(len as u64).ok_or_else(out_of_range)?;
        if end > self.info.piece_size(piece) {
            return Err(out_of_range());
        }
        let mut piece_pos = 0u64;
        for slice in self.info.piece_slices(piece) {
            let slice_end = piece_pos + slice.length;
            let lo = offset.max(piece_pos);
            let hi = end.min(slice_end);
            let is_pad = self.info.files.get(slice.file).is_some_and(|x| x.attr.pad);
            if lo < hi {
                let buf_range = (lo - offset) as usize..(hi - offset) as usize;
                let file = (!is_pad).then_some(slice.file);
                f(file, slice.offset + (lo - piece_pos), buf_range)?;
            }
            piece_pos = slice_end;
        }
        Ok(())
    }

    /// An open handle for `index`, opening (and for writes creating) the file.
    fn handle(&self, index: usize, write: bool) -> Result<Arc<File>, StoreError> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.tick += 1;
        let tick = open.tick;
        if let Some(entry) = open.files.get_mut(&index) {
            if entry.writable || !write {
                entry.last_use = tick;
                entry.dirty |= write;
                return Ok(Arc::clone(&entry.file));
            }
        }
        let (file, writable) = self.open_file(index, write)?;
        if open.files.len() >= MAX_OPEN_FILES && !open.files.contains_key(&index) {
            evict_oldest(&mut open);
        }
        let file = Arc::new(file);
        open.files.insert(
            index,
            OpenFile {
                file: Arc::clone(&file),
                writable,
                last_use: tick,
                dirty: write,
                direct: Direct::Untried,
            },
        );
        Ok(file)
    }

    fn open_file(&self, index: usize, write: bool) -> Result<(File, bool), StoreError> {
        let path = self.file_path(index).unwrap_or_default();
        let length = self.info.files.get(index).map_or(0, |f| f.length);
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        if !write {
            // Seeding data we may not own: fall back to read-only.
            return match OpenOptions::new().read(true).write(true).open(&path) {
                Ok(file) => Ok((file, true)),
                Err(_) => File::open(&path).map(|f| (f, false)).map_err(io),
            };
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        if file.metadata().map_err(io)?.len() < length {
            file.set_len(length).map_err(io)?;
        }
        Ok((file, true))
    }

    fn io_error(&self, index: usize, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: self.file_path(index).unwrap_or_default(),
            source,
        }
    }
}

fn into_io(e: StoreError) -> std::io::Error {
    match e {
        StoreError::Io { source, .. } => source,
        other => std::io::Error::other(other.to_string()),
    }
}

/// Closes the least recently used file; a dirty one is synced first, and a
/// failure is kept for the next [`FileStore::sync`], so resume data is never
/// advanced past data that did not reach the disk.
fn evict_oldest(open: &mut OpenFiles) {
    let oldest = open
        .files
        .iter()
        .min_by_key(|(_, f)| f.last_use)
        .map(|(i, _)| *i);
    let Some((index, entry)) = oldest.and_then(|i| open.files.remove(&i).map(|e| (i, e))) else {
        return;
    };
    if entry.dirty {
        if let Err(e) = entry.file.sync_data() {
            open.failed_sync.get_or_insert((index, e));
        }
    }
}
