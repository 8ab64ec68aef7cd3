//! Piece priorities derived from per-file priorities and file selection.
//!
//! A piece takes the highest priority of the (non-pad) files it overlaps, so
//! a piece shared by a skipped file and a wanted one is still downloaded. A
//! piece that only holds pad bytes is never downloaded: pad bytes are zeros
//! that storage writes itself.

use super::Picker;
use crate::{BlockRequest, PeerKey, PickerError, rarity::LEVELS};
use std::ops::Range;

/// A download priority: 0 skips, 1 (low) … 7 (high); libtorrent's scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(pub u8);

impl Priority {
    /// Never download.
    pub const SKIP: Self = Self(0);
    /// Lowest downloading priority.
    pub const LOW: Self = Self(1);
    /// The default.
    pub const NORMAL: Self = Self(4);
    /// Highest priority.
    pub const HIGH: Self = Self(LEVELS as u8);

    fn clamped(self) -> u8 {
        self.0.min(LEVELS as u8)
    }
}

/// Which pieces each file covers, and the files' priorities.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileMap {
    /// Piece range of each file (empty for empty and pad files).
    pieces: Vec<Range<u32>>,
    priority: Vec<u8>,
    /// Each wanted file's first and last pieces go at the highest
    /// priority (qBittorrent's "first and last piece first": a player can
    /// read a file's header and index before the rest arrives).
    first_last: bool,
}

impl FileMap {
    pub(crate) fn from_info(info: &shoal_metainfo::Info) -> Self {
        let pieces: Vec<Range<u32>> = info
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                if f.attr.pad {
                    0..0
                } else {
                    let r = info.file_pieces(i);
                    r.start as u32..r.end as u32
                }
            })
            .collect();
        let priority = vec![Priority::NORMAL.0; pieces.len()];
        Self {
            pieces,
            priority,
            first_last: false,
        }
    }

    /// Pieces overlapped by at least one real (non-pad) file.
    pub(crate) fn covered(&self, num_pieces: u32) -> crate::PieceSet {
        let mut set = crate::PieceSet::new(num_pieces);
        for r in &self.pieces {
            for piece in r.clone() {
                set.insert(piece);
            }
        }
        set
    }
}

impl Picker {
    /// Sets one file's priority ([`Priority::SKIP`] deselects it) and
    /// recomputes its pieces. Requires a picker made by
    /// [`Picker::from_info`]. Returns the requests to cancel (pieces in
    /// flight that are no longer wanted). Cost: O(pieces of the file × peers).
    pub fn set_file_priority(
        &mut self,
        file: usize,
        prio: Priority,
    ) -> Result<Vec<(PeerKey, BlockRequest)>, PickerError> {
        let range = self
            .files
            .pieces
            .get(file)
            .cloned()
            .ok_or(PickerError::FileOutOfRange(file))?;
        if let Some(p) = self.files.priority.get_mut(file) {
            *p = prio.clamped();
        }
        if range.is_empty() {
            // An empty or pad file: no pieces to recompute.
            return Ok(Vec::new());
        }
        // Recompute each piece of the file from every file that overlaps it.
        // Files lie in piece order, so those are its neighbours (empty and
        // pad files between them hold no pieces): the walk stops at the first
        // file with pieces on either side that does not reach into `range`,
        // so setting every file's priority is linear, not quadratic, in the
        // file count.
        let pieces = &self.files.pieces;
        let reaches = |f: usize, side: fn(&Range<u32>, &Range<u32>) -> bool| {
            pieces
                .get(f)
                .is_some_and(|r| r.is_empty() || side(r, &range))
        };
        let before = (0..file)
            .rev()
            .take_while(|&f| reaches(f, |r, range| r.end > range.start));
        let after =
            (file + 1..pieces.len()).take_while(|&f| reaches(f, |r, range| r.start < range.end));
        let mut new: Vec<u8> = vec![0; range.len()];
        let first_last = self.files.first_last;
        for f in before.chain(std::iter::once(file)).chain(after) {
            let Some(r) = pieces.get(f) else { continue };
            let (lo, hi) = (r.start.max(range.start), r.end.min(range.end));
            let fp = self.files.priority.get(f).copied().unwrap_or(0);
            for piece in lo..hi {
                let end = piece == r.start || piece + 1 == r.end;
                let p = if first_last && fp > 0 && end {
                    Priority::HIGH.0
                } else {
                    fp
                };
                if let Some(slot) = new.get_mut((piece - range.start) as usize) {
                    *slot = (*slot).max(p);
                }
            }
        }
        let mut cancel = Vec::new();
        for (piece, p) in range.zip(new) {
            cancel.extend(self.set_piece_priority(piece, Priority(p))?);
        }
        Ok(cancel)
    }

    /// Puts each wanted file's first and last pieces at the highest
    /// priority, or back to their file's (`on` false). Requires a picker
    /// made by [`Picker::from_info`]. Returns the requests to cancel, as
    /// [`Picker::set_file_priority`]. Cost: O(pieces × peers).
    pub fn set_first_last_priority(
        &mut self,
        on: bool,
    ) -> Result<Vec<(PeerKey, BlockRequest)>, PickerError> {
        let mut cancel = Vec::new();
        if self.files.first_last == on {
            return Ok(cancel);
        }
        self.files.first_last = on;
        for file in 0..self.files.priority.len() {
            let prio = Priority(self.files.priority.get(file).copied().unwrap_or(0));
            cancel.extend(self.set_file_priority(file, prio)?);
        }
        Ok(cancel)
    }

    /// Whether files' first and last pieces go first.
    pub fn first_last_priority(&self) -> bool {
        self.files.first_last
    }

    /// A file's priority (None past the file list or without a file map).
    pub fn file_priority(&self, file: usize) -> Option<Priority> {
        self.files.priority.get(file).map(|p| Priority(*p))
    }

    /// A piece's priority.
    pub fn piece_priority(&self, piece: u32) -> Priority {
        Priority(self.prio(piece))
    }

    /// Sets one piece's priority. O(peers) (bucket walk, interest counts).
    /// A piece in flight that is no longer wanted is dropped: the returned
    /// requests should be cancelled (late blocks are refused anyway).
    pub fn set_piece_priority(
        &mut self,
        piece: u32,
        prio: Priority,
    ) -> Result<Vec<(PeerKey, BlockRequest)>, PickerError> {
        self.check_piece(piece)?;
        let new = prio.clamped();
        let old = self.prio(piece);
        let mut cancel = Vec::new();
        if new == old {
            return Ok(cancel);
        }
        let was_needed = self.needed(piece);
        if (old > 0) != (new > 0) {
            let size = u64::from(self.sizes.size(piece));
            if new > 0 {
                self.bytes_wanted += size;
            } else {
                self.bytes_wanted = self.bytes_wanted.saturating_sub(size);
            }
        }
        if self.index.contains(piece) {
            self.index.remove(piece, old, self.avail_of(piece));
        }
        if self.priority.is_empty() {
            self.priority = vec![Priority::NORMAL.0; self.num_pieces() as usize];
        }
        if let Some(p) = self.priority.get_mut(piece as usize) {
            *p = new;
        }
        let needed = self.needed(piece);
        if needed {
            self.requeue(piece);
        } else if let Some(part) = self.partials.remove(&piece) {
            // Deselected mid-download: drop it (late blocks are refused), so
            // its free blocks cannot hold endgame off.
            self.free_blocks = self.free_blocks.saturating_sub(u64::from(part.free));
            self.open.remove(&piece);
            cancel = part.requests(piece, &self.sizes);
        }
        if was_needed != needed {
            let size = u64::from(self.sizes.size(piece));
            if needed {
                self.wanted_left += 1;
                self.bytes_left += size;
            } else {
                self.wanted_left = self.wanted_left.saturating_sub(1);
                self.bytes_left = self.bytes_left.saturating_sub(size);
            }
            for info in self.peers.values_mut() {
                if info.have.contains(piece) {
                    if needed {
                        info.interesting += 1;
                    } else {
                        info.interesting = info.interesting.saturating_sub(1);
                    }
                }
            }
        }
        Ok(cancel)
    }

    /// Whether sequential (streaming) mode is on.
    pub fn is_sequential(&self) -> bool {
        self.config.sequential
    }

    /// Switches sequential (streaming) mode on or off.
    pub fn set_sequential(&mut self, on: bool) {
        self.config.sequential = on;
        self.seq_cursor = 0;
    }
}
