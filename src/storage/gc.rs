//! Start-up recovery and the garbage collector: blobs move `pending` → `gc` when their writer
//! dies, and `gc` entries have their chunk range deleted once no reader holds them. Each pass
//! also compacts and reclaims body-log segments (`logged`). Only the
//! small `pending`/`gc` trees are ever iterated.

use std::sync::{Arc, Weak};
use std::time::Duration;

use sled::Transactional;

use super::keys::{blob_id_of, blob_key};
use super::{now_ms, Inner, StorageResult, Store};

/// How often the collector looks even when nobody woke it (entries waiting for `gc_delay`).
const GC_TICK: Duration = Duration::from_secs(5);

impl Store {
    /// Every `pending` blob belonged to a request of a previous process: none can commit now.
    pub(crate) fn recover_pending(&self) -> StorageResult<()> {
        let ids: Vec<u64> = self
            .inner
            .pending
            .iter()
            .keys()
            .filter_map(|k| k.ok().and_then(|k| blob_id_of(&k)))
            .collect();
        for id in &ids {
            self.discard_pending(*id)?;
        }
        if !ids.is_empty() {
            tracing::info!(count = ids.len(), "moved interrupted uploads to gc");
        }
        Ok(())
    }

    /// Moves a blob that will never become live from `pending` to `gc`.
    pub(crate) fn discard_pending(&self, blob_id: u64) -> StorageResult<()> {
        let key = blob_key(blob_id);
        let stamp = now_ms().to_be_bytes();
        (&self.inner.pending, &self.inner.gc)
            .transaction(|(pending, gc)| {
                pending.remove(&key)?;
                gc.insert(&key, &stamp)?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Storage(e) => e,
                sled::transaction::TransactionError::Abort(()) => unreachable!("never aborts"),
            })?;
        self.wake_gc();
        Ok(())
    }

    pub(crate) fn wake_gc(&self) {
        self.inner.gc_wake.notify_one();
    }

    /// Deletes the file of every gc entry older than `min_age` that no reader holds.
    /// Returns how many blobs were reclaimed. Idempotent: a crash midway repeats the work.
    pub fn collect_garbage(&self, min_age: Duration) -> StorageResult<usize> {
        let cutoff = now_ms() - min_age.as_millis() as i64;
        let mut reclaimed = 0;
        for entry in self.inner.gc.iter() {
            let (key, stamp) = entry?;
            let enqueued = stamp
                .as_ref()
                .try_into()
                .map(i64::from_be_bytes)
                .unwrap_or(0);
            let Some(blob_id) = blob_id_of(&key) else {
                continue;
            };
            if enqueued > cutoff || self.is_being_read(blob_id) {
                continue;
            }
            self.inner.blobs.remove(blob_id)?;
            self.inner.gc.remove(&key)?;
            reclaimed += 1;
        }
        self.prune_completed()?;
        Ok(reclaimed)
    }

    /// Starts the background collector. It holds only a weak handle, so it ends when the
    /// store is dropped.
    pub fn spawn_gc(&self) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let wake = self.inner.gc_wake_handle();
        let delay = self.inner.options.gc_delay;
        tokio::spawn(async move {
            // Nothing reads yet at start-up, so the first pass needs no delay.
            let mut min_age = Duration::ZERO;
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let store = Store { inner };
                let result = super::blocking(move || {
                    let blobs = store.collect_garbage(min_age)?;
                    let moved = store.compact_log()?;
                    let segments = store.collect_log_segments(min_age)?;
                    Ok::<_, super::StorageError>((blobs, moved, segments))
                })
                .await;
                match result {
                    Ok((0, 0, 0)) => {}
                    Ok((blobs, moved, segments)) => {
                        tracing::debug!(blobs, moved, segments, "gc reclaimed space")
                    }
                    Err(e) => tracing::warn!(error = %e, "gc pass failed"),
                }
                min_age = delay;
                let _ = tokio::time::timeout(
                    GC_TICK.min(delay.max(Duration::from_millis(50))),
                    wake.notified(),
                )
                .await;
            }
        })
    }
}

impl Inner {
    fn gc_wake_handle(&self) -> Arc<tokio::sync::Notify> {
        self.gc_wake.clone()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Let the collector notice the store is gone instead of sleeping out its tick.
        self.gc_wake.notify_one();
    }
}

impl Store {
    /// Blobs being written and blobs awaiting deletion (tests, metrics).
    pub fn housekeeping_counts(&self) -> (usize, usize) {
        (
            self.inner.pending.iter().count(),
            self.inner.gc.iter().count(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Durability, StoreOptions};

    fn options() -> StoreOptions {
        StoreOptions {
            durability: Durability::Relaxed,
            gc_delay: Duration::ZERO,
            ..StoreOptions::default()
        }
    }

    #[test]
    fn interrupted_uploads_are_reclaimed_at_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let blob_id = {
            let store = Store::open(dir.path(), options()).unwrap();
            // What a process that died mid-PUT leaves: a pending entry and a partial file.
            let blob_id = store.inner.db.generate_id().unwrap();
            store
                .inner
                .pending
                .insert(blob_key(blob_id), &0i64.to_be_bytes())
                .unwrap();
            std::fs::write(store.inner.blobs.path(blob_id), vec![1u8; 1024]).unwrap();
            store.flush().unwrap();
            blob_id
        };
        let store = crate::storage::reopen(dir.path(), options());
        assert_eq!(
            store.housekeeping_counts(),
            (0, 1),
            "start-up moves pending blobs to gc"
        );
        assert!(store.blob_exists(blob_id).unwrap());
        assert_eq!(store.collect_garbage(Duration::ZERO).unwrap(), 1);
        assert!(!store.blob_exists(blob_id).unwrap());
        assert_eq!(store.housekeeping_counts(), (0, 0));
    }

    #[test]
    fn gc_leaves_blobs_that_are_being_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), options()).unwrap();
        let mut writer = crate::storage::BlobWriter::begin(&store).unwrap();
        writer.append(&[7u8; 100]).unwrap();
        let body = writer.body_ref();
        let guard = store.guard_reads(&body);
        drop(writer); // never committed: goes to gc
        assert_eq!(
            store.collect_garbage(Duration::ZERO).unwrap(),
            0,
            "a reader holds it"
        );
        drop(guard);
        assert_eq!(store.collect_garbage(Duration::ZERO).unwrap(), 1);
    }
}
