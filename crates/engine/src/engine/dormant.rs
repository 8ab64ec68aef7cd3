//! An engine put to sleep: a complete torrent without peers keeps only what
//! it shows (its figures) and what it needs to wake as it was. A seedbox
//! holds thousands of such torrents; an engine is 1,560 bytes before its
//! picker's tables, the dormant state 272 (its configuration shared with
//! the other sleeping engines: `dormant_config.rs`).

use shoal_metainfo::Info;
use shoal_swarm::{Picker, PieceSet, PieceSizes, Priority};

use super::Engine;
use super::dormant_config::DormantConfig;
use crate::Stats;
use crate::first_copy::FirstCopy;

/// What a sleeping engine keeps ([`Engine::sleep`], [`DormantEngine::wake`]);
/// the default is an empty placeholder, for moving one out of its place.
#[derive(Default)]
pub struct DormantEngine {
    config: DormantConfig,
    info_hash: [u8; 20],
    /// The piece sizes worked out from the info, so waking cannot fail.
    sizes: PieceSizes,
    have: PieceSet,
    /// Its figures when it slept: nothing changes them until it wakes.
    stats: Stats,
    /// Per-file priorities, in file order; empty when all are normal.
    file_priorities: Vec<u8>,
    first_last: bool,
    first_copy: Option<Box<FirstCopy>>,
    first_copy_pending: bool,
    halted: bool,
    next_key: u32,
}

impl Engine {
    /// Whether [`Engine::sleep`] would lose nothing: the torrent is
    /// complete, and no peer, web seed, piece, read or event is under way.
    pub fn can_sleep(&self) -> bool {
        self.completed
            && self.picker.is_complete()
            && self.peers.is_empty()
            && self.web_seeds.is_empty()
            && self.pending_checks == 0
            && self.buffers.is_empty()
            && self.events.is_empty()
            && self.hash_reads.is_empty()
            && self.suspects.is_empty()
            && self.discovered.is_empty()
            && self.dht_nodes.is_empty()
            && self.yourip_votes.is_empty()
            && self.holepunch.as_ref().is_none_or(|h| h.is_quiet())
    }

    /// Puts the engine to sleep; `Err` gives it back unchanged when it
    /// cannot sleep ([`Engine::can_sleep`]).
    pub fn sleep(self) -> Result<DormantEngine, Box<Engine>> {
        if !self.can_sleep() {
            return Err(Box::new(self));
        }
        let stats = self.stats();
        let mut file_priorities: Vec<u8> = (0..).map_while(|f| self.file_priority(f)).collect();
        if file_priorities.iter().all(|p| *p == Priority::NORMAL.0) {
            file_priorities = Vec::new();
        }
        let mut config = self.config;
        config.picker.sequential = self.picker.is_sequential();
        Ok(DormantEngine {
            config: DormantConfig::split(config),
            info_hash: self.info_hash,
            sizes: self.picker.sizes().clone(),
            have: self.picker.have().clone(),
            stats,
            file_priorities,
            first_last: self.picker.first_last_priority(),
            first_copy: self.first_copy.map(Box::new),
            first_copy_pending: self.first_copy_pending,
            halted: self.halted,
            next_key: self.next_key,
        })
    }
}

impl DormantEngine {
    /// Its figures (those of the engine that slept).
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The pieces it has.
    pub fn have(&self) -> &PieceSet {
        &self.have
    }

    /// The engine again, for `info` (the torrent it slept as), as it was
    /// but for the metadata and piece layers it let go: give them again
    /// ([`Engine::set_metadata`], [`Engine::set_piece_layers`]).
    pub fn wake(self, info: &Info) -> Engine {
        let config = self.config.join();
        let picker = Picker::with_sizes(self.sizes, info, config.picker.clone());
        let mut engine = Engine::assemble(info, self.info_hash, picker, &self.have, config);
        // The files are the picker's own, so neither call can fail.
        for (file, priority) in self.file_priorities.iter().enumerate() {
            if *priority != Priority::NORMAL.0 {
                let _ = engine.picker.set_file_priority(file, Priority(*priority));
            }
        }
        let _ = engine.picker.set_first_last_priority(self.first_last);
        // Made with every file wanted, it may not have counted itself
        // complete: the skipped files' pieces are missing.
        engine.completed = engine.picker.is_complete();
        engine.first_copy = self.first_copy.map(|f| *f);
        engine.first_copy_pending = self.first_copy_pending;
        engine.halted = self.halted;
        engine.next_key = self.next_key;
        engine.downloaded = self.stats.downloaded;
        engine.uploaded = self.stats.uploaded;
        engine.hash_failures = self.stats.hash_failures;
        engine
    }
}
