//! Incremental piece hashers fed with the content in order: [`V1Stream`] cuts
//! the whole stream into SHA-1 pieces, [`V2Stream`] one file into BEP 52
//! pieces of SHA-256 block hashes. Both accept "skip" for bytes that are not
//! on disk, which turns the pieces they touch into [`PieceHash::Missing`].

use sha1::{Digest, Sha1};
use shoal_metainfo::merkle::{self, BLOCK_SIZE, Node};

use super::PieceHash;

/// Zeros fed for padding segments, a block at a time.
static ZEROS: [u8; BLOCK_SIZE as usize] = [0; BLOCK_SIZE as usize];

/// v1 pieces of the stream, starting at some piece boundary.
pub(crate) struct V1Stream {
    piece_length: u64,
    total: u64,
    piece: u64,
    remaining: u64,
    poisoned: bool,
    hasher: Sha1,
    /// Finished pieces: (index, hash).
    pub out: Vec<(u64, PieceHash<[u8; 20]>)>,
}

impl V1Stream {
    /// Starts at piece `first` of a stream of `total` bytes.
    pub fn new(first: u64, piece_length: u64, total: u64) -> Self {
        let mut s = V1Stream {
            piece_length,
            total,
            piece: first,
            remaining: 0,
            poisoned: false,
            hasher: Sha1::new(),
            out: Vec::new(),
        };
        s.remaining = s.piece_len(first);
        s
    }

    fn piece_len(&self, piece: u64) -> u64 {
        let start = piece.saturating_mul(self.piece_length);
        self.total.saturating_sub(start).min(self.piece_length)
    }

    /// Hashes the next bytes of the stream.
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() && self.remaining > 0 {
            let n = data
                .len()
                .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
            let (now, rest) = data.split_at(n);
            if !self.poisoned {
                self.hasher.update(now);
            }
            data = rest;
            self.advance(n as u64);
        }
    }

    /// Hashes `n` zero bytes (padding).
    pub fn zeros(&mut self, mut n: u64) {
        while n > 0 {
            let k = n.min(BLOCK_SIZE);
            self.feed(ZEROS.get(..k as usize).unwrap_or(&ZEROS));
            n -= k;
        }
    }

    /// Passes over `n` bytes that could not be read.
    pub fn skip(&mut self, mut n: u64) {
        while n > 0 && self.remaining > 0 {
            self.poisoned = true;
            let k = n.min(self.remaining);
            n -= k;
            self.advance(k);
        }
    }

    fn advance(&mut self, n: u64) {
        self.remaining -= n;
        if self.remaining == 0 {
            let hash = if self.poisoned {
                self.hasher.reset();
                PieceHash::Missing
            } else {
                PieceHash::Hash(self.hasher.finalize_reset().into())
            };
            self.out.push((self.piece, hash));
            self.poisoned = false;
            self.piece += 1;
            self.remaining = self.piece_len(self.piece);
        }
    }
}

/// v2 pieces of one file, starting at some piece boundary of that file.
pub(crate) struct V2Stream {
    piece_length: u64,
    file_len: u64,
    piece: u64,
    pos: u64,
    poisoned: bool,
    blocks: Vec<Node>,
    /// Finished pieces: (index in file, hash). For a file of one piece the
    /// hash is its pieces root (no piece layer exists for such files).
    pub out: Vec<(u64, PieceHash<Node>)>,
}

impl V2Stream {
    /// Starts at piece `first` of a file of `file_len` bytes.
    pub fn new(first: u64, piece_length: u64, file_len: u64) -> Self {
        V2Stream {
            piece_length,
            file_len,
            piece: first,
            pos: first.saturating_mul(piece_length),
            poisoned: false,
            blocks: Vec::with_capacity((piece_length / BLOCK_SIZE) as usize),
            out: Vec::new(),
        }
    }

    fn piece_end(&self) -> u64 {
        self.piece
            .saturating_add(1)
            .saturating_mul(self.piece_length)
            .min(self.file_len)
    }

    /// Hashes the next bytes of the file. `data` must start on a block
    /// boundary of the file; it may end anywhere (the file's short last block).
    pub fn feed(&mut self, data: &[u8]) {
        for block in data.chunks(BLOCK_SIZE as usize) {
            if !self.poisoned {
                self.blocks.push(merkle::block_hash(block));
            }
            self.pos += block.len() as u64;
            if self.pos >= self.piece_end() {
                self.finish_piece();
            }
        }
    }

    /// Passes over `n` bytes that could not be read.
    pub fn skip(&mut self, n: u64) {
        let end = self.pos.saturating_add(n).min(self.file_len);
        while self.pos < end {
            self.poisoned = true;
            self.pos = self.piece_end().min(end);
            if self.pos >= self.piece_end() {
                self.finish_piece();
            }
        }
    }

    fn finish_piece(&mut self) {
        let hash = if self.poisoned {
            PieceHash::Missing
        } else if self.file_len <= self.piece_length {
            merkle::file_root(&self.blocks).map_or(PieceHash::Missing, PieceHash::Hash)
        } else {
            let level = merkle::piece_level(self.piece_length);
            let layer = merkle::reduce(&self.blocks, 0, level);
            layer
                .first()
                .copied()
                .map_or(PieceHash::Missing, PieceHash::Hash)
        };
        self.out.push((self.piece, hash));
        self.blocks.clear();
        self.poisoned = false;
        self.piece += 1;
    }
}
