//! A torrent's engine, awake or asleep. A torrent that starts complete
//! starts with its engine asleep, and a complete one without peers for
//! `Config::engine_sleep_after` puts it to sleep
//! (`shoal_engine::DormantEngine`: its figures and settings, under half
//! the engine's memory); the first call that needs the engine wakes it as
//! it was, and figures are read without waking it.

use shoal_engine::{DormantEngine, Engine, Stats};
use shoal_metainfo::Info;
use shoal_swarm::PieceSet;

/// The engine, or what it left when it went to sleep.
pub(crate) enum EngineSlot {
    /// Boxed, as the dormant state is: the slot itself stays small.
    Awake(Box<Engine>),
    Asleep(Box<DormantEngine>),
}

impl EngineSlot {
    /// A starting torrent's engine: asleep at once if it may sleep (a
    /// complete torrent keeps no engine until a peer comes; one made and
    /// dropped a minute later would leave its memory in holes the
    /// allocator cannot give back).
    pub(crate) fn new(engine: Engine) -> Self {
        match engine.sleep() {
            Ok(dormant) => EngineSlot::Asleep(Box::new(dormant)),
            Err(engine) => EngineSlot::Awake(engine),
        }
    }

    /// The engine, woken first if it sleeps (`info`: the torrent's).
    pub(crate) fn awake(&mut self, info: &Info) -> &mut Engine {
        if let EngineSlot::Asleep(dormant) = self {
            let engine = std::mem::take(&mut **dormant).wake(info);
            *self = EngineSlot::Awake(Box::new(engine));
        }
        match self {
            EngineSlot::Awake(engine) => engine,
            // Not taken: woken just above.
            EngineSlot::Asleep(_) => self.awake(info),
        }
    }

    /// Puts the engine to sleep if it can sleep (`Engine::can_sleep`);
    /// returns whether it sleeps now.
    pub(crate) fn sleep(&mut self) -> bool {
        match self {
            EngineSlot::Asleep(_) => return true,
            EngineSlot::Awake(engine) if !engine.can_sleep() => return false,
            EngineSlot::Awake(_) => {}
        }
        let placeholder = EngineSlot::Asleep(Box::default());
        if let EngineSlot::Awake(engine) = std::mem::replace(self, placeholder) {
            *self = EngineSlot::new(*engine);
        }
        self.is_asleep()
    }

    /// Whether the engine sleeps.
    pub(crate) fn is_asleep(&self) -> bool {
        matches!(self, EngineSlot::Asleep(_))
    }

    /// The pieces the engine has, without waking it.
    pub(crate) fn have(&self) -> &PieceSet {
        match self {
            EngineSlot::Awake(engine) => engine.have(),
            EngineSlot::Asleep(dormant) => dormant.have(),
        }
    }

    /// The engine's figures, without waking it.
    pub(crate) fn stats(&self) -> Stats {
        match self {
            EngineSlot::Awake(engine) => engine.stats(),
            EngineSlot::Asleep(dormant) => dormant.stats(),
        }
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
