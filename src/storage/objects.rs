//! Object records: the commit transaction that makes a body live (and sends whatever it
//! replaced to gc), lookups and deletes.

use sled::transaction::{abort, ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::blobs::BlobWriter;
use super::keys::{blob_key, object_key};
use super::outbox::OutboxEntry;
use super::records::{decode, encode, BodyRef, ObjectRecord};
use super::{now_ms, StorageResult, Store};

/// The body of an object about to be committed.
pub enum NewBody {
    Inline,
    Blob(BlobWriter),
}

/// A write condition checked inside the commit transaction, so it is atomic with the write.
#[derive(Debug, Clone, Default)]
pub enum CommitCondition {
    #[default]
    None,
    /// `If-None-Match: *`: only when no object exists.
    Absent,
    /// `If-Match: etag`: only when the current object has this ETag.
    EtagMatches(String),
}

impl CommitCondition {
    /// Whether the condition holds for the stored record `current` (encoded), if any.
    fn holds(&self, current: Option<&[u8]>) -> bool {
        match (self, current) {
            (CommitCondition::None, _) => true,
            (CommitCondition::Absent, current) => current.is_none(),
            (CommitCondition::EtagMatches(_), None) => false,
            (CommitCondition::EtagMatches(etag), Some(bytes)) => decode::<ObjectRecord>(bytes)
                .map(|old| old.etag == *etag)
                .unwrap_or(false),
        }
    }
}

/// Why a commit did not happen (not a storage failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectCommit {
    /// Committed; carries the record that was replaced, if any.
    Done(Option<Box<ObjectRecord>>),
    NoSuchBucket,
    PreconditionFailed,
}

#[derive(Debug)]
enum Rejection {
    NoSuchBucket,
    PreconditionFailed,
}

impl Store {
    pub fn object(&self, bucket: &str, key: &str) -> StorageResult<Option<ObjectRecord>> {
        self.inner
            .objects
            .get(object_key(bucket, key))?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Makes `record` the object at `bucket/key`: the bucket must exist, the condition must
    /// hold, the blob leaves `pending`, the replaced body goes to `gc`. A compare-and-swap
    /// when [`Store::commit_object_now`] can do it, a transaction otherwise.
    pub fn commit_object(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        body: NewBody,
        condition: &CommitCondition,
        events: &[OutboxEntry],
    ) -> StorageResult<ObjectCommit> {
        match self.commit_object_now(bucket, key, record, &body, condition, events)? {
            Some(outcome) => Ok(outcome),
            None => self.commit_object_in_transaction(bucket, key, record, body, condition, events),
        }
    }

    /// [`Store::commit_object`]'s transaction (blocking IO: the blob's fsync, sled's), for
    /// callers that already tried [`Store::commit_object_now`].
    pub fn commit_object_in_transaction(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        mut body: NewBody,
        condition: &CommitCondition,
        events: &[OutboxEntry],
    ) -> StorageResult<ObjectCommit> {
        let okey = object_key(bucket, key);
        let value = encode(record)?;
        if let NewBody::Blob(writer) = &mut body {
            writer.finish()?;
        }
        let pending_key = match &body {
            NewBody::Blob(writer) => Some(blob_key(writer.blob_id())),
            NewBody::Inline => None,
        };
        let stamp = now_ms().to_be_bytes();
        let _shared = self.commit_lock();
        let inner = &self.inner;
        let result = self.holding_events(events, || {
            (
                &inner.buckets,
                &inner.objects,
                &inner.pending,
                &inner.gc,
                &inner.outbox,
            )
                .transaction(|(buckets, objects, pending, gc, outbox)| {
                    if buckets.get(bucket.as_bytes())?.is_none() {
                        return abort(Rejection::NoSuchBucket);
                    }
                    if !condition.holds(objects.get(&okey)?.as_deref()) {
                        return abort(Rejection::PreconditionFailed);
                    }
                    let old = objects.insert(okey.as_slice(), value.as_slice())?;
                    if let Some(pk) = &pending_key {
                        pending.remove(pk)?;
                    }
                    for event in events {
                        outbox.insert(&event.seq.to_be_bytes(), event.value.as_slice())?;
                    }
                    let old = match old {
                        Some(bytes) => Some(decode::<ObjectRecord>(&bytes).map_err(abort_storage)?),
                        None => None,
                    };
                    if let Some(old) = &old {
                        for id in old.body.blob_ids() {
                            gc.insert(&blob_key(id), &stamp)?;
                        }
                    }
                    Ok(old)
                })
        });
        let outcome = self.settle(result)?;
        if let ObjectCommit::Done(old) = &outcome {
            self.bodies_replaced(Some(&record.body), old.as_ref().map(|o| &o.body));
            if let NewBody::Blob(writer) = &mut body {
                writer.mark_committed();
            }
        }
        Ok(outcome)
    }

    /// Removes the object; its body goes to gc. `Done(None)` when there was nothing to delete.
    /// `events` are recorded only when an object was actually removed.
    pub fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        events: &[OutboxEntry],
    ) -> StorageResult<ObjectCommit> {
        match self.delete_object_now(bucket, key, events)? {
            Some(outcome) => Ok(outcome),
            None => self.delete_object_in_transaction(bucket, key, events),
        }
    }

    /// [`Store::delete_object`]'s transaction, for callers that already tried
    /// [`Store::delete_object_now`].
    pub fn delete_object_in_transaction(
        &self,
        bucket: &str,
        key: &str,
        events: &[OutboxEntry],
    ) -> StorageResult<ObjectCommit> {
        let okey = object_key(bucket, key);
        let stamp = now_ms().to_be_bytes();
        let _shared = self.commit_lock();
        let inner = &self.inner;
        let result = self.holding_events(events, || {
            (&inner.buckets, &inner.objects, &inner.gc, &inner.outbox).transaction(
                |(buckets, objects, gc, outbox)| {
                    if buckets.get(bucket.as_bytes())?.is_none() {
                        return abort(Rejection::NoSuchBucket);
                    }
                    let Some(bytes) = objects.remove(okey.as_slice())? else {
                        return Ok(None);
                    };
                    let old = decode::<ObjectRecord>(&bytes).map_err(abort_storage)?;
                    for id in old.body.blob_ids() {
                        gc.insert(&blob_key(id), &stamp)?;
                    }
                    for event in events {
                        outbox.insert(&event.seq.to_be_bytes(), event.value.as_slice())?;
                    }
                    Ok(Some(old))
                },
            )
        });
        let outcome = self.settle(result)?;
        if let ObjectCommit::Done(Some(old)) = &outcome {
            self.bodies_replaced(None, Some(&old.body));
        }
        Ok(outcome)
    }

    /// [`Store::commit_object`] when it can be done at once, in microseconds and without
    /// IO: an inline or logged body recorded with no event, replacing no blob (see
    /// `swap_record`).
    /// Callers on an async worker try this first and take `commit_object_in_transaction` to
    /// a blocking thread only when it answers `None`, sparing most small PUTs two thread
    /// hand-offs.
    pub fn commit_object_now(
        &self,
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        body: &NewBody,
        condition: &CommitCondition,
        events: &[OutboxEntry],
    ) -> StorageResult<Option<ObjectCommit>> {
        if matches!(body, NewBody::Blob(_)) || !events.is_empty() {
            return Ok(None);
        }
        let value = encode(record)?;
        let new = Some((value.as_slice(), &record.body));
        self.swap_record(bucket, &object_key(bucket, key), new, condition)
    }

    /// [`Store::delete_object`] when it can be done at once (no event, no blob); see
    /// [`Store::commit_object_now`].
    pub fn delete_object_now(
        &self,
        bucket: &str,
        key: &str,
        events: &[OutboxEntry],
    ) -> StorageResult<Option<ObjectCommit>> {
        if !events.is_empty() {
            return Ok(None);
        }
        self.swap_record(
            bucket,
            &object_key(bucket, key),
            None,
            &CommitCondition::None,
        )
    }

    /// The commit without a transaction, for the common change that touches one key: an
    /// inline or logged body (`new`: the encoded record and its body; None for a delete)
    /// that records no event and replaces nothing held in a blob. A compare-and-swap on the object's key is atomic on its own, and sled
    /// transactions are costly (each rolls sled's IO buffer: a log write, and a wake-up of
    /// its whole IO pool). `None` when the change needs the transaction after all. The bucket
    /// lock, held shared, keeps DeleteBucket from slipping between the check and the swap.
    fn swap_record(
        &self,
        bucket: &str,
        okey: &[u8],
        new: Option<(&[u8], &BodyRef)>,
        condition: &CommitCondition,
    ) -> StorageResult<Option<ObjectCommit>> {
        let _shared = self.commit_lock();
        if !self.bucket_exists_for_commit(bucket)? {
            return Ok(Some(ObjectCommit::NoSuchBucket));
        }
        // A PUT whose condition holds on a missing key bets the key is new: the swap from
        // nothing is then its only tree walk (a lookup first made two), and a lost bet hands
        // back what is there.
        let mut current = match (new, condition) {
            (Some(_), CommitCondition::None | CommitCondition::Absent) => None,
            _ => self.inner.objects.get(okey)?,
        };
        loop {
            if !condition.holds(current.as_deref()) {
                return Ok(Some(ObjectCommit::PreconditionFailed));
            }
            let old = match &current {
                Some(bytes) => Some(decode::<ObjectRecord>(bytes)?),
                None => None,
            };
            if old.as_ref().is_some_and(|o| !o.body.blob_ids().is_empty()) {
                return Ok(None); // its blob must go to gc in the same commit
            }
            if new.is_none() && old.is_none() {
                return Ok(Some(ObjectCommit::Done(None)));
            }
            let value = new.map(|(value, _)| value);
            match self
                .inner
                .objects
                .compare_and_swap(okey, current.as_deref(), value)?
            {
                Ok(()) => {
                    self.bodies_replaced(new.map(|(_, body)| body), old.as_ref().map(|o| &o.body));
                    return Ok(Some(ObjectCommit::Done(old.map(Box::new))));
                }
                // The bet lost, or another writer got there first: judge what is there now.
                Err(lost) => current = lost.current,
            }
        }
    }

    /// Turns a commit transaction's result into its outcome; wakes gc when a body died.
    fn settle(
        &self,
        result: Result<Option<ObjectRecord>, TransactionError<Rejection>>,
    ) -> StorageResult<ObjectCommit> {
        match result {
            Ok(old) => {
                if old.is_some() {
                    self.wake_gc();
                }
                Ok(ObjectCommit::Done(old.map(Box::new)))
            }
            Err(TransactionError::Abort(Rejection::NoSuchBucket)) => Ok(ObjectCommit::NoSuchBucket),
            Err(TransactionError::Abort(Rejection::PreconditionFailed)) => {
                Ok(ObjectCommit::PreconditionFailed)
            }
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }
}

/// A record that fails to decode inside a transaction is corruption, reported as storage error.
fn abort_storage(e: super::StorageError) -> ConflictableTransactionError<Rejection> {
    ConflictableTransactionError::Storage(sled::Error::Unsupported(e.to_string()))
}
