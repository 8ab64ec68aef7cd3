//! What a torrent does with its engine's events: disk jobs (hash and
//! write a piece, read blocks), disconnections, completion.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use shoal_engine::Event;
use shoal_storage::piece_matches;

use super::engine_slot::unreadable_info;
use super::{StorageFault, TorrentShared};

impl TorrentShared {
    pub(super) fn dispatch(self: &Arc<Self>, event: Event) {
        match event {
            Event::CheckPiece { piece, data } => {
                let shared = Arc::clone(self);
                tokio::spawn(async move {
                    let Some(_permit) = shared.disk_permit().await else {
                        return;
                    };
                    let epoch = shared.fault_epoch();
                    let job = Arc::clone(&shared);
                    let checked = tokio::task::spawn_blocking(move || {
                        let verdict = job.check_and_write(piece, &data);
                        (verdict, data)
                    })
                    .await;
                    let (verdict, data) = checked.unwrap_or_else(|err| {
                        let fault = StorageFault {
                            action: format!("writing piece {piece}"),
                            path: None,
                            message: err.to_string(),
                        };
                        (Verdict::NotStored(fault), Vec::new())
                    });
                    match verdict {
                        Verdict::Stored => shared.with_engine(|e, now| {
                            e.piece_checked(piece, true, now);
                            e.recycle(data);
                        }),
                        // A v2 piece's good blocks may be kept (the
                        // engine asks for its block hashes).
                        Verdict::BadHash => shared.with_engine(|e, now| {
                            e.piece_failed_with_data(piece, data, now);
                        }),
                        Verdict::NotStored(fault) => {
                            // Halt before the engine may request again.
                            shared.storage_failed(fault, epoch);
                            shared.with_engine(|e, now| {
                                e.piece_not_stored(piece, now);
                                e.recycle(data);
                            });
                        }
                    }
                });
            }
            Event::HashBlocks {
                peer,
                request,
                piece,
            } => self.hash_blocks(peer, request, piece),
            Event::ReadBlock { peer, block } => {
                // A miss: read the whole piece once for every block waiting on it.
                if !self.cache.wait(block.piece, peer, block) {
                    return;
                }
                let shared = Arc::clone(self);
                tokio::spawn(async move {
                    let Some(_permit) = shared.disk_permit().await else {
                        return;
                    };
                    let epoch = shared.fault_epoch();
                    let job = Arc::clone(&shared);
                    let piece = block.piece;
                    let read = tokio::task::spawn_blocking(move || {
                        let size = job.torrent.info.piece_size(piece as usize) as usize;
                        let mut buf = job.cache.buffer(size);
                        job.store.read(piece as usize, 0, &mut buf).map(|()| buf)
                    })
                    .await;
                    match read {
                        Ok(Ok(data)) => {
                            let data = Arc::new(data);
                            let waiters = shared.cache.loaded(piece, Arc::clone(&data));
                            shared.with_engine(|e, now| {
                                for (peer, block) in waiters {
                                    if let Some(bytes) = crate::piece_cache::block_of(&data, block)
                                    {
                                        e.block_read(peer, block, bytes, now);
                                    }
                                }
                            });
                        }
                        Ok(Err(err)) => {
                            shared.refuse(shared.cache.failed(piece));
                            let fault = StorageFault::new(format!("reading piece {piece}"), &err);
                            shared.storage_failed(fault, epoch);
                        }
                        Err(err) => {
                            tracing::warn!("read task failed: {err}");
                            shared.refuse(shared.cache.failed(piece));
                        }
                    }
                });
            }
            Event::Disconnect {
                peer,
                reason,
                banned,
                unneeded,
            } => {
                tracing::debug!(?peer, %reason, "dropping peer");
                let slot = self
                    .slots
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&peer);
                if let Some(slot) = slot {
                    if banned || unneeded {
                        let mut book = self.book.lock().unwrap_or_else(PoisonError::into_inner);
                        if banned {
                            book.ban(slot.addr);
                        } else {
                            book.retire(slot.addr);
                        }
                    }
                    let _ = slot.close.send(true);
                } else {
                    self.web_seeds.dropped(peer, banned);
                }
            }
            Event::PieceVerified(_) => {
                self.unsaved.fetch_add(1, Ordering::Relaxed);
                // Without a reader yet there is nobody to wake: a reader
                // looks at the verified pieces after it subscribes.
                if let Some(verified) = self.verified.get() {
                    verified.send_modify(|n| *n = n.wrapping_add(1));
                }
            }
            Event::Completed => {
                let shared = Arc::clone(self);
                tokio::spawn(async move {
                    shared.save_resume().await;
                    shared.make_links().await;
                    shared.completed.raise();
                    // Its last peer may have left as it completed (two seeds
                    // part): whoever looks only at busy torrents must look.
                    shared.woken.push(shared.info_hash);
                    shared.announce_queue.wake(&shared);
                });
            }
        }
    }

    /// Tells the engine these blocks could not be read.
    fn refuse(self: &Arc<Self>, waiters: crate::piece_cache::Waiters) {
        self.with_engine(|e, now| {
            for (peer, block) in waiters {
                e.block_read_failed(peer, block, now);
            }
        });
    }

    /// Hashes a downloaded piece and writes it if it matches (blocking).
    fn check_and_write(&self, piece: u32, data: &[u8]) -> Verdict {
        match piece_matches(&self.torrent, piece, data) {
            Ok(true) => {}
            Ok(false) => return Verdict::BadHash,
            Err(err) => {
                let action = format!("checking piece {piece}");
                return Verdict::NotStored(unreadable_info(&action, &err));
            }
        }
        match self.store.write(piece as usize, 0, data) {
            Ok(()) => Verdict::Stored,
            // Not verified if it is not on disk: it will be fetched again,
            // once the user has fixed the disk.
            Err(err) => {
                Verdict::NotStored(StorageFault::new(format!("writing piece {piece}"), &err))
            }
        }
    }
}

/// What became of a downloaded piece.
enum Verdict {
    /// Hashed right and written.
    Stored,
    /// The hash did not match: the peers that sent it are to blame.
    BadHash,
    /// Hashed right, but our disk refused it, or our copy of the hashes
    /// could not be read: no peer is to blame.
    NotStored(StorageFault),
}
