//! Group commit on SQLite: many commits, one transaction, one fsync.
//!
//! SQLite has one writer at a time and every durable transaction pays an fsync, so writing
//! commits one by one caps throughput at the disk's fsync rate. Here one task takes every
//! commit that is waiting, writes each under its own savepoint — a commit that loses a race
//! (a stale version) is rolled back alone and answered `Conflict` — and commits them all at
//! once. Nobody is answered before the transaction is durable: an acknowledgement still
//! means the data survives a power cut.

use crate::commit::{settle, Commit};
use crate::{Result, Store, StoreError};
use sqlx::Executor;
use tokio::sync::{mpsc, oneshot};

/// The most commits written in one transaction.
const MAX_BATCH: usize = 512;

type Job = (Commit, oneshot::Sender<(Commit, Result<()>)>);

#[derive(Clone)]
pub(crate) struct Group {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Group {
    /// Starts the writer task for `store` (whose `group` must be `None`).
    pub(crate) fn start(store: Store) -> Group {
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(writer(store, rx));
        Group { jobs }
    }

    pub(crate) async fn commit(&self, commit: &mut Commit) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        let owned = std::mem::replace(commit, Commit::empty(commit.now));
        if let Err(mpsc::error::SendError((owned, _))) = self.jobs.send((owned, tx)) {
            *commit = owned;
            return Err(StoreError::Corrupt("the store is closed".into()));
        }
        match rx.await {
            Ok((owned, result)) => {
                *commit = owned;
                result
            }
            Err(_) => Err(StoreError::Corrupt("the store writer stopped".into())),
        }
    }
}

async fn writer(store: Store, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let results = write_batch(&store, &batch).await;
        for ((commit, reply), result) in batch.drain(..).zip(results) {
            let _ = reply.send((commit, result));
        }
    }
}

/// Writes every commit of the batch under its own savepoint, then commits once. If the
/// final commit fails, every commit of the batch fails (none is acknowledged).
async fn write_batch(store: &Store, batch: &[Job]) -> Vec<Result<()>> {
    let mut tx = match store.write.begin().await {
        Ok(tx) => tx,
        Err(e) => return batch.iter().map(|_| Err(settle_db(&e))).collect(),
    };
    let mut results = Vec::with_capacity(batch.len());
    for (commit, _) in batch {
        if let Err(e) = tx.execute("SAVEPOINT one_commit").await {
            results.push(Err(settle_db(&e)));
            continue;
        }
        let written = store.write_commit(&mut tx, commit).await;
        let closed = if written.is_ok() {
            tx.execute("RELEASE SAVEPOINT one_commit").await
        } else {
            match tx.execute("ROLLBACK TO SAVEPOINT one_commit").await {
                Ok(_) => tx.execute("RELEASE SAVEPOINT one_commit").await,
                Err(e) => Err(e),
            }
        };
        results.push(match (settle(written), closed) {
            (Ok(()), Ok(_)) => Ok(()),
            (Err(e), Ok(_)) => Err(e),
            (_, Err(e)) => Err(settle_db(&e)),
        });
    }
    if let Err(e) = tx.commit().await {
        let shared = settle_db(&e);
        return batch.iter().map(|_| Err(clone_error(&shared))).collect();
    }
    results
}

fn settle_db(e: &sqlx::Error) -> StoreError {
    if crate::db::is_retryable(e) {
        StoreError::Conflict
    } else {
        StoreError::Corrupt(format!("database error: {e}"))
    }
}

fn clone_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Conflict => StoreError::Conflict,
        other => StoreError::Corrupt(other.to_string()),
    }
}
