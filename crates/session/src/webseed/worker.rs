//! One worker of a web seed: ask the engine for blocks, fetch them, hand
//! them back; back off on errors; stop when the torrent stops, or when the
//! engine dropped this source for bad data.

use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_swarm::{Backoff, BlockRequest, PeerKey};

use super::http::{Client, FetchError, next_data};
use super::plan::{Run, Source, plan};
use crate::torrent::TorrentShared;

/// Connecting and the reply's head must come within this.
const HEAD_TIMEOUT: Duration = Duration::from_secs(20);
/// The body may pause this long between two reads.
const IDLE_TIMEOUT: Duration = Duration::from_secs(20);
/// With nothing to ask for, the engine is asked again this often (a peer
/// may fail, the disk may catch up).
const IDLE_POLL: Duration = Duration::from_millis(500);
/// After a 404 or 410: the file may appear later, but not soon.
const MISSING_WAIT: Duration = Duration::from_secs(300);
/// A batch is sized to take about this long at the seed's measured speed,
/// so a slow server holds few blocks and a fast one gets long ranges.
const BATCH_TIME: Duration = Duration::from_secs(2);
/// Smallest and largest batch, in 16 KiB blocks (64 KiB to 4 MiB).
const MIN_BATCH: usize = 4;
const MAX_BATCH: usize = 256;
/// Bytes of a block.
const BLOCK: u64 = 16 * 1024;
/// A run may take this long, plus its length at [`MIN_RATE`].
const RUN_TIME: Duration = Duration::from_secs(60);
/// Bytes per second below which a run is given up on.
const MIN_RATE: u64 = 1024;

/// Which worker of which web seed.
pub(crate) struct Seed {
    /// The seed's picker source.
    pub key: PeerKey,
    /// The seed's index in the torrent's `WebSeeds`.
    pub index: usize,
    /// This worker's place among the seed's: it fetches while the seed's
    /// `connections` is above it.
    pub slot: usize,
    /// The seed's URL.
    pub url: String,
}

/// Runs one worker of a web seed until the torrent stops or the seed is
/// banned.
pub(crate) async fn run(shared: Arc<TorrentShared>, seed: Seed) {
    let Seed {
        key,
        index,
        slot,
        url,
    } = seed;
    let mut wanted = shared.web_seeds.watch_wanted();
    let mut client = Client::default();
    let mut backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(300));
    let mut batch = MIN_BATCH;
    loop {
        if shared.stopping.is_raised() || shared.web_seeds.is_banned(index) {
            break;
        }
        if !shared.with_engine(|e, _| e.has_web_seed(key)) {
            tracing::info!(%url, "web seed sent corrupt data; no longer used");
            shared.web_seeds.update(index, |s| s.banned = true);
            break;
        }
        // A worker beyond the seed's connections asks for nothing, like one
        // with nothing to fetch (and lets its connection go).
        let allowed = shared
            .web_seeds
            .update(index, |s| slot < s.connections)
            .unwrap_or(false);
        let blocks = if allowed {
            shared.with_engine(|e, _| e.web_seed_requests(key, batch))
        } else {
            client.reset();
            Vec::new()
        };
        if blocks.is_empty() {
            if shared.with_engine(|e, _| e.is_complete()) {
                // Nothing wanted is missing: nothing to fetch until file
                // priorities change (or the torrent stops). No polling, and
                // the server's connection is let go.
                client.reset();
                tokio::select! {
                    () = shared.stopping.raised() => {}
                    _ = wanted.changed() => {}
                }
                continue;
            }
            tokio::select! {
                () = shared.stopping.raised() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
            }
            continue;
        }
        let started = Instant::now();
        // A torrent that stops (or is removed) drops the request at once.
        let result = tokio::select! {
            r = fetch(&shared, key, index, &url, &mut client, blocks) => r,
            () = shared.stopping.raised() => Err(FetchError::Malformed("the torrent stopped".into())),
        };
        shared
            .web_seeds
            .update(index, |s| s.sending = s.sending.saturating_sub(1));
        if shared.stopping.is_raised() {
            break;
        }
        let wait = match result {
            Ok(bytes) => {
                backoff.reset();
                batch = next_batch(batch, bytes, started.elapsed());
                shared.web_seeds.update(index, |s| {
                    s.failures = 0;
                    s.connections = next_connections(s.connections, batch);
                });
                // Without peers the timer task sleeps until the torrent's own
                // deadlines; pieces verified here must arm its resume save.
                if shared.resume_dirty() && shared.with_engine(|e, _| e.peer_count() == 0) {
                    shared.timers.kick(Arc::clone(&shared));
                }
                continue;
            }
            Err(err) => {
                tracing::debug!(%url, %err, "web seed request failed");
                client.reset();
                shared.with_engine(|e, now| e.web_seed_failed(key, now));
                shared.web_seeds.update(index, |s| {
                    s.failures = s.failures.saturating_add(1);
                    s.last_error = Some(err.to_string());
                    s.connections = s.connections.saturating_sub(1).max(1);
                });
                batch = MIN_BATCH;
                let delay = backoff.next_delay();
                if err.is_missing() {
                    delay.max(MISSING_WAIT)
                } else {
                    delay
                }
            }
        };
        tokio::select! {
            () = shared.stopping.raised() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
    // The seed's other workers are stopping too (or it is banned): each
    // may remove it, the calls after the first do nothing.
    shared.with_engine(|e, now| e.remove_web_seed(key, now));
}

/// The next batch size from the last one's speed, at most twice the last:
/// a server's first bytes often come in a burst (a throttled one too), and
/// a batch sized by a burst would hold the seed's blocks for long, out of
/// reach of a streaming read that raises other pieces.
/// The seed's connections after a batch that worked, whose next batch is
/// `batch` blocks: one more while batches are as large as they go (each
/// connection moves 2 MiB/s or more: the server keeps up), one fewer while
/// they stay at their smallest (under 32 KiB/s each: a slow server gains
/// nothing from more, and each would hold blocks).
fn next_connections(now: usize, batch: usize) -> usize {
    if batch >= MAX_BATCH {
        (now + 1).min(super::MAX_CONNECTIONS)
    } else if batch <= MIN_BATCH {
        now.saturating_sub(1).max(1)
    } else {
        now
    }
}

fn next_batch(last: usize, bytes: u64, took: Duration) -> usize {
    let rate = bytes as f64 / took.as_secs_f64().max(0.001);
    let blocks = (rate * BATCH_TIME.as_secs_f64() / BLOCK as f64) as usize;
    blocks
        .min(last.saturating_mul(2))
        .clamp(MIN_BATCH, MAX_BATCH)
}

/// Fetches `blocks` run by run; returns the bytes received.
async fn fetch(
    shared: &Arc<TorrentShared>,
    key: PeerKey,
    index: usize,
    url: &str,
    client: &mut Client,
    blocks: Vec<BlockRequest>,
) -> Result<u64, FetchError> {
    shared.web_seeds.update(index, |s| s.sending += 1);
    let mut total = 0;
    for run in plan(url, &shared.torrent.info, blocks) {
        // However the server paces its bytes, a run ends in bounded time:
        // a trickle just above the idle timeout must not hold a worker.
        let deadline = RUN_TIME + Duration::from_secs(run.len() / MIN_RATE);
        total += tokio::time::timeout(deadline, fetch_run(shared, key, index, client, &run))
            .await
            .map_err(|_| FetchError::Timeout)??;
    }
    Ok(total)
}

/// Fetches one run, handing each block to the engine as soon as its bytes
/// are in; only the bytes of the block being received are kept.
async fn fetch_run(
    shared: &Arc<TorrentShared>,
    key: PeerKey,
    index: usize,
    client: &mut Client,
    run: &Run,
) -> Result<u64, FetchError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut received = 0u64;
    let mut handed = 0usize;
    for part in &run.parts {
        match part {
            Source::Zeros(n) => buf.resize(buf.len() + *n as usize, 0),
            Source::Http { url, range } => {
                let want = (range.end - range.start) as usize;
                let mut reply = client.get_range(url, range.clone(), HEAD_TIMEOUT).await?;
                let mut got = 0;
                while got < want {
                    let data = next_data(&mut reply.body, IDLE_TIMEOUT)
                        .await?
                        .ok_or_else(|| FetchError::Malformed("body ended early".into()))?;
                    let take = data.len().min(want - got);
                    buf.extend_from_slice(data.get(..take).unwrap_or_default());
                    got += take;
                    received += take as u64;
                    shared.limits.down.consume(take).await;
                    shared.own_limits.down.consume(take).await;
                    shared
                        .web_seeds
                        .update(index, |s| s.downloaded += take as u64);
                    handed = hand_over(shared, key, run, handed, &mut buf);
                }
                // A range reply that ends where we stopped leaves the
                // connection ready for the next request; anything else
                // (a whole file sent, extra bytes) closes it.
                let at_end = !reply.whole_file
                    && matches!(
                        next_data(&mut reply.body, Duration::from_millis(100)).await,
                        Ok(None)
                    );
                if !at_end {
                    client.reset();
                }
            }
        }
        handed = hand_over(shared, key, run, handed, &mut buf);
    }
    Ok(received)
}

/// Hands the run's blocks from index `from` on whose bytes are all at the
/// front of `buf` to the engine, drops those bytes, and returns the index
/// of the first block not handed over.
fn hand_over(
    shared: &Arc<TorrentShared>,
    key: PeerKey,
    run: &Run,
    from: usize,
    buf: &mut Vec<u8>,
) -> usize {
    let mut end = from;
    let mut used = 0;
    while let Some(b) = run.blocks.get(end) {
        let next = used + b.length as usize;
        if next > buf.len() {
            break;
        }
        used = next;
        end += 1;
    }
    if end == from {
        return from;
    }
    shared.with_engine(|e, now| {
        let mut at = 0;
        for b in run.blocks.get(from..end).unwrap_or_default() {
            let next = at + b.length as usize;
            if let Some(data) = buf.get(at..next) {
                e.web_seed_block(key, *b, data, now);
            }
            at = next;
        }
    });
    buf.drain(..used);
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_grow_with_a_fast_seed_and_shrink_with_a_slow_one() {
        let max = super::super::MAX_CONNECTIONS;
        assert_eq!(next_connections(2, MAX_BATCH), 3);
        assert_eq!(next_connections(max, MAX_BATCH), max);
        assert_eq!(next_connections(3, MAX_BATCH / 2), 3);
        assert_eq!(next_connections(3, MIN_BATCH), 2);
        assert_eq!(next_connections(1, MIN_BATCH), 1);
        // A batch after a fast transfer doubles at most, so a new seed
        // reaches the largest batch before it opens more connections.
        let mut batch = MIN_BATCH;
        let mut steps = 0;
        while batch < MAX_BATCH {
            batch = next_batch(batch, 64 << 20, Duration::from_millis(100));
            steps += 1;
        }
        assert_eq!(steps, 6);
    }
}
