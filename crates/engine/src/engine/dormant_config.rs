//! A sleeping engine's configuration: one copy shared by every sleeping
//! engine whose settings are the same, plus the few parts each torrent has
//! of its own (random seeds, sequential mode, upload limit, the seed's turn
//! size). A session's torrents have one or two distinct configurations
//! (public and private), so 10,000 sleeping torrents hold 10,000 sets of
//! those parts, 56 bytes each, rather than 10,000 configurations of 408.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::Config;

/// Most distinct configurations kept for sharing; past it, a sleeping
/// engine keeps an unshared copy (still correct, only larger).
const MAX_SHARED: usize = 64;

/// The shared configurations, weakly held: one no sleeping engine uses
/// any more is dropped, and its slot reused.
static SHARED: Mutex<Vec<Weak<Config>>> = Mutex::new(Vec::new());

/// A configuration split into its shared part and the torrent's own.
pub(super) struct DormantConfig {
    shared: Arc<Config>,
    picker_seed: u64,
    choker_seed: u64,
    sequential: bool,
    upload_limit: Option<u64>,
    seed_turn_bytes: Option<u64>,
}

impl Default for DormantConfig {
    /// An empty placeholder: the default configuration, shared.
    fn default() -> Self {
        DormantConfig::split(Config::default())
    }
}

impl DormantConfig {
    /// Splits `config` into the shared part and the torrent's own.
    pub(super) fn split(mut config: Config) -> DormantConfig {
        let picker_seed = std::mem::take(&mut config.picker.seed);
        let choker_seed = std::mem::take(&mut config.choker.seed);
        let sequential = std::mem::take(&mut config.picker.sequential);
        let upload_limit = config.choker.upload_limit.take();
        let seed_turn_bytes = config.choker.seed_turn_bytes.take();
        DormantConfig {
            shared: share(config),
            picker_seed,
            choker_seed,
            sequential,
            upload_limit,
            seed_turn_bytes,
        }
    }

    /// The configuration as it was split.
    pub(super) fn join(&self) -> Config {
        let mut config = Config::clone(&self.shared);
        config.picker.seed = self.picker_seed;
        config.choker.seed = self.choker_seed;
        config.picker.sequential = self.sequential;
        config.choker.upload_limit = self.upload_limit;
        config.choker.seed_turn_bytes = self.seed_turn_bytes;
        config
    }
}

/// The shared copy of `config`: one already held if equal, else `config`
/// itself, held for the next.
fn share(config: Config) -> Arc<Config> {
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    shared.retain(|c| c.strong_count() > 0);
    if let Some(found) = shared
        .iter()
        .filter_map(Weak::upgrade)
        .find(|c| **c == config)
    {
        return found;
    }
    let config = Arc::new(config);
    if shared.len() < MAX_SHARED {
        shared.push(Arc::downgrade(&config));
    }
    config
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::DormantConfig;
    use crate::Config;

    fn config(seed: u64, port: u16) -> Config {
        let mut c = Config {
            listen_port: Some(port),
            ..Config::default()
        };
        c.picker.seed = seed;
        c.choker.seed = seed.rotate_left(17);
        c.picker.sequential = seed % 2 == 0;
        c.choker.upload_limit = Some(seed);
        c.choker.seed_turn_bytes = Some(seed * 3);
        c
    }

    #[test]
    fn configurations_differing_in_their_own_parts_share_one_copy() {
        let a = DormantConfig::split(config(1, 40_001));
        let b = DormantConfig::split(config(2, 40_001));
        let c = DormantConfig::split(config(3, 40_002));
        assert!(Arc::ptr_eq(&a.shared, &b.shared));
        assert!(!Arc::ptr_eq(&a.shared, &c.shared));
        assert!(a.join() == config(1, 40_001));
        assert!(b.join() == config(2, 40_001));
        assert!(c.join() == config(3, 40_002));
    }
}
