//! Magnet peers: fetching the info dictionary through the connection core
//! (`MetadataFetch`) before the download starts, with the session's
//! policy: up to [`FETCH_PARALLEL`] peers at a time, the whole dictionary
//! from each, the first copy that passes the hash check wins.

use shoal_engine::FetchError;

use super::Simulation;
use super::node::{Fetching, peer_addr};

/// Peers asked for the metadata at the same time (as `session/src/metadata.rs`).
pub(super) const FETCH_PARALLEL: usize = 6;

/// What a metadata connection's delivered bytes came to.
pub(super) enum Fetched {
    /// Nothing final yet.
    More,
    /// The checked dictionary.
    Done,
    /// The exchange failed (a liar's copy, a reject, a broken stream).
    Failed(Option<FetchError>),
}

impl Simulation {
    /// A magnet peer arrives: it asks the tracker, then the peers it named.
    pub(super) fn start_fetch(&mut self, i: usize) {
        let candidates = self.tracker_sample(i);
        if let Some(node) = self.nodes.get_mut(i) {
            node.fetching = Some(Fetching {
                candidates,
                running: 0,
            });
        }
        self.fetch_more(i);
    }

    /// Dials candidates until [`FETCH_PARALLEL`] exchanges run; with none
    /// running and none left, asks the tracker again.
    pub(super) fn fetch_more(&mut self, i: usize) {
        let mut asked_tracker = false;
        loop {
            let Some(f) = self.nodes.get_mut(i).and_then(|n| n.fetching.as_mut()) else {
                return;
            };
            if f.running >= FETCH_PARALLEL {
                return;
            }
            let Some(j) = f.candidates.pop() else {
                if asked_tracker || f.running > 0 {
                    return;
                }
                asked_tracker = true;
                let sample = self.tracker_sample(i);
                if let Some(f) = self.nodes.get_mut(i).and_then(|n| n.fetching.as_mut()) {
                    f.candidates = sample;
                }
                continue;
            };
            let before = self.dials.len();
            self.dial(i, peer_addr(j));
            if self.dials.len() > before {
                if let Some(f) = self.nodes.get_mut(i).and_then(|n| n.fetching.as_mut()) {
                    f.running += 1;
                }
            }
        }
    }

    /// One of `i`'s metadata dials or connections ended.
    pub(super) fn fetch_ended(&mut self, i: usize) {
        let Some(f) = self.nodes.get_mut(i).and_then(|n| n.fetching.as_mut()) else {
            return;
        };
        f.running = f.running.saturating_sub(1);
        self.fetch_more(i);
    }

    /// Writes what the metadata fetch on connection `c` queued.
    pub(super) fn flush_fetch(&mut self, c: usize) {
        let Some(conn) = self.conns.get_mut(c) else {
            return;
        };
        let (Some(fetch), Some(stream)) = (conn.fetch.as_mut(), conn.streams.get_mut(0)) else {
            return;
        };
        let mut buf = self.spare.bytes.pop().unwrap_or_default();
        let blocks = self.spare.blocks.pop().unwrap_or_default();
        fetch.poll_transmit(&mut buf);
        stream.push(buf, blocks, &mut self.spare);
        if stream.backlog() > 0 {
            self.active.insert((c, 0));
            if let Some(link) = self.links.get_mut(2 * c) {
                link.busy = true;
            }
        }
    }

    /// Acts on what a metadata connection's bytes came to.
    pub(super) fn fetched(&mut self, c: usize, outcome: Fetched) {
        let Some(i) = self.conns.get(c).map(|k| k.ends[0]) else {
            return;
        };
        match outcome {
            Fetched::More => self.flush_fetch(c),
            Fetched::Done => self.metadata_arrived(i),
            Fetched::Failed(err) => {
                if matches!(err, Some(FetchError::HashMismatch)) {
                    if let Some(node) = self.nodes.get_mut(i) {
                        node.bad_metadata += 1;
                    }
                }
                self.close(c);
            }
        }
    }

    /// `i` holds the checked dictionary: its metadata connections close and
    /// it joins the swarm as any arriving peer does.
    fn metadata_arrived(&mut self, i: usize) {
        let Some(node) = self.nodes.get_mut(i).filter(|n| n.fetching.is_some()) else {
            // Another connection's copy was first in this step.
            return;
        };
        node.fetching = None;
        node.metadata_at = Some(self.now);
        self.last_progress = self.now;
        let mine: Vec<usize> = (0..self.conns.len())
            .filter(|&c| {
                self.conns
                    .get(c)
                    .is_some_and(|k| k.open && k.fetch.is_some() && k.ends[0] == i)
            })
            .collect();
        for c in mine {
            self.close(c);
        }
        self.learn_tracker_sample(i);
        self.dial_due(i);
    }
}
