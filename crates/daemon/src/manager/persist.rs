//! Writing the counters file (`store/counters.rs`): every
//! [`FLUSH_EVERY`] when counters moved, and once more at shutdown.
//! Records themselves are written by whoever changes them.

use std::sync::Arc;
use std::time::Duration;

use super::state::Shared;

/// How often moved counters reach the disk: a crash loses at most this
/// much of them (the sampler hands running-time counters alone over only
/// hourly, as it did when they lived in the records).
const FLUSH_EVERY: Duration = Duration::from_secs(15);

/// Runs until the runtime stops.
pub(super) async fn flusher(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is at once; nothing moved yet.
    tick.tick().await;
    loop {
        tick.tick().await;
        let shared = Arc::clone(&shared);
        // A write and its fsyncs: off the async threads.
        let _ = tokio::task::spawn_blocking(move || flush(&shared)).await;
    }
}

/// Writes the counters file if counters moved since it was last written.
pub(super) fn flush(shared: &Shared) {
    if let Err(err) = shared.store.flush_counters() {
        tracing::error!("saving counters: {err}");
    }
}
