//! A torrent's engine, awake or asleep. A torrent that starts complete
//! starts with its engine asleep, and a complete one without peers for
//! `Config::engine_sleep_after` puts it to sleep
//! (`shoal_engine::DormantEngine`: its figures and settings, under half
//! the engine's memory); the first call that needs the engine wakes it as
//! it was, and figures are read without waking it.
//!
//! An awake engine holds the torrent's info dictionary (what BEP 9 serves,
//! and where the v1 piece hashes lie) and its BEP 52 piece layers (what
//! v2 peers' hash requests are answered from); a sleeping one lets them
//! go, so a torrent whose `.torrent` the daemon keeps on disk holds none
//! of them while it sleeps (`Torrent::keep_on_disk`).

use std::sync::Arc;

use shoal_engine::{DormantEngine, Engine, Stats};
use shoal_metainfo::{InfoReadError, Torrent};
use shoal_swarm::PieceSet;

use super::StorageFault;

/// The engine, or what it left when it went to sleep.
pub(crate) enum EngineSlot {
    /// Boxed, as the dormant state is: the slot itself stays small.
    Awake(Box<Engine>),
    Asleep {
        /// The dormant engine's figures, inline: read by every announce
        /// and every list of torrents, which then need not touch the box
        /// (at a seedbox's scale, a cold page each time).
        stats: Stats,
        dormant: Box<DormantEngine>,
    },
}

impl EngineSlot {
    /// The slot of an engine gone to sleep as `dormant`.
    fn asleep(dormant: DormantEngine) -> Self {
        EngineSlot::Asleep {
            stats: dormant.stats(),
            dormant: Box::new(dormant),
        }
    }

    /// A starting torrent's engine: asleep at once if it may sleep (a
    /// complete torrent keeps no engine until a peer comes; one made and
    /// dropped a minute later would leave its memory in holes the
    /// allocator cannot give back).
    /// An engine that stays awake is given `torrent`'s info dictionary
    /// and piece layers; the fault is why they could not be.
    pub(crate) fn new(engine: Engine, torrent: &Arc<Torrent>) -> (Self, Option<StorageFault>) {
        match engine.sleep() {
            Ok(dormant) => (EngineSlot::asleep(dormant), None),
            Err(mut engine) => {
                let fault = give_metainfo(&mut engine, torrent);
                (EngineSlot::Awake(engine), fault)
            }
        }
    }

    /// The engine, woken first if it sleeps (`torrent`: the torrent's),
    /// and the fault met waking it (its info dictionary or piece layers
    /// could not be read back from disk: it serves neither then). The read
    /// happens under the engine's lock: a few KB, from the page cache for
    /// a busy torrent.
    pub(crate) fn awake(&mut self, torrent: &Arc<Torrent>) -> (&mut Engine, Option<StorageFault>) {
        let mut fault = None;
        if let EngineSlot::Asleep { dormant, .. } = self {
            let mut engine = std::mem::take(&mut **dormant).wake(&torrent.info);
            fault = give_metainfo(&mut engine, torrent);
            *self = EngineSlot::Awake(Box::new(engine));
        }
        match self {
            EngineSlot::Awake(engine) => (engine, fault),
            // Not taken: woken just above.
            EngineSlot::Asleep { .. } => self.awake(torrent),
        }
    }

    /// Puts the engine to sleep if it can sleep (`Engine::can_sleep`);
    /// returns whether it sleeps now.
    pub(crate) fn sleep(&mut self) -> bool {
        match self {
            EngineSlot::Asleep { .. } => return true,
            EngineSlot::Awake(engine) if !engine.can_sleep() => return false,
            EngineSlot::Awake(_) => {}
        }
        let placeholder = EngineSlot::asleep(DormantEngine::default());
        if let EngineSlot::Awake(engine) = std::mem::replace(self, placeholder) {
            // Only an engine that cannot sleep stays awake, and it keeps
            // the metadata it holds.
            *self = match engine.sleep() {
                Ok(dormant) => EngineSlot::asleep(dormant),
                Err(engine) => EngineSlot::Awake(engine),
            };
        }
        self.is_asleep()
    }

    /// Whether the engine sleeps.
    pub(crate) fn is_asleep(&self) -> bool {
        matches!(self, EngineSlot::Asleep { .. })
    }

    /// The pieces the engine has, without waking it.
    pub(crate) fn have(&self) -> &PieceSet {
        match self {
            EngineSlot::Awake(engine) => engine.have(),
            EngineSlot::Asleep { dormant, .. } => dormant.have(),
        }
    }

    /// The engine's figures, without waking it.
    pub(crate) fn stats(&self) -> Stats {
        match self {
            EngineSlot::Awake(engine) => engine.stats(),
            EngineSlot::Asleep { stats, .. } => *stats,
        }
    }
}

/// Gives `engine` the torrent's info dictionary and piece layers, read
/// back from disk if they were let go; the fault says why they could not be.
fn give_metainfo(engine: &mut Engine, torrent: &Arc<Torrent>) -> Option<StorageFault> {
    let given = torrent.info_bytes().and_then(|bytes| {
        engine.set_metadata(bytes);
        let layers = torrent.piece_layers()?;
        engine.set_piece_layers(Arc::clone(torrent), layers);
        Ok(())
    });
    given
        .err()
        .map(|err| unreadable_info("waking the torrent", &err))
}

/// The fault for an info dictionary that could not be read back.
pub(crate) fn unreadable_info(action: &str, err: &InfoReadError) -> StorageFault {
    StorageFault {
        action: action.to_owned(),
        path: None,
        message: err.to_string(),
    }
}

impl super::TorrentShared {
    /// Puts the engine to sleep if it can (`Engine::can_sleep`), and lets
    /// the piece cache go with it; returns whether it sleeps now.
    pub fn sleep_engine(&self) -> bool {
        let asleep = self.lock().sleep();
        if asleep {
            self.cache.release();
        }
        asleep
    }

    /// Whether the engine sleeps.
    pub fn engine_asleep(&self) -> bool {
        self.lock().is_asleep()
    }

    /// The pieces a sleeping engine has (`None` while it is awake).
    pub fn have_if_asleep(&self) -> Option<shoal_swarm::PieceSet> {
        let slot = self.lock();
        slot.is_asleep().then(|| slot.have().clone())
    }

    /// Verified pieces as a wire-format bitfield, without waking the engine.
    pub fn have_bitfield(&self) -> Vec<u8> {
        self.lock().have().as_bytes().to_vec()
    }
}

impl super::TorrentHandle {
    /// Whether the torrent's engine sleeps (complete and without peers
    /// for `Config::engine_sleep_after`).
    pub fn engine_asleep(&self) -> bool {
        self.shared.engine_asleep()
    }
}
