//! A one-way signal: raised once, never lowered, awaited by any number of
//! tasks (a torrent's "stopping" and "completed", the daemon's cancelling
//! of a start). A flag and a `Notify` held inline: a `watch` channel did
//! the same with an allocation of ~370 bytes, which a seedbox pays for each
//! of its thousands of torrents.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// A signal raised once and for all.
#[derive(Debug, Default)]
pub struct Latch {
    raised: AtomicBool,
    notify: Notify,
}

impl Latch {
    /// A latch raised already (or not).
    pub fn new(raised: bool) -> Latch {
        Latch {
            raised: AtomicBool::new(raised),
            notify: Notify::new(),
        }
    }

    /// Raises it, waking every waiter.
    pub fn raise(&self) {
        self.raised.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Whether it is raised.
    pub fn is_raised(&self) -> bool {
        self.raised.load(Ordering::SeqCst)
    }

    /// Returns once it is raised (at once if it is already).
    pub async fn raised(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Registered before the flag is read: a raise in between wakes
            // this waiter instead of being missed.
            notified.as_mut().enable();
            if self.is_raised() {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn waiters_before_and_after_the_raise_return() {
        let signal = Arc::new(Latch::default());
        let early = tokio::spawn({
            let s = Arc::clone(&signal);
            async move { s.raised().await }
        });
        tokio::task::yield_now().await;
        assert!(!signal.is_raised());
        signal.raise();
        tokio::time::timeout(Duration::from_secs(5), early)
            .await
            .expect("a waiter from before the raise returns")
            .expect("the waiter did not panic");
        tokio::time::timeout(Duration::from_secs(5), signal.raised())
            .await
            .expect("a waiter after the raise returns at once");
    }
}
