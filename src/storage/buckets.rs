//! Bucket records: create, look up, list, delete (only when empty).

use super::keys::bucket_prefix;
use super::records::{decode, encode, BucketRecord};
use super::{StorageResult, Store};

#[derive(Debug, PartialEq, Eq)]
pub enum DeleteBucketOutcome {
    Deleted,
    NoSuchBucket,
    NotEmpty,
}

impl Store {
    /// Creates the bucket; false when it already exists.
    pub fn create_bucket(&self, name: &str, record: &BucketRecord) -> StorageResult<bool> {
        let value = encode(record)?;
        let created = self
            .inner
            .buckets
            .compare_and_swap(name.as_bytes(), None as Option<&[u8]>, Some(value))?
            .is_ok();
        Ok(created)
    }

    pub fn bucket(&self, name: &str) -> StorageResult<Option<BucketRecord>> {
        self.inner
            .buckets
            .get(name.as_bytes())?
            .map(|v| decode(&v))
            .transpose()
    }

    /// All buckets in name order.
    pub fn buckets(&self) -> StorageResult<Vec<(String, BucketRecord)>> {
        self.inner
            .buckets
            .iter()
            .map(|entry| {
                let (k, v) = entry?;
                Ok((String::from_utf8_lossy(&k).into_owned(), decode(&v)?))
            })
            .collect()
    }

    pub fn delete_bucket(&self, name: &str) -> StorageResult<DeleteBucketOutcome> {
        // Exclusive: no object commit can slip in between the emptiness check and the removal.
        let _exclusive = self
            .inner
            .bucket_lock
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if self.inner.buckets.get(name.as_bytes())?.is_none() {
            return Ok(DeleteBucketOutcome::NoSuchBucket);
        }
        if self
            .inner
            .objects
            .scan_prefix(bucket_prefix(name))
            .next()
            .is_some()
        {
            return Ok(DeleteBucketOutcome::NotEmpty);
        }
        // S3 lets a bucket go with uploads still in progress; their parts are reclaimed.
        self.abort_bucket_uploads(name)?;
        self.inner.buckets.remove(name.as_bytes())?;
        Ok(DeleteBucketOutcome::Deleted)
    }
}

/// Rewrites a bucket record in place (compare-and-swap until it sticks); false when absent.
pub(super) fn buckets_record_update(
    store: &Store,
    name: &str,
    change: impl Fn(&mut BucketRecord),
) -> StorageResult<bool> {
    loop {
        let Some(current) = store.inner.buckets.get(name.as_bytes())? else {
            return Ok(false);
        };
        let mut record: BucketRecord = decode(&current)?;
        change(&mut record);
        let swapped = store.inner.buckets.compare_and_swap(
            name.as_bytes(),
            Some(current),
            Some(encode(&record)?),
        )?;
        if swapped.is_ok() {
            return Ok(true);
        }
    }
}
