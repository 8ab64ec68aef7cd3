//! Optional snapshot file so a restart keeps the swarm.
//!
//! Format (all big-endian): `SHOALTRK1`, then per torrent: info-hash (20),
//! completed (u32), IPv4 peer count (u32), peers (6 bytes + u32 seconds left
//! with the seeder flag on top), IPv6 peer count (u32), peers (18 + u32).
//! Written to a temporary file, fsynced and renamed, so a crash never leaves a
//! half-written snapshot behind.

use std::path::Path;

use super::{PeerAddr, Store};

const MAGIC: &[u8; 9] = b"SHOALTRK1";
const SEEDER: u32 = 1 << 31;

/// Why a snapshot could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Reading or writing the file failed.
    #[error("snapshot I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not a snapshot or is cut short.
    #[error("snapshot is corrupt: {0}")]
    Corrupt(&'static str),
}

/// A snapshot file's first bytes, before any torrent record.
pub fn header() -> Vec<u8> {
    MAGIC.to_vec()
}

/// The torrent records after the header.
pub fn strip_header(b: &[u8]) -> Result<&[u8], SnapshotError> {
    b.strip_prefix(MAGIC.as_slice())
        .ok_or(SnapshotError::Corrupt("bad magic"))
}

/// The info-hash of the record at the start of `b`, without consuming it.
pub fn peek_hash(b: &[u8]) -> Result<[u8; 20], SnapshotError> {
    b.get(..20)
        .and_then(|h| h.try_into().ok())
        .ok_or(SnapshotError::Corrupt("truncated"))
}

impl Store {
    /// Serialises every live peer with its remaining lifetime relative to `now`.
    pub fn snapshot(&self, now: u32) -> Vec<u8> {
        let mut out = header();
        self.snapshot_records(now, &mut out);
        out
    }

    /// Appends one record per torrent (no header) to `out`.
    pub fn snapshot_records(&self, now: u32, out: &mut Vec<u8>) {
        out.reserve(self.torrents.len() * 48);
        for (h, t) in self.torrents.iter() {
            out.extend_from_slice(h);
            out.extend_from_slice(&t.completed.to_be_bytes());
            out.extend_from_slice(&(t.v4.len() as u32).to_be_bytes());
            for p in t.v4.as_slice() {
                out.extend_from_slice(&p.addr);
                let left = p.expires().saturating_sub(now) | if p.seeder() { SEEDER } else { 0 };
                out.extend_from_slice(&left.to_be_bytes());
            }
            let v6 = t.v6.as_ref().map_or(&[][..], |v| v.as_slice());
            out.extend_from_slice(&(v6.len() as u32).to_be_bytes());
            for p in v6 {
                out.extend_from_slice(&p.addr);
                let left = p.expires().saturating_sub(now) | if p.seeder() { SEEDER } else { 0 };
                out.extend_from_slice(&left.to_be_bytes());
            }
        }
    }

    /// Adds the peers of a snapshot (limits still apply). Returns peers restored.
    pub fn restore(&mut self, b: &[u8], now: u32) -> Result<usize, SnapshotError> {
        let mut b = strip_header(b)?;
        let mut n = 0;
        while !b.is_empty() {
            n += self.restore_record(&mut b, now)?;
        }
        Ok(n)
    }

    /// Consumes one torrent record from the front of `b` and adds its peers.
    /// Returns peers restored.
    pub fn restore_record(&mut self, b: &mut &[u8], now: u32) -> Result<usize, SnapshotError> {
        let h: [u8; 20] = take(b, 20)?
            .try_into()
            .map_err(|_| SnapshotError::Corrupt("hash"))?;
        let completed = u32_at(b)?;
        let mut n = 0;
        for v6 in [false, true] {
            let count = u32_at(b)?;
            for _ in 0..count {
                let addr = if v6 {
                    PeerAddr::V6(
                        take(b, 18)?
                            .try_into()
                            .map_err(|_| SnapshotError::Corrupt("peer"))?,
                    )
                } else {
                    PeerAddr::V4(
                        take(b, 6)?
                            .try_into()
                            .map_err(|_| SnapshotError::Corrupt("peer"))?,
                    )
                };
                let left = u32_at(b)?;
                let ttl = (left & !SEEDER).min(self.limits.peer_ttl);
                if ttl > 0 {
                    self.restore_peer(h, addr, left & SEEDER != 0, now.saturating_add(ttl));
                    n += 1;
                }
            }
        }
        if let Some(t) = self.torrents.get_mut(&h) {
            t.completed = completed;
        }
        Ok(n)
    }
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], SnapshotError> {
    if b.len() < n {
        return Err(SnapshotError::Corrupt("truncated"));
    }
    let (head, tail) = b.split_at(n);
    *b = tail;
    Ok(head)
}

fn u32_at(b: &mut &[u8]) -> Result<u32, SnapshotError> {
    let s = take(b, 4)?;
    Ok(u32::from_be_bytes(
        s.try_into().map_err(|_| SnapshotError::Corrupt("u32"))?,
    ))
}

/// Writes `bytes` to `path` atomically ([`shoal_storage::write_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SnapshotError> {
    Ok(shoal_storage::write_atomic(path, bytes)?)
}
