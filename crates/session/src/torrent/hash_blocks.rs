//! Block hashes for a v2 peer's BEP 52 block-layer request
//! ([`shoal_engine::Event::HashBlocks`]): the piece is read and each
//! 16 KiB block hashed on the blocking pool, under the disk-job bound,
//! then handed to the engine, which builds the answer.

use std::sync::Arc;

use shoal_engine::PeerKey;
use shoal_metainfo::merkle::{self, BLOCK_SIZE};
use shoal_wire::HashRequest;

use super::TorrentShared;

impl TorrentShared {
    /// Reads `piece` and gives the engine its block hashes for `peer`'s
    /// `request` (or a failure, which it answers with a reject).
    pub(crate) fn hash_blocks(self: &Arc<Self>, peer: PeerKey, request: HashRequest, piece: u32) {
        let shared = Arc::clone(self);
        tokio::spawn(async move {
            let Some(_permit) = shared.disk_permit().await else {
                return;
            };
            let job = Arc::clone(&shared);
            let read = tokio::task::spawn_blocking(move || {
                let size = job.torrent.info.piece_size(piece as usize) as usize;
                let mut buf = vec![0u8; size];
                job.store.read(piece as usize, 0, &mut buf).map(|()| {
                    buf.chunks(BLOCK_SIZE as usize)
                        .map(merkle::block_hash)
                        .collect::<Vec<_>>()
                })
            })
            .await;
            shared.with_engine(|e, now| match read {
                Ok(Ok(blocks)) => e.block_hashes_read(peer, request, &blocks, now),
                _ => e.block_hashes_failed(peer, request, now),
            });
        });
    }
}
