//! The store's side of the body log: reading its bodies, keeping its live counts in step
//! with every commit, and reclaiming its segments (deleting dead ones, compacting sparse
//! ones) from the gc task. Bodies get into it through durability rounds (`round`).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;

use super::body_log::BodyLog;
use super::frames::FrameBuilder;
use super::records::{decode, encode, BodyRef, LoggedRef, ObjectRecord};
use super::{StorageResult, Store};

/// Records moved per group sync during compaction.
const COMPACT_BATCH: usize = 256;

/// A compaction batch: the frame of moved bodies, and each record (its key, its value as
/// read, the record pointing into the frame, where its body was).
#[derive(Default)]
struct MovedBodies {
    frame: FrameBuilder,
    records: Vec<(sled::IVec, sled::IVec, ObjectRecord, LoggedRef)>,
}

/// Bytes each log segment's records reference, from every object record (start-up).
pub(crate) fn logged_bytes_per_segment(objects: &sled::Tree) -> StorageResult<HashMap<u64, i64>> {
    let mut live = HashMap::new();
    for item in objects.iter() {
        let (_, value) = item?;
        if let BodyRef::Logged(logged) = decode::<ObjectRecord>(&value)?.body {
            *live.entry(logged.segment).or_insert(0) += logged.len as i64;
        }
    }
    Ok(live)
}

impl Store {
    fn body_log(&self) -> &std::sync::Arc<BodyLog> {
        &self.inner.body_log
    }

    pub fn read_logged(&self, logged: &LoggedRef) -> StorageResult<Bytes> {
        self.body_log().read(logged)
    }

    /// Keeps the log's live counts in step after a commit made `new` live and removed `old`.
    pub(crate) fn bodies_replaced(&self, new: Option<&BodyRef>, old: Option<&BodyRef>) {
        if let Some(BodyRef::Logged(logged)) = new {
            self.body_log().adopt(logged);
        }
        if let Some(BodyRef::Logged(logged)) = old {
            self.body_log().release(logged);
        }
    }

    /// Deletes log segments dead for `min_age` that nobody reads; returns how many. Sled is
    /// flushed first, so the records that stopped referencing them are on disk before the
    /// bytes go.
    pub fn collect_log_segments(&self, min_age: Duration) -> StorageResult<usize> {
        let dead = self
            .body_log()
            .dead_segments(min_age, |id| self.is_being_read(id));
        if dead.is_empty() {
            return Ok(0);
        }
        self.inner.db.flush()?;
        let mut removed = 0;
        for id in dead {
            removed += usize::from(self.body_log().remove_segment(id)?);
        }
        Ok(removed)
    }

    /// Appends the live bodies of mostly-dead segments again (a frame with no commits) and
    /// points their records at the copies, so the segments die. A record changed meanwhile
    /// keeps its own body (its compare-and-swap fails). Returns how many records moved.
    pub fn compact_log(&self) -> StorageResult<usize> {
        let sparse: HashSet<u64> = self.body_log().sparse_segments().into_iter().collect();
        if sparse.is_empty() {
            return Ok(0);
        }
        let mut batch = MovedBodies::default();
        let mut moved = 0;
        for item in self.inner.objects.iter() {
            let (key, value) = item?;
            let mut record: ObjectRecord = decode(&value)?;
            let BodyRef::Logged(logged) = record.body else {
                continue;
            };
            if !sparse.contains(&logged.segment) {
                continue;
            }
            let data = self.body_log().read_unchecked(&logged)?;
            if !logged.matches(&data) {
                // Moved as it is, with the CRC it was written with: reads keep refusing it,
                // and its segment can still go.
                tracing::warn!(
                    segment = logged.segment,
                    offset = logged.offset,
                    "a logged body fails its CRC; compaction moves it unchanged"
                );
            }
            record.body = BodyRef::Logged(batch.frame.add_body(&data, logged.crc));
            batch.records.push((key, value, record, logged));
            if batch.records.len() >= COMPACT_BATCH {
                moved += self.swap_moved_bodies(std::mem::take(&mut batch))?;
            }
        }
        moved += self.swap_moved_bodies(batch)?;
        Ok(moved)
    }

    fn swap_moved_bodies(&self, batch: MovedBodies) -> StorageResult<usize> {
        if batch.records.is_empty() {
            return Ok(0);
        }
        let built = batch.frame.build()?;
        let pending = self
            .body_log()
            .append(&built.bytes, || Ok(self.inner.db.generate_id()?))?;
        let placed = built.placed(pending);
        self.body_log().sync_now()?;
        let mut moved = 0;
        for (key, old_value, mut record, old_body) in batch.records {
            placed.place_record(&mut record);
            let new_value = encode(&record)?;
            let swapped =
                self.inner
                    .objects
                    .compare_and_swap(&key, Some(old_value), Some(new_value))?;
            if swapped.is_ok() {
                self.bodies_replaced(Some(&record.body), Some(&BodyRef::Logged(old_body)));
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// Bytes in log segments, and how many of them live records reference (tests, metrics).
    pub fn body_log_usage(&self) -> (u64, i64) {
        self.body_log().usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{BucketRecord, CommitCondition, ObjectCommit, StoreOptions};

    fn body(n: usize) -> Vec<u8> {
        (0..4096).map(|i| (i * 7 + n * 13) as u8).collect()
    }

    async fn put(store: &Store, key: &str, data: Vec<u8>) {
        let record = ObjectRecord {
            size: data.len() as u64,
            etag: "e".into(),
            last_modified_ms: 0,
            content_headers: vec![],
            user_metadata: vec![],
            checksum: None,
            body: BodyRef::Inline(data),
        };
        assert!(store.logs_body(&record, &crate::storage::NewBody::Inline));
        let outcome = store
            .commit_logged("b", key, record, CommitCondition::None, vec![])
            .await
            .unwrap();
        assert!(matches!(outcome, ObjectCommit::Done(_)));
    }

    fn read(store: &Store, key: &str) -> Vec<u8> {
        match store.object("b", key).unwrap().unwrap().body {
            BodyRef::Logged(logged) => store.read_logged(&logged).unwrap().to_vec(),
            other => panic!("expected a logged body, got {other:?}"),
        }
    }

    fn open(dir: &std::path::Path) -> Store {
        let options = StoreOptions {
            gc_delay: Duration::ZERO,
            ..StoreOptions::default()
        };
        let store = crate::storage::reopen(dir, options);
        let bucket = BucketRecord {
            created_ms: 0,
            region: "us-east-1".into(),
            notification: None,
        };
        store.create_bucket("b", &bucket).unwrap();
        store
    }

    #[tokio::test]
    async fn replaced_and_deleted_bodies_are_released_and_counted_again_at_start_up() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        put(&store, "a", body(1)).await;
        put(&store, "b", body(2)).await;
        put(&store, "a", body(3)).await;
        let (size, live) = store.body_log_usage();
        assert_eq!(live, 2 * 4096);
        assert!(
            (3 * 4096..3 * (4096 + 256)).contains(&size),
            "three frames of one body each: {size}"
        );
        store.delete_object("b", "b", &[]).unwrap();
        assert_eq!(store.body_log_usage().1, 4096);
        store.flush().unwrap();
        drop(store);
        let store = open(dir.path());
        assert_eq!(read(&store, "a"), body(3));
        assert_eq!(
            store.body_log_usage(),
            (size, 4096),
            "the old segment is kept for the live body; the new one is empty"
        );
    }

    /// Flips one byte of `key`'s logged body on disk; returns where the body was.
    fn damage(store: &Store, dir: &std::path::Path, key: &str) -> LoggedRef {
        use std::os::unix::fs::FileExt;
        let BodyRef::Logged(logged) = store.object("b", key).unwrap().unwrap().body else {
            panic!("{key} is not logged");
        };
        let path = dir.join("log").join(format!("{:016x}.log", logged.segment));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        let mut byte = [0u8];
        file.read_exact_at(&mut byte, logged.offset).unwrap();
        file.write_all_at(&[!byte[0]], logged.offset).unwrap();
        logged
    }

    #[tokio::test]
    async fn compaction_moves_the_live_bodies_of_sparse_segments_and_frees_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        // Two segments' worth: at least one full segment gets sealed, however early the
        // first zero-filled one was ready.
        let count = 2 * (super::super::body_log::SEGMENT_MAX / 4096) as usize + 10;
        for n in 0..count {
            put(&store, &format!("k{n}"), body(n)).await;
        }
        for n in (0..count).filter(|n| n % 8 != 0) {
            store.delete_object("b", &format!("k{n}"), &[]).unwrap();
        }
        // A damaged body does not stop the pass: it moves as it is and is still refused.
        let damaged_at = damage(&store, dir.path(), "k8");
        let (size_before, live) = store.body_log_usage();
        let moved = store.compact_log().unwrap();
        assert!(moved > 0 && moved <= count.div_ceil(8), "moved {moved}");
        // Moving bodies can fill and seal the segment they went to, sparse in its turn.
        for _ in 0..4 {
            if store.compact_log().unwrap() == 0 {
                break;
            }
        }
        assert_eq!(store.compact_log().unwrap(), 0, "compaction settles");
        assert!(store.collect_log_segments(Duration::ZERO).unwrap() >= 1);
        let (size_after, live_after) = store.body_log_usage();
        assert_eq!(live_after, live);
        assert!(
            size_after < size_before / 4,
            "{size_after} of {size_before}"
        );
        for n in (0..count).step_by(8).filter(|n| *n != 8) {
            assert_eq!(read(&store, &format!("k{n}")), body(n), "k{n}");
        }
        let BodyRef::Logged(damaged) = store.object("b", "k8").unwrap().unwrap().body else {
            panic!("k8 is not logged");
        };
        assert_ne!(
            damaged.segment, damaged_at.segment,
            "the damaged body moved"
        );
        assert_eq!(
            damaged.crc, damaged_at.crc,
            "with the CRC it was written with"
        );
        assert!(matches!(
            store.read_logged(&damaged),
            Err(crate::storage::StorageError::Corrupt(_))
        ));
    }
}
