//! The session's memory of how each dialed address connected (transport and
//! encryption mode), shared by every torrent's dials and by magnet metadata
//! fetches, and kept across restarts in the state directory
//! ([`MODES_FILE`]).
//!
//! Why one memory for the session rather than one per torrent: a peer's
//! encryption policy and whether it takes uTP belong to its client, not to
//! a torrent, so what a metadata fetch learned about an address holds for
//! the download that follows it, and for other torrents on the same peer.
//! Why kept across restarts: a plaintext-only peer (or one that requires
//! encryption) otherwise costs a refused attempt after every restart.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use shoal_mse::Attempt;

use crate::Transport;

/// Where the memory is kept in the state directory between runs.
pub(crate) const MODES_FILE: &str = "peer-modes";

/// Most addresses remembered (the least recently recorded are forgotten
/// first). About 100 bytes each in memory and 40 on disk, so the bound
/// costs well under a MiB; far more than the peers one session dials in a
/// run that matter.
pub(crate) const MAX_REMEMBERED: usize = 4096;

/// How a dial to one address connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Worked {
    /// TCP or uTP.
    pub(crate) transport: Transport,
    /// Through MSE or with the plain BitTorrent handshake.
    pub(crate) mode: Attempt,
}

/// The bounded map behind [`Modes`], oldest record evicted first.
#[derive(Debug, Default)]
struct Memory {
    /// Each address's record and the stamp it was recorded at.
    entries: HashMap<SocketAddr, (Worked, u64)>,
    /// Addresses by stamp: the first is the one to forget next.
    order: BTreeMap<u64, SocketAddr>,
    /// The next stamp.
    next: u64,
    /// A record changed since the last load or save: only then is the file
    /// written (a session that dialed nobody new costs no write and no
    /// directory sync at shutdown).
    changed: bool,
}

impl Memory {
    fn record(&mut self, addr: SocketAddr, worked: Worked, max: usize) {
        let stamp = self.next;
        self.next = self.next.wrapping_add(1);
        match self.entries.insert(addr, (worked, stamp)) {
            Some((was, old)) => {
                self.order.remove(&old);
                self.changed |= was != worked;
            }
            None => self.changed = true,
        }
        self.order.insert(stamp, addr);
        while self.entries.len() > max {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }
}

/// How each dialed address last connected, for the whole session; dials
/// try it first. Bounded by [`MAX_REMEMBERED`] (and a smaller bound in
/// tests).
#[derive(Debug)]
pub(crate) struct Modes {
    memory: Mutex<Memory>,
    max: usize,
}

impl Default for Modes {
    fn default() -> Self {
        Modes::with_max(MAX_REMEMBERED)
    }
}

impl Modes {
    /// An empty memory keeping at most `max` addresses.
    pub(crate) fn with_max(max: usize) -> Modes {
        Modes {
            memory: Mutex::default(),
            max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How a dial to `addr` last connected, if one did.
    pub(crate) fn get(&self, addr: SocketAddr) -> Option<Worked> {
        self.lock().entries.get(&addr).map(|(w, _)| *w)
    }

    /// Records how a dial to `addr` connected (the newest record wins).
    pub(crate) fn record(&self, addr: SocketAddr, worked: Worked) {
        self.lock().record(addr, worked, self.max);
    }

    /// Addresses remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// The text kept on disk: one `address transport mode` line per
    /// address, oldest first, so loading it keeps the eviction order.
    pub(crate) fn to_text(&self) -> String {
        let memory = self.lock();
        let mut text = String::new();
        for addr in memory.order.values() {
            if let Some((w, _)) = memory.entries.get(addr) {
                let mode = match w.mode {
                    Attempt::Encrypted => "mse",
                    Attempt::Plaintext => "plain",
                };
                text.push_str(&format!("{addr} {} {mode}\n", w.transport.as_str()));
            }
        }
        text
    }

    /// A memory from [`Modes::to_text`]'s text; lines that do not parse
    /// are skipped (the file is only a hint), and at most `max` are read.
    pub(crate) fn from_text(text: &str, max: usize) -> Modes {
        let modes = Modes::with_max(max);
        for line in text.lines().take(max) {
            if let Some((addr, worked)) = parse_line(line) {
                modes.record(addr, worked);
            }
        }
        // What was read is what is on disk.
        modes.lock().changed = false;
        modes
    }

    /// The memory a previous run left in `state_dir` (empty if none or
    /// unreadable). Read inline: the file is at most a few hundred KiB.
    pub(crate) fn load(state_dir: &Path) -> Modes {
        let path = state_dir.join(MODES_FILE);
        // Larger than any file we write: not ours, or damaged.
        let limit = 64 * MAX_REMEMBERED as u64;
        let small = std::fs::metadata(&path).is_ok_and(|m| m.len() <= limit);
        let text = small
            .then(|| std::fs::read_to_string(&path).ok())
            .flatten()
            .unwrap_or_default();
        Modes::from_text(&text, MAX_REMEMBERED)
    }

    /// Writes the memory to `state_dir` for the next run (at shutdown),
    /// if it changed since it was loaded or last saved.
    pub(crate) async fn save(&self, state_dir: &Path) {
        if !std::mem::take(&mut self.lock().changed) {
            return;
        }
        let text = self.to_text();
        let path = state_dir.join(MODES_FILE);
        let saved = tokio::task::spawn_blocking(move || {
            shoal_storage::write_atomic(&path, text.as_bytes())
        })
        .await;
        if let Ok(Err(err)) = saved {
            tracing::warn!("peer modes not saved: {err}");
        }
    }
}

/// One `address transport mode` line.
fn parse_line(line: &str) -> Option<(SocketAddr, Worked)> {
    let mut words = line.split_ascii_whitespace();
    let addr: SocketAddr = words.next()?.parse().ok()?;
    let transport = match words.next()? {
        "tcp" => Transport::Tcp,
        "utp" => Transport::Utp,
        _ => return None,
    };
    let mode = match words.next()? {
        "mse" => Attempt::Encrypted,
        "plain" => Attempt::Plaintext,
        _ => return None,
    };
    words
        .next()
        .is_none()
        .then_some((addr, Worked { transport, mode }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        ([127, 0, 0, 1], port).into()
    }

    const TCP_PLAIN: Worked = Worked {
        transport: Transport::Tcp,
        mode: Attempt::Plaintext,
    };
    const UTP_MSE: Worked = Worked {
        transport: Transport::Utp,
        mode: Attempt::Encrypted,
    };

    #[test]
    fn the_newest_record_wins_and_the_oldest_is_forgotten_first() {
        let modes = Modes::with_max(3);
        modes.record(addr(1), UTP_MSE);
        modes.record(addr(2), UTP_MSE);
        modes.record(addr(3), UTP_MSE);
        // Recorded again: now the newest, so 2 goes first.
        modes.record(addr(1), TCP_PLAIN);
        modes.record(addr(4), UTP_MSE);
        assert_eq!(modes.len(), 3);
        assert_eq!(modes.get(addr(1)), Some(TCP_PLAIN));
        assert_eq!(modes.get(addr(2)), None);
        assert_eq!(modes.get(addr(3)), Some(UTP_MSE));
        assert_eq!(modes.get(addr(4)), Some(UTP_MSE));
    }

    #[test]
    fn the_text_round_trips_in_order_and_bad_lines_are_skipped() {
        let modes = Modes::with_max(10);
        modes.record(addr(1), TCP_PLAIN);
        modes.record(
            "[::1]:7".parse().unwrap_or_else(|_| unreachable!()),
            UTP_MSE,
        );
        modes.record(addr(3), UTP_MSE);
        let text = modes.to_text();
        assert_eq!(
            text,
            "127.0.0.1:1 tcp plain\n[::1]:7 utp mse\n127.0.0.1:3 utp mse\n"
        );
        let noisy = format!("junk\n1.2.3.4:5 sctp mse\n1.2.3.4:5 tcp rc4 x\n{text}");
        let back = Modes::from_text(&noisy, 10);
        assert_eq!(back.to_text(), text);
        // The bound holds on load too: at most `max` lines are read.
        assert_eq!(Modes::from_text(&text, 2).len(), 2);
    }

    #[test]
    fn a_saved_memory_loads_in_the_next_run() {
        let dir = tempfile::tempdir().unwrap_or_else(|_| unreachable!());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|_| unreachable!());
        let modes = Modes::default();
        modes.record(addr(9), TCP_PLAIN);
        rt.block_on(modes.save(dir.path()));
        let loaded = Modes::load(dir.path());
        assert_eq!(loaded.get(addr(9)), Some(TCP_PLAIN));
        // Nothing new: no write at all (the file is not touched).
        let path = dir.path().join(MODES_FILE);
        std::fs::remove_file(&path).unwrap_or_else(|_| unreachable!());
        loaded.record(addr(9), TCP_PLAIN);
        rt.block_on(loaded.save(dir.path()));
        assert!(!path.exists());
        // A new record: written again.
        loaded.record(addr(10), TCP_PLAIN);
        rt.block_on(loaded.save(dir.path()));
        assert_eq!(Modes::load(dir.path()).len(), 2);
        // No file: an empty memory, and nothing to write.
        let empty = tempfile::tempdir().unwrap_or_else(|_| unreachable!());
        let none = Modes::load(empty.path());
        assert_eq!(none.len(), 0);
        rt.block_on(none.save(empty.path()));
        assert!(!empty.path().join(MODES_FILE).exists());
    }
}
