//! Multipart uploads: upload records (with a per-bucket index for listing), part records, and
//! the transactions that add a part, complete an upload (the object references the parts'
//! blobs: no byte is copied) and abort one.

use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};

use sled::transaction::{abort, TransactionError};
use sled::Transactional;

use super::blobs::BlobWriter;
use super::keys::{after_prefix, blob_key, bucket_prefix, object_key};
use super::list::common_prefix;
use super::outbox::OutboxEntry;
use super::records::{decode, encode, CompletedUpload, ObjectRecord, PartRecord, UploadRecord};
use super::{now_ms, StorageError, StorageResult, Store};

/// Upload ids are 32 hex characters: an 8-byte creation stamp then 8 random bytes, so that
/// byte order of ids is creation order (S3 lists uploads of one key oldest first).
pub const UPLOAD_ID_LEN: usize = 32;

/// Creation time in ms, shifted left 16 bits to leave room for a counter: strictly
/// increasing within a process, so two uploads started in the same millisecond keep their
/// order (ids written before this scheme, plain ms, all sort earlier).
fn creation_stamp() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = (now_ms() as u64) << 16;
    let mut last = LAST.load(Ordering::SeqCst);
    loop {
        let next = now.max(last + 1);
        match LAST.compare_exchange(last, next, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return next,
            Err(current) => last = current,
        }
    }
}

/// Completed-upload records are kept this long for repeated CompleteMultipartUpload calls.
const COMPLETED_RETENTION_MS: i64 = 24 * 3600 * 1000;

fn new_upload_id() -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&creation_stamp().to_be_bytes());
    bytes[8..].copy_from_slice(&rand::random::<[u8; 8]>());
    hex::encode(bytes)
}

fn index_key(bucket: &str, key: &str, upload_id: &str) -> Vec<u8> {
    let mut k = object_key(bucket, key);
    k.push(0);
    k.extend_from_slice(upload_id.as_bytes());
    k
}

fn part_key(upload_id: &str, part_number: u16) -> Vec<u8> {
    let mut k = upload_id.as_bytes().to_vec();
    k.extend_from_slice(&part_number.to_be_bytes());
    k
}

#[derive(Debug, PartialEq, Eq)]
pub enum UploadOutcome<T> {
    Done(T),
    NoSuchBucket,
    NoSuchUpload,
    /// A listed part changed between validation and commit (a concurrent UploadPart).
    PartChanged,
}

impl<T> UploadOutcome<T> {
    fn map_done<U>(self, f: impl FnOnce(T) -> U) -> UploadOutcome<U> {
        match self {
            UploadOutcome::Done(v) => UploadOutcome::Done(f(v)),
            UploadOutcome::NoSuchBucket => UploadOutcome::NoSuchBucket,
            UploadOutcome::NoSuchUpload => UploadOutcome::NoSuchUpload,
            UploadOutcome::PartChanged => UploadOutcome::PartChanged,
        }
    }
}

/// One entry of a ListMultipartUploads page.
#[derive(Debug, Clone)]
pub enum UploadListEntry {
    Upload {
        upload_id: String,
        record: UploadRecord,
    },
    CommonPrefix(String),
}

#[derive(Debug, Clone, Default)]
pub struct UploadPage {
    pub entries: Vec<UploadListEntry>,
    pub is_truncated: bool,
}

#[derive(Debug, Clone, Default)]
pub struct UploadListQuery<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    pub key_marker: Option<&'a str>,
    pub upload_id_marker: Option<&'a str>,
    pub max_uploads: usize,
}

#[derive(Debug)]
enum Rejection {
    NoSuchBucket,
    NoSuchUpload,
    PartChanged,
}

fn settle<T>(result: Result<T, TransactionError<Rejection>>) -> StorageResult<UploadOutcome<T>> {
    match result {
        Ok(v) => Ok(UploadOutcome::Done(v)),
        Err(TransactionError::Abort(Rejection::NoSuchBucket)) => Ok(UploadOutcome::NoSuchBucket),
        Err(TransactionError::Abort(Rejection::NoSuchUpload)) => Ok(UploadOutcome::NoSuchUpload),
        Err(TransactionError::Abort(Rejection::PartChanged)) => Ok(UploadOutcome::PartChanged),
        Err(TransactionError::Storage(e)) => Err(e.into()),
    }
}

impl Store {
    /// Starts an upload; returns its id.
    pub fn create_upload(&self, record: &UploadRecord) -> StorageResult<UploadOutcome<String>> {
        let upload_id = new_upload_id();
        let value = encode(record)?;
        let index = index_key(&record.bucket, &record.key, &upload_id);
        let _shared = self.commit_lock();
        let inner = &self.inner;
        let result = (&inner.buckets, &inner.uploads, &inner.upload_index).transaction(
            |(buckets, uploads, idx)| {
                if buckets.get(record.bucket.as_bytes())?.is_none() {
                    return abort(Rejection::NoSuchBucket);
                }
                uploads.insert(upload_id.as_bytes(), value.as_slice())?;
                idx.insert(index.as_slice(), &[])?;
                Ok(())
            },
        );
        Ok(settle(result)?.map_done(|()| upload_id))
    }

    pub fn upload(&self, upload_id: &str) -> StorageResult<Option<UploadRecord>> {
        self.inner
            .uploads
            .get(upload_id.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Makes `writer`'s blob part `part_number` of the upload, replacing an earlier one.
    pub fn commit_part(
        &self,
        upload_id: &str,
        part_number: u16,
        record: &PartRecord,
        mut writer: BlobWriter,
    ) -> StorageResult<UploadOutcome<()>> {
        writer.finish()?;
        let pkey = part_key(upload_id, part_number);
        let value = encode(record)?;
        let pending_key = blob_key(writer.blob_id());
        let stamp = now_ms().to_be_bytes();
        let inner = &self.inner;
        let result = (&inner.uploads, &inner.parts, &inner.pending, &inner.gc).transaction(
            |(uploads, parts, pending, gc)| {
                if uploads.get(upload_id.as_bytes())?.is_none() {
                    return abort(Rejection::NoSuchUpload);
                }
                if let Some(old) = parts.insert(pkey.as_slice(), value.as_slice())? {
                    let old: PartRecord = decode(&old).map_err(abort_storage)?;
                    gc.insert(&blob_key(old.blob.blob_id), &stamp)?;
                }
                pending.remove(&pending_key)?;
                Ok(())
            },
        );
        let outcome = settle(result)?;
        if outcome == UploadOutcome::Done(()) {
            writer.mark_committed();
        }
        Ok(outcome)
    }

    /// Parts with numbers above `after`, at most `max` of them; true when more follow.
    pub fn parts(
        &self,
        upload_id: &str,
        after: u16,
        max: usize,
    ) -> StorageResult<(Vec<(u16, PartRecord)>, bool)> {
        let start = part_key(upload_id, after.saturating_add(1));
        let mut out = Vec::new();
        if after == u16::MAX {
            return Ok((out, false));
        }
        for item in self.inner.parts.range(start..) {
            let (k, v) = item?;
            let Some(number) = k.strip_prefix(upload_id.as_bytes()) else {
                break;
            };
            let number = u16::from_be_bytes(
                number
                    .try_into()
                    .map_err(|_| StorageError::Corrupt("part key".into()))?,
            );
            if out.len() == max {
                return Ok((out, true));
            }
            out.push((number, decode(&v)?));
        }
        Ok((out, false))
    }

    /// Completes an upload: `record` (whose body lists the chosen parts' blobs) becomes the
    /// object; every part record and the upload go away; parts not chosen and the replaced
    /// object's body go to gc. `chosen` and `all_parts` are (number, blob id) as validated.
    pub fn complete_upload(
        &self,
        upload_id: &str,
        chosen: &[(u16, u64)],
        all_parts: &[(u16, u64)],
        record: &ObjectRecord,
        completed: &CompletedUpload,
        events: &[OutboxEntry],
    ) -> StorageResult<UploadOutcome<()>> {
        let okey = object_key(&completed.bucket, &completed.key);
        let index = index_key(&completed.bucket, &completed.key, upload_id);
        let value = encode(record)?;
        let done = encode(completed)?;
        let stamp = now_ms().to_be_bytes();
        let _shared = self.commit_lock();
        let inner = &self.inner;
        let trees = (
            &inner.buckets,
            &inner.objects,
            &inner.uploads,
            &inner.upload_index,
            &inner.parts,
            &inner.gc,
            &inner.completed,
            &inner.outbox,
        );
        let result = self.holding_events(events, || {
            trees.transaction(
                |(buckets, objects, uploads, idx, parts, gc, completed_tree, outbox)| {
                    if uploads.remove(upload_id.as_bytes())?.is_none() {
                        return abort(Rejection::NoSuchUpload);
                    }
                    if buckets.get(completed.bucket.as_bytes())?.is_none() {
                        return abort(Rejection::NoSuchBucket);
                    }
                    for (number, blob_id) in all_parts {
                        let Some(current) = parts.remove(part_key(upload_id, *number))? else {
                            return abort(Rejection::PartChanged);
                        };
                        let current: PartRecord = decode(&current).map_err(abort_storage)?;
                        if current.blob.blob_id != *blob_id {
                            return abort(Rejection::PartChanged);
                        }
                        if !chosen.iter().any(|(n, _)| n == number) {
                            gc.insert(&blob_key(*blob_id), &stamp)?;
                        }
                    }
                    idx.remove(index.as_slice())?;
                    let mut replaced = None;
                    if let Some(old) = objects.insert(okey.as_slice(), value.as_slice())? {
                        let old: ObjectRecord = decode(&old).map_err(abort_storage)?;
                        for id in old.body.blob_ids() {
                            gc.insert(&blob_key(id), &stamp)?;
                        }
                        replaced = Some(old.body);
                    }
                    completed_tree.insert(upload_id.as_bytes(), done.as_slice())?;
                    for event in events {
                        outbox.insert(&event.seq.to_be_bytes(), event.value.as_slice())?;
                    }
                    Ok(replaced)
                },
            )
        });
        let outcome = settle(result)?.map_done(|replaced| {
            self.bodies_replaced(None, replaced.as_ref());
        });
        if outcome == UploadOutcome::Done(()) {
            // A part uploaded while we completed is not listed in `all_parts`: reclaim it too.
            self.drop_leftover_parts(upload_id)?;
            self.wake_gc();
        }
        Ok(outcome)
    }

    /// What a completed upload became, for a repeated CompleteMultipartUpload.
    pub fn completed_upload(&self, upload_id: &str) -> StorageResult<Option<CompletedUpload>> {
        self.inner
            .completed
            .get(upload_id.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Aborts an upload: its parts go to gc.
    pub fn abort_upload(&self, upload_id: &str) -> StorageResult<UploadOutcome<()>> {
        let Some(upload) = self.upload(upload_id)? else {
            return Ok(UploadOutcome::NoSuchUpload);
        };
        let index = index_key(&upload.bucket, &upload.key, upload_id);
        let inner = &self.inner;
        let result = (&inner.uploads, &inner.upload_index).transaction(|(uploads, idx)| {
            if uploads.remove(upload_id.as_bytes())?.is_none() {
                return abort(Rejection::NoSuchUpload);
            }
            idx.remove(index.as_slice())?;
            Ok(())
        });
        let outcome = settle(result)?;
        if outcome == UploadOutcome::Done(()) {
            self.drop_leftover_parts(upload_id)?;
        }
        Ok(outcome)
    }

    /// Moves every part record of a finished or aborted upload to gc.
    fn drop_leftover_parts(&self, upload_id: &str) -> StorageResult<()> {
        let stamp = now_ms().to_be_bytes();
        for item in self.inner.parts.scan_prefix(upload_id.as_bytes()) {
            let (k, v) = item?;
            let part: PartRecord = decode(&v)?;
            let inner = &self.inner;
            (&inner.parts, &inner.gc)
                .transaction(|(parts, gc)| {
                    parts.remove(&k)?;
                    gc.insert(&blob_key(part.blob.blob_id), &stamp)?;
                    Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
                })
                .map_err(|e| match e {
                    TransactionError::Storage(e) => StorageError::Sled(e),
                    TransactionError::Abort(()) => StorageError::Corrupt("never aborts".into()),
                })?;
        }
        self.wake_gc();
        Ok(())
    }

    /// Aborts every upload of a bucket (DeleteBucket).
    pub(crate) fn abort_bucket_uploads(&self, bucket: &str) -> StorageResult<()> {
        let ids: Vec<String> = self
            .inner
            .upload_index
            .scan_prefix(bucket_prefix(bucket))
            .keys()
            .filter_map(|k| k.ok())
            .filter_map(|k| {
                k.get(k.len().saturating_sub(UPLOAD_ID_LEN)..)
                    .map(|id| String::from_utf8_lossy(id).into_owned())
            })
            .collect();
        for id in ids {
            self.abort_upload(&id)?;
        }
        Ok(())
    }

    /// One page of in-progress uploads, by key then creation time, with CommonPrefixes.
    pub fn list_uploads(&self, q: &UploadListQuery<'_>) -> StorageResult<UploadPage> {
        let mut page = UploadPage::default();
        if q.max_uploads == 0 {
            return Ok(page);
        }
        let bucket_start = bucket_prefix(q.bucket);
        let prefix_start = object_key(q.bucket, q.prefix);
        let mut seek = match (q.key_marker, q.upload_id_marker) {
            (Some(key), Some(id)) => Bound::Excluded(index_key(q.bucket, key, id)),
            (Some(key), None) => Bound::Included(after_prefix(q.bucket, key)),
            _ => Bound::Included(prefix_start.clone()),
        };
        if matches!(&seek, Bound::Included(s) | Bound::Excluded(s) if *s < prefix_start) {
            seek = Bound::Included(prefix_start);
        }
        'scan: loop {
            for item in self
                .inner
                .upload_index
                .range((seek.clone(), Bound::Unbounded))
            {
                let (raw, _) = item?;
                let Some(rest) = raw.strip_prefix(bucket_start.as_slice()) else {
                    break 'scan;
                };
                if rest.len() < UPLOAD_ID_LEN + 1 {
                    return Err(StorageError::Corrupt("upload index key".into()));
                }
                let (key_bytes, id_bytes) = rest.split_at(rest.len() - UPLOAD_ID_LEN);
                let key = std::str::from_utf8(&key_bytes[..key_bytes.len() - 1])
                    .map_err(|_| StorageError::Corrupt("upload key is not UTF-8".into()))?;
                if !key.starts_with(q.prefix) {
                    break 'scan;
                }
                if let Some(common) = common_prefix(key, q.prefix, q.delimiter) {
                    if q.key_marker.is_none_or(|m| common > m) {
                        if page.entries.len() == q.max_uploads {
                            page.is_truncated = true;
                            break 'scan;
                        }
                        page.entries
                            .push(UploadListEntry::CommonPrefix(common.to_owned()));
                    }
                    seek = Bound::Included(after_prefix(q.bucket, common));
                    continue 'scan;
                }
                if page.entries.len() == q.max_uploads {
                    page.is_truncated = true;
                    break 'scan;
                }
                let upload_id = String::from_utf8_lossy(id_bytes).into_owned();
                let Some(record) = self.upload(&upload_id)? else {
                    continue;
                };
                page.entries
                    .push(UploadListEntry::Upload { upload_id, record });
            }
            break;
        }
        Ok(page)
    }

    /// Forgets completed-upload records older than a day (called by gc).
    pub(crate) fn prune_completed(&self) -> StorageResult<()> {
        let cutoff = now_ms() - COMPLETED_RETENTION_MS;
        for item in self.inner.completed.iter() {
            let (k, v) = item?;
            let done: CompletedUpload = decode(&v)?;
            if done.completed_ms < cutoff {
                self.inner.completed.remove(k)?;
            }
        }
        Ok(())
    }
}

fn abort_storage(e: StorageError) -> sled::transaction::ConflictableTransactionError<Rejection> {
    sled::transaction::ConflictableTransactionError::Storage(sled::Error::Unsupported(
        e.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_ids_sort_in_creation_order_even_within_a_millisecond() {
        let ids: Vec<String> = (0..1000).map(|_| new_upload_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids.iter().all(|id| id.len() == UPLOAD_ID_LEN));
    }
}
