//! The event outbox: records written in the same transaction as the object change they
//! describe (so an acknowledged change always has its event, even across kill -9), read by
//! the dispatcher, removed once delivered or moved to the dead letters.

use std::collections::HashMap;
use std::sync::Mutex;

use sled::transaction::TransactionError;
use sled::Transactional;

use super::buckets_record_update;
use super::records::BucketRecord;
use super::{StorageError, StorageResult, Store};

/// One event to record with a commit: its sequence number (from [`Store::next_sequence`]) and
/// the encoded record (opaque here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub seq: u64,
    pub value: Vec<u8>,
}

fn seq_of(key: &[u8]) -> StorageResult<u64> {
    key.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StorageError::Corrupt("outbox key".into()))
}

fn entries(
    iter: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
    limit: usize,
) -> StorageResult<Vec<OutboxEntry>> {
    iter.take(limit)
        .map(|item| {
            let (k, v) = item?;
            Ok(OutboxEntry {
                seq: seq_of(&k)?,
                value: v.to_vec(),
            })
        })
        .collect()
}

/// Events of object changes that a crash could still undo (durability=sync, committed but
/// not flushed yet). The dispatcher leaves them alone, so no handler hears of a change that
/// kill -9 could take back. Each seq maps to whether its transaction has finished; a flush
/// covers only the finished ones.
#[derive(Default)]
pub(super) struct UnflushedEvents(Mutex<HashMap<u64, bool>>);

impl UnflushedEvents {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, bool>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The transactions that finished so far, which the flush about to start will cover.
    pub(super) fn finished(&self) -> Vec<u64> {
        self.lock()
            .iter()
            .filter(|(_, finished)| **finished)
            .map(|(seq, _)| *seq)
            .collect()
    }

    pub(super) fn flushed(&self, seqs: &[u64]) {
        let mut held = self.lock();
        for seq in seqs {
            held.remove(seq);
        }
    }
}

impl Store {
    /// Runs `commit`, a transaction that writes `events` to the outbox, holding the events
    /// back from the dispatcher until a flush that starts after it covers them. (An aborted
    /// transaction's seqs are simply released by the next flush.)
    pub(super) fn holding_events<T>(
        &self,
        events: &[OutboxEntry],
        commit: impl FnOnce() -> T,
    ) -> T {
        if self.durability() != super::Durability::Sync || events.is_empty() {
            return commit();
        }
        let held = &self.inner.unflushed_events;
        held.lock().extend(events.iter().map(|e| (e.seq, false)));
        let result = commit();
        held.lock().extend(events.iter().map(|e| (e.seq, true)));
        result
    }

    /// False while the change that recorded this event may still be lost to a crash.
    pub fn event_is_durable(&self, seq: u64) -> bool {
        !self.inner.unflushed_events.lock().contains_key(&seq)
    }

    /// A new, ever-increasing sequence number (event order and S3's `sequencer`).
    pub fn next_sequence(&self) -> StorageResult<u64> {
        Ok(self.inner.db.generate_id()?)
    }

    /// Up to `limit` undelivered events with sequence numbers above `after`, oldest first.
    pub fn outbox_after(
        &self,
        after: Option<u64>,
        limit: usize,
    ) -> StorageResult<Vec<OutboxEntry>> {
        let start = after.map_or(0, |a| a.saturating_add(1));
        entries(self.inner.outbox.range(start.to_be_bytes()..), limit)
    }

    /// Up to `limit` sequence numbers of undelivered events from `from` on, oldest first
    /// (the dispatcher's full pass: no record is copied).
    pub fn outbox_seqs(&self, from: u64, limit: usize) -> StorageResult<Vec<u64>> {
        self.inner
            .outbox
            .range(from.to_be_bytes()..)
            .keys()
            .take(limit)
            .map(|key| seq_of(&key?))
            .collect()
    }

    /// One undelivered event's record; None once it is delivered or dead.
    pub fn outbox_get(&self, seq: u64) -> StorageResult<Option<Vec<u8>>> {
        Ok(self
            .inner
            .outbox
            .get(seq.to_be_bytes())?
            .map(|v| v.to_vec()))
    }

    pub fn outbox_is_empty(&self) -> bool {
        self.inner.outbox.is_empty()
    }

    /// Replaces an outbox record (its delivery bookkeeping changed).
    pub fn outbox_update(&self, entry: &OutboxEntry) -> StorageResult<()> {
        self.inner
            .outbox
            .insert(entry.seq.to_be_bytes(), entry.value.as_slice())?;
        Ok(())
    }

    /// Delivered: forget it.
    pub fn outbox_remove(&self, seq: u64) -> StorageResult<()> {
        self.inner.outbox.remove(seq.to_be_bytes())?;
        Ok(())
    }

    /// Gave up: move from the outbox to the dead letters, in one transaction.
    pub fn outbox_to_dead_letters(&self, entry: &OutboxEntry) -> StorageResult<()> {
        let key = entry.seq.to_be_bytes();
        (&self.inner.outbox, &self.inner.dead_letters)
            .transaction(|(outbox, dead)| {
                outbox.remove(&key)?;
                dead.insert(&key, entry.value.as_slice())?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(tx_error)
    }

    pub fn dead_letters(&self, limit: usize) -> StorageResult<Vec<OutboxEntry>> {
        entries(self.inner.dead_letters.iter(), limit)
    }

    /// Puts a dead letter back in the outbox (re-drive); false when there is no such letter.
    pub fn redrive(&self, seq: u64, value: &[u8]) -> StorageResult<bool> {
        let key = seq.to_be_bytes();
        (&self.inner.outbox, &self.inner.dead_letters)
            .transaction(|(outbox, dead)| {
                if dead.remove(&key)?.is_none() {
                    return Ok(false);
                }
                outbox.insert(&key, value)?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(true)
            })
            .map_err(tx_error)
    }

    /// Adds events outside an object change (replay, backfill).
    pub fn outbox_insert(&self, entries: &[OutboxEntry]) -> StorageResult<()> {
        for e in entries {
            self.inner
                .outbox
                .insert(e.seq.to_be_bytes(), e.value.as_slice())?;
        }
        Ok(())
    }

    /// Sets (or clears) a bucket's notification configuration; false when there is no bucket.
    pub fn set_bucket_notification(
        &self,
        bucket: &str,
        config: Option<String>,
    ) -> StorageResult<bool> {
        buckets_record_update(self, bucket, |rec: &mut BucketRecord| {
            rec.notification = config.clone()
        })
    }
}

fn tx_error(e: TransactionError<()>) -> StorageError {
    match e {
        TransactionError::Storage(e) => StorageError::Sled(e),
        TransactionError::Abort(()) => StorageError::Corrupt("never aborts".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::records::{BodyRef, ObjectRecord};
    use crate::storage::{CommitCondition, NewBody, StoreOptions};

    #[test]
    fn events_wait_for_the_flush_that_makes_their_change_durable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let bucket = BucketRecord {
            created_ms: 0,
            region: "us-east-1".into(),
            notification: None,
        };
        assert!(store.create_bucket("b", &bucket).unwrap());
        let record = ObjectRecord {
            size: 1,
            etag: "e".into(),
            last_modified_ms: 0,
            content_headers: vec![],
            user_metadata: vec![],
            checksum: None,
            body: BodyRef::Inline(b"x".to_vec()),
        };
        let event = OutboxEntry {
            seq: store.next_sequence().unwrap(),
            value: b"event".to_vec(),
        };
        let commit = CommitCondition::None;
        store
            .commit_object(
                "b",
                "k",
                &record,
                NewBody::Inline,
                &commit,
                std::slice::from_ref(&event),
            )
            .unwrap();
        assert_eq!(store.outbox_after(None, 10).unwrap(), vec![event.clone()]);
        assert!(!store.event_is_durable(event.seq), "committed, not flushed");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(store.make_durable()).unwrap();
        assert!(store.event_is_durable(event.seq));
    }
}
