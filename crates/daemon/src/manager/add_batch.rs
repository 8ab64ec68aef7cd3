//! Group commit of adds: the files of adds arriving together (metainfo and
//! record of each) are written as one batch, flushed together with one
//! directory sync for all, off the async threads and outside the state
//! lock. Adds in a row used to take a full set of fsyncs each, one after
//! another under the state lock; a client adding hundreds at once (a
//! folder of .torrent files, an *arr import) waited for all of them.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::DaemonError;
use crate::store::TorrentRecord;

/// Adds waiting for the writer; beyond this, adding waits for room.
pub(super) const PENDING: usize = 1024;
/// Most adds in one batch.
const MAX_BATCH: usize = 512;
/// Most metainfo bytes in one batch (a .torrent may be up to 64 MiB).
const MAX_BATCH_BYTES: usize = 64 << 20;

/// One add's files, and where its outcome goes.
pub(super) struct AddJob {
    pub record: TorrentRecord,
    /// None for a magnet link's record.
    pub metainfo: Option<Vec<u8>>,
    pub done: oneshot::Sender<Result<(), DaemonError>>,
}

/// What writes one batch: one result per add, in order.
pub(super) type WriteBatch =
    dyn Fn(&[(&TorrentRecord, Option<&[u8]>)]) -> Vec<Result<(), DaemonError>> + Send + Sync;

/// Writes the adds that arrive with `write` (the store's `add_batch`), each
/// batch being all that waited when the previous one was written; runs
/// until every sender is gone.
pub(super) async fn writer(write: Arc<WriteBatch>, mut jobs: mpsc::Receiver<AddJob>) {
    while let Some(first) = jobs.recv().await {
        let mut bytes = first.metainfo.as_ref().map_or(0, Vec::len);
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            let Ok(job) = jobs.try_recv() else { break };
            bytes = bytes.saturating_add(job.metainfo.as_ref().map_or(0, Vec::len));
            batch.push(job);
        }
        let write = Arc::clone(&write);
        // Flushes and a directory sync: off the async threads.
        let written = tokio::task::spawn_blocking(move || {
            let items: Vec<(&TorrentRecord, Option<&[u8]>)> = batch
                .iter()
                .map(|job| (&job.record, job.metainfo.as_deref()))
                .collect();
            let results = write(&items);
            (batch, results)
        })
        .await;
        // A panicked write drops the batch: its adds see the writer gone.
        let Ok((batch, results)) = written else {
            continue;
        };
        for (job, result) in batch.into_iter().zip(results) {
            let _ = job.done.send(result);
        }
    }
}

/// Hands an add's files to the writer (`adds`, the state's sender) and
/// waits until they are on disk.
pub(super) async fn write(
    adds: &mpsc::Sender<AddJob>,
    record: TorrentRecord,
    metainfo: Option<Vec<u8>>,
) -> Result<(), DaemonError> {
    let (done, outcome) = oneshot::channel();
    let gone = || DaemonError::io("saving the torrent", std::io::Error::other("shutting down"));
    adds.send(AddJob {
        record,
        metainfo,
        done,
    })
    .await
    .map_err(|_| gone())?;
    outcome.await.map_err(|_| gone())?
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[tokio::test]
    async fn adds_waiting_together_are_written_as_one_batch() {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&batches);
        let write: Arc<WriteBatch> = Arc::new(move |items| {
            seen.lock().unwrap().push(items.len());
            items
                .iter()
                .map(|(record, _)| match record.id {
                    7 => Err(DaemonError::BadRequest("refused".into())),
                    _ => Ok(()),
                })
                .collect()
        });
        let (tx, rx) = mpsc::channel(PENDING);
        // Twenty adds arrive while the writer is busy (not yet started).
        let mut outcomes = Vec::new();
        for id in 1..=20 {
            let (done, outcome) = oneshot::channel();
            let record = TorrentRecord::new(id, "a".repeat(40), "n".into(), "/d".into());
            let metainfo = (id % 2 == 0).then(|| vec![0u8; 10]);
            tx.send(AddJob {
                record,
                metainfo,
                done,
            })
            .await
            .unwrap();
            outcomes.push(outcome);
        }
        let task = tokio::spawn(writer(write, rx));
        for (id, outcome) in (1..).zip(outcomes) {
            let result = outcome.await.unwrap();
            assert_eq!(result.is_ok(), id != 7, "add {id}: {result:?}");
        }
        assert_eq!(*batches.lock().unwrap(), vec![20], "one batch for all");
        // A later add is a batch of its own.
        let (done, outcome) = oneshot::channel();
        let record = TorrentRecord::new(21, "b".repeat(40), "n".into(), "/d".into());
        tx.send(AddJob {
            record,
            metainfo: None,
            done,
        })
        .await
        .unwrap();
        outcome.await.unwrap().unwrap();
        assert_eq!(*batches.lock().unwrap(), vec![20, 1]);
        drop(tx);
        task.await.unwrap();
    }
}
