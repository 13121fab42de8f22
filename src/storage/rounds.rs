//! Durability rounds (group commit), run back to back by one thread of the store's own. A
//! round syncs the body log, commits the records of the logged bodies queued since the last
//! round (their bodies are durable now), flushes sled — which covers those commits and every
//! write finished before the round began — and then answers everyone it covered.
//!
//! A thread rather than a task holding a gate: under load, handing the gate from task to
//! task and each round to tokio's blocking pool left ~40% of every round's cycle idle while
//! busy workers got round to it; the thread starts the next round as soon as one ends.
//! (Concurrent `flush_async` calls are no alternative: they filled sled's IO pool with flushes
//! waiting on its global lock while a transaction waited for them, a deadlock seen under 32
//! concurrent PUTs.)

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};

use tokio::sync::oneshot;

use super::logged::{self, QueuedCommit};
use super::{Durability, Inner, StorageError, StorageResult, Store};

#[derive(Default)]
struct Queue {
    commits: Vec<QueuedCommit>,
    /// Writers whose change is made, waiting for a flush that covers it.
    flushes: Vec<oneshot::Sender<StorageResult<()>>>,
    /// The thread waits for work: only then must a new entry wake it.
    idle: bool,
    stopping: bool,
}

impl Queue {
    fn is_empty(&self) -> bool {
        self.commits.is_empty() && self.flushes.is_empty()
    }
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    work: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, add: impl FnOnce(&mut Queue)) {
        let mut queue = self.lock();
        add(&mut queue);
        if queue.idle {
            queue.idle = false;
            self.work.notify_one();
        }
    }
}

/// The store's end of the rounds thread; dropping it (with the store) stops the thread.
pub(super) struct Rounds(Arc<Shared>);

impl Rounds {
    pub(super) fn new() -> Rounds {
        Rounds(Arc::default())
    }

    /// Starts the thread for `store`, which it holds weakly between rounds.
    pub(super) fn start(&self, store: &Store) -> std::io::Result<()> {
        let shared = self.0.clone();
        let store = Arc::downgrade(&store.inner);
        std::thread::Builder::new()
            .name("lambucket-durability".into())
            .spawn(move || serve(&shared, &store))?;
        Ok(())
    }
}

impl Drop for Rounds {
    fn drop(&mut self) {
        self.0.lock().stopping = true;
        self.0.work.notify_one();
    }
}

fn serve(shared: &Shared, store: &Weak<Inner>) {
    loop {
        let (commits, flushes) = {
            let mut queue = shared.lock();
            while queue.is_empty() && !queue.stopping {
                queue.idle = true;
                queue = shared.work.wait(queue).unwrap_or_else(|e| e.into_inner());
            }
            queue.idle = false;
            if queue.stopping {
                return; // the store is gone, and with it anyone who could be waiting
            }
            (
                std::mem::take(&mut queue.commits),
                std::mem::take(&mut queue.flushes),
            )
        };
        let Some(inner) = store.upgrade() else {
            return;
        };
        let store = Store { inner };
        // A panic drops the round's reply senders, so its writers hear it failed; the thread
        // goes on serving the next ones.
        let round = std::panic::catch_unwind(AssertUnwindSafe(|| {
            run_round(&store, commits, flushes);
        }));
        if round.is_err() {
            tracing::error!("a durability round panicked; its writes were reported failed");
        }
    }
}

fn run_round(
    store: &Store,
    commits: Vec<QueuedCommit>,
    flushes: Vec<oneshot::Sender<StorageResult<()>>>,
) {
    let inner = &store.inner;
    let log_synced = inner.body_log.sync_now();
    let replies = logged::commit_queued(store, commits, &log_synced);
    let events = inner.unflushed_events.finished();
    let flushed = log_synced.and_then(|()| Ok(inner.db.flush().map(drop)?));
    if flushed.is_ok() {
        // Before the replies: a writer told its commit is durable may hand its events to
        // the dispatcher at once, and must find them durable.
        inner.unflushed_events.flushed(&events);
    }
    logged::reply(replies, &flushed);
    for waiter in flushes {
        let outcome = flushed.as_ref().map_err(logged::round_failed).copied();
        let _ = waiter.send(outcome); // the writer may be gone (client disconnected)
    }
}

/// What a writer hears when the round meant to answer it went away without a word.
pub(super) fn lost_in_round() -> StorageError {
    StorageError::Corrupt("a durability round lost a queued write".into())
}

impl Store {
    /// Makes every change this caller finished so far durable, when the store runs with
    /// `Durability::Sync`: waits for the next round, which starts after this call.
    pub async fn make_durable(&self) -> StorageResult<()> {
        if self.inner.options.durability != Durability::Sync {
            return Ok(());
        }
        let (waiter, flushed) = oneshot::channel();
        self.inner.rounds.0.push(|queue| queue.flushes.push(waiter));
        flushed.await.unwrap_or_else(|_| Err(lost_in_round()))
    }

    /// Queues a logged body's commit for the next round.
    pub(super) fn queue_for_round(&self, commit: QueuedCommit) {
        self.inner.rounds.0.push(|queue| queue.commits.push(commit));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StoreOptions;
    use std::time::{Duration, Instant};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_are_answered_and_the_thread_ends_with_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        assert_eq!(store.durability(), Durability::Sync);
        let shared = Arc::downgrade(&store.inner.rounds.0);
        let writers: Vec<_> = (0..64)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.make_durable().await })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap().unwrap();
        }
        drop(store);
        // The thread holds the queue until it sees the store is gone.
        let deadline = Instant::now() + Duration::from_secs(10);
        while shared.upgrade().is_some() {
            assert!(
                Instant::now() < deadline,
                "the rounds thread outlived its store"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
