//! The bytes received but not yet consumed by the handshake parser.

/// A growable receive buffer with a read cursor. Every read is bounds-checked:
/// a short buffer yields `None` ("need more"), never a panic.
#[derive(Default)]
pub(crate) struct Inbox {
    /// Raw bytes from the peer.
    buf: Vec<u8>,
    /// How many of them are consumed.
    pos: usize,
}

impl Inbox {
    /// Appends newly received bytes, first dropping consumed ones so the
    /// buffer never holds more than the unparsed part plus this read.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos.min(self.buf.len()));
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The unconsumed bytes.
    pub(crate) fn rest(&self) -> &[u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// Consumes `n` bytes (at most what is there).
    pub(crate) fn advance(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.buf.len());
    }

    /// Consumes and returns the next `n` bytes, or `None` if fewer are there.
    pub(crate) fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        let out = self.rest().get(..n)?.to_vec();
        self.advance(n);
        Some(out)
    }

    /// Consumes and returns the next `N` bytes as an array.
    pub(crate) fn take_array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let out: [u8; N] = self.rest().get(..N)?.try_into().ok()?;
        self.advance(N);
        Some(out)
    }

    /// Consumes and returns everything left.
    pub(crate) fn take_all(&mut self) -> Vec<u8> {
        let out = self.rest().to_vec();
        self.advance(out.len());
        out
    }
}

/// The offset of `needle` in `hay`, if present.
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_reads_are_need_more() {
        let mut i = Inbox::default();
        i.push(&[1, 2, 3]);
        assert_eq!(i.take(4), None);
        assert_eq!(i.take_array::<2>(), Some([1, 2]));
        i.push(&[4]);
        assert_eq!(i.rest(), &[3, 4]);
        assert_eq!(i.take_all(), vec![3, 4]);
        assert_eq!(find(b"abcdef", b"cd"), Some(2));
        assert_eq!(find(b"ab", b"abc"), None);
    }
}
