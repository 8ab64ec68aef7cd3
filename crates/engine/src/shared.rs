//! Block payloads shared with the driver instead of copied into an outbox.
//!
//! A driver that holds uploaded data in reference-counted buffers (the
//! simulator's content; a piece cache) hands blocks over as
//! [`SharedBlock`]s with [`crate::Engine::block_read_shared`]. The outbox
//! then holds each `piece` message's header, and the payload waits beside
//! it until the driver takes both with [`crate::Engine::poll_transmit_shared`]
//! and sends them in order (a vectored write), or flattened into one buffer
//! by [`crate::Engine::poll_transmit`]. Either way the bytes on the wire are
//! the same as with [`crate::Engine::block_read`].

use std::ops::Range;
use std::sync::Arc;

/// A range of a shared, immutable buffer: one block's bytes.
#[derive(Debug, Clone)]
pub struct SharedBlock {
    buf: Arc<[u8]>,
    start: usize,
    end: usize,
}

impl SharedBlock {
    /// The bytes `range` of `buf`, if it lies inside it.
    pub fn new(buf: Arc<[u8]>, range: Range<usize>) -> Option<SharedBlock> {
        if range.start > range.end || range.end > buf.len() {
            return None;
        }
        Some(SharedBlock {
            buf,
            start: range.start,
            end: range.end,
        })
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    /// Their number.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True for an empty range.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// Moves `bytes` and the `blocks` spliced into them (each at its position
/// in `bytes`, in order) into `out`, one contiguous buffer.
pub(crate) fn flatten(bytes: &[u8], blocks: &[(usize, SharedBlock)], out: &mut Vec<u8>) {
    let total = bytes.len() + blocks.iter().map(|(_, b)| b.len()).sum::<usize>();
    out.reserve(total);
    let mut from = 0;
    for (at, block) in blocks {
        let at = (*at).clamp(from, bytes.len());
        out.extend_from_slice(bytes.get(from..at).unwrap_or_default());
        out.extend_from_slice(block.as_slice());
        from = at;
    }
    out.extend_from_slice(bytes.get(from..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_go_where_they_were_spliced() {
        let buf: Arc<[u8]> = Arc::from(&b"0123456789"[..]);
        let a = SharedBlock::new(buf.clone(), 2..4).unwrap();
        let b = SharedBlock::new(buf.clone(), 7..10).unwrap();
        assert!(SharedBlock::new(buf, 5..11).is_none());
        let mut out = Vec::new();
        flatten(b"abcd", &[(1, a), (4, b)], &mut out);
        assert_eq!(out, b"a23bcd789");
    }
}
