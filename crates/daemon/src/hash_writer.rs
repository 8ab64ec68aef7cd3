//! Feeding encoded text straight into a hasher, so a digest of a record or
//! a view needs no buffer.

use std::hash::Hasher;

/// Writes into the hasher it wraps: the bytes alone (no length prefix), so
/// the same text hashes the same however the encoder splits its writes.
pub(crate) struct HashWriter<'a, H: Hasher>(pub &'a mut H);

impl<H: Hasher> std::io::Write for HashWriter<'_, H> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<H: Hasher> std::fmt::Write for HashWriter<'_, H> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.write(s.as_bytes());
        Ok(())
    }
}
