//! Torrents that left their idle state (a first peer, a learned address),
//! for pollers that look at idle torrents only now and then: the daemon's
//! sampler visits the torrents named here at once, without a pass over
//! every torrent it holds.

use std::sync::{Mutex, PoisonError};

/// Most names kept between two drains; past it the list says "overflowed"
/// and the poller looks at everything once (a session nobody drains, as
/// the CLI's, must not grow without bound).
const MAX_WOKEN: usize = 4096;

#[derive(Default)]
struct State {
    hashes: Vec<[u8; 20]>,
    overflowed: bool,
}

/// The session's list of torrents woken since it was last drained.
#[derive(Default)]
pub(crate) struct Woken {
    state: Mutex<State>,
}

impl Woken {
    /// Notes that `info_hash` left its idle state.
    pub(crate) fn push(&self, info_hash: [u8; 20]) {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if s.hashes.len() < MAX_WOKEN {
            s.hashes.push(info_hash);
        } else {
            s.overflowed = true;
        }
    }

    /// The torrents woken since the last call, or `None` if more woke than
    /// the list keeps (then look at every torrent).
    pub(crate) fn take(&self) -> Option<Vec<[u8; 20]>> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let overflowed = std::mem::take(&mut s.overflowed);
        let hashes = std::mem::take(&mut s.hashes);
        (!overflowed).then_some(hashes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_and_reports_an_overflow_once() {
        let w = Woken::default();
        w.push([1; 20]);
        w.push([2; 20]);
        assert_eq!(w.take(), Some(vec![[1; 20], [2; 20]]));
        assert_eq!(w.take(), Some(vec![]));
        for _ in 0..=MAX_WOKEN {
            w.push([3; 20]);
        }
        assert_eq!(w.take(), None);
        assert_eq!(w.take(), Some(vec![]));
    }
}
