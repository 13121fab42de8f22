//! The only module that names sled. It owns the trees, the record encodings, the bodies
//! (inline, appended to the body log, or one file each: see `blobs`, `body_log`) and the
//! commit protocol of design/storage.md: pending → body written → one transaction → flush
//! (small bodies: frame written and synced → commits, see `round`).
//! Functions here are synchronous; bulk body IO is called through [`blocking`] so the async
//! workers never wait on sled, while tiny metadata reads are made directly.
//!
//! Seam for events: the event outbox tree joins the object commit transaction
//! (`objects::commit_object`, `delete_object`), so an event is durable exactly when its change is.

mod blobs;
mod body_log;
mod buckets;
use buckets::buckets_record_update;
mod frames;
mod gc;
mod keys;
mod list;
mod logged;
mod multipart;
mod objects;
mod outbox;
mod records;
mod round;
mod writeback;

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

pub use blobs::{BlobWriter, ReadGuard, CHUNK_SIZE, INLINE_MAX};
pub use buckets::DeleteBucketOutcome;
pub use list::{ListEntry, ListPage, ListQuery};
pub use multipart::{UploadListEntry, UploadListQuery, UploadOutcome, UploadPage, UPLOAD_ID_LEN};
pub use objects::{CommitCondition, NewBody, ObjectCommit};
pub use outbox::OutboxEntry;
pub use records::{
    BlobRef, BodyRef, BucketRecord, CompletedUpload, LoggedRef, ObjectRecord, ObjectSummary,
    PartRecord, StoredChecksum, UploadRecord,
};

/// Bumped when the on-disk layout changes; a store with another schema is refused.
const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("blob file: {0}")]
    Io(#[from] std::io::Error),
    #[error("record encoding: {0}")]
    Codec(#[from] postcard::Error),
    #[error("corrupt store: {0}")]
    Corrupt(String),
}

pub type StorageResult<T> = Result<T, StorageError>;

/// When a mutating request may be acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Flush sled before every 2xx of a mutating request.
    Sync,
    /// Let sled's background flusher write within ~500 ms (tests, throwaway data).
    Relaxed,
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub durability: Durability,
    /// How long a dead blob waits before its file is deleted, so streaming GETs that
    /// started before an overwrite can finish.
    pub gc_delay: Duration,
    pub cache_capacity: u64,
    /// How often sled flushes on its own (None: never; tests that stand for a crash use it
    /// to keep what only the body log's frames hold out of sled's files).
    pub sled_flush_every_ms: Option<u64>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            durability: Durability::Sync,
            gc_delay: Duration::from_secs(60),
            cache_capacity: 128 << 20,
            sled_flush_every_ms: Some(500),
        }
    }
}

/// A handle to the database; cheap to clone, opened once per process.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    meta: sled::Tree,
    buckets: sled::Tree,
    objects: sled::Tree,
    blobs: blobs::BlobDir,
    /// Small bodies of stores that sync their writes (see `body_log`).
    body_log: Arc<body_log::BodyLog>,
    /// Commits of logged bodies waiting for the next durability round.
    logged_commits: Mutex<Vec<round::QueuedCommit>>,
    pending: sled::Tree,
    gc: sled::Tree,
    uploads: sled::Tree,
    /// `bucket ‖ 0 ‖ key ‖ 0 ‖ upload_id` → (): uploads of a bucket in list order.
    upload_index: sled::Tree,
    parts: sled::Tree,
    completed: sled::Tree,
    /// `seq` → event record, written in the same transaction as the change it describes.
    outbox: sled::Tree,
    /// `seq` → event record that exhausted its delivery attempts.
    dead_letters: sled::Tree,
    options: StoreOptions,
    /// Object commits hold it shared, DeleteBucket exclusively: a bucket can't be deleted
    /// between its emptiness check and its removal while a PUT lands in it. A durability
    /// round holds it exclusively too, to commit alone (`Store::commit_alone`).
    bucket_lock: RwLock<()>,
    /// Blobs being streamed to a client, with a count of readers; GC leaves them alone.
    readers: Mutex<HashMap<u64, usize>>,
    gc_wake: Arc<tokio::sync::Notify>,
    /// Group commit: writes that asked for durability, writes a finished flush covered, and
    /// the gate that lets one durability round run at a time.
    writes_done: AtomicU64,
    flushed_upto: AtomicU64,
    flush_gate: tokio::sync::Mutex<()>,
    unflushed_events: outbox::UnflushedEvents,
}

impl Store {
    /// Opens (or creates) the store under `dir`, then runs start-up recovery: every blob still
    /// `pending` belonged to a request that died with the previous process, so it goes to gc.
    pub fn open(dir: &Path, options: StoreOptions) -> StorageResult<Store> {
        std::fs::create_dir_all(dir)?;
        let db = sled::Config::new()
            .path(dir.join("db"))
            .cache_capacity(options.cache_capacity)
            .flush_every_ms(options.sled_flush_every_ms)
            .open()?;
        let tree = |name: &str| db.open_tree(name);
        let objects = tree("objects")?;
        let meta = tree("meta")?;
        let applied = meta
            .get(frames::WATERMARK)?
            .map(|v| frames::LogPosition::decode(&v))
            .transpose()?;
        let unapplied = match applied {
            Some(position) => frames::read_unapplied(&dir.join("log"), position)?,
            None => frames::Unapplied::default(),
        };
        let first_segment = db.generate_id()?;
        // Where frames start in a store that stored no position yet (new, or with bodies
        // logged before frames): segments before this one hold none.
        let fresh = applied.is_none().then_some(frames::LogPosition {
            segment: first_segment,
            offset: 0,
        });
        let body_log = body_log::BodyLog::open(
            dir.join("log"),
            logged::logged_bytes_per_segment(&objects)?,
            |id| unapplied.segments.contains(&id),
            first_segment,
            options.durability == Durability::Sync,
        )?;
        let inner = Inner {
            meta,
            buckets: tree("buckets")?,
            objects,
            blobs: blobs::BlobDir::open(dir.join("blobs"))?,
            body_log: Arc::new(body_log),
            logged_commits: Mutex::new(Vec::new()),
            pending: tree("pending")?,
            gc: tree("gc")?,
            uploads: tree("uploads")?,
            upload_index: tree("upload_index")?,
            parts: tree("parts")?,
            completed: tree("completed")?,
            outbox: tree("outbox")?,
            dead_letters: tree("dead_letters")?,
            db,
            options,
            bucket_lock: RwLock::new(()),
            readers: Mutex::new(HashMap::new()),
            gc_wake: Arc::new(tokio::sync::Notify::new()),
            writes_done: AtomicU64::new(0),
            flushed_upto: AtomicU64::new(0),
            flush_gate: tokio::sync::Mutex::new(()),
            unflushed_events: Default::default(),
        };
        let store = Store {
            inner: Arc::new(inner),
        };
        store.check_schema()?;
        store.recover_pending()?;
        store.replay_log(unapplied, fresh)?;
        Ok(store)
    }

    fn check_schema(&self) -> StorageResult<()> {
        match self.inner.meta.get(b"schema")? {
            None => {
                self.inner
                    .meta
                    .insert(b"schema", &SCHEMA_VERSION.to_be_bytes())?;
                Ok(())
            }
            Some(v) if v.as_ref() == SCHEMA_VERSION.to_be_bytes() => Ok(()),
            Some(v) => Err(StorageError::Corrupt(format!("unsupported schema {v:?}"))),
        }
    }

    pub fn durability(&self) -> Durability {
        self.inner.options.durability
    }

    /// Held (shared) by every object commit; see `Inner::bucket_lock`. None on the thread
    /// of a round committing alone (see [`Store::commit_alone`]), which holds it already.
    pub(crate) fn commit_lock(&self) -> Option<RwLockReadGuard<'_, ()>> {
        if COMMITTING_ALONE.with_borrow(Option::is_some) {
            return None;
        }
        Some(
            self.inner
                .bucket_lock
                .read()
                .unwrap_or_else(|e| e.into_inner()),
        )
    }

    /// Holds every other object commit off while the caller, a durability round, commits on
    /// this thread (its own commits pass `commit_lock` while this lives).
    pub(crate) fn commit_alone(&self) -> CommittingAlone<'_> {
        let guard = self
            .inner
            .bucket_lock
            .write()
            .unwrap_or_else(|e| e.into_inner());
        COMMITTING_ALONE.set(Some(Vec::new()));
        CommittingAlone { _guard: guard }
    }

    /// Whether `bucket` exists, for a commit about to be made under the bucket lock. A
    /// round committing alone looks each bucket up once: none can be deleted (DeleteBucket
    /// takes the lock for writing) before the round lets go of it.
    pub(crate) fn bucket_exists_for_commit(&self, bucket: &str) -> StorageResult<bool> {
        let known = COMMITTING_ALONE.with_borrow(|alone| {
            alone
                .as_ref()
                .is_some_and(|seen| seen.iter().any(|b| b == bucket))
        });
        if known {
            return Ok(true);
        }
        let exists = self.inner.buckets.get(bucket.as_bytes())?.is_some();
        if exists {
            COMMITTING_ALONE.with_borrow_mut(|alone| {
                if let Some(seen) = alone {
                    seen.push(bucket.to_owned());
                }
            });
        }
        Ok(exists)
    }

    /// Flushes everything regardless of durability mode (shutdown).
    pub fn flush(&self) -> StorageResult<()> {
        self.inner.db.flush()?;
        Ok(())
    }

    pub fn size_on_disk(&self) -> StorageResult<u64> {
        Ok(self.inner.db.size_on_disk()?)
    }
}

thread_local! {
    /// Set while this thread holds `bucket_lock` exclusively for a round's commits: the
    /// buckets those commits found (see [`Store::bucket_exists_for_commit`]).
    static COMMITTING_ALONE: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

pub(crate) struct CommittingAlone<'a> {
    _guard: RwLockWriteGuard<'a, ()>,
}

impl Drop for CommittingAlone<'_> {
    fn drop(&mut self) {
        COMMITTING_ALONE.set(None);
    }
}

/// Runs sled body IO off the async workers.
pub async fn blocking<T, F>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    start_blocking(f).await
}

/// Like [`blocking`], but `f` starts now, not when the future is first polled (for work
/// that runs beside the caller, fed through a channel); its panic resumes in the awaiter.
pub fn start_blocking<T, F>(f: F) -> impl std::future::Future<Output = T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let task = tokio::task::spawn_blocking(f);
    async move {
        match task.await {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

/// Opens the store under `dir` in a test, waiting for one just dropped there to let go of
/// its file lock (a sled IO thread can hold it a moment longer).
#[cfg(test)]
pub(crate) fn reopen(dir: &Path, options: StoreOptions) -> Store {
    for _ in 0..100 {
        match Store::open(dir, options.clone()) {
            Ok(store) => return store,
            Err(e) if e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("open {}: {e}", dir.display()),
        }
    }
    panic!("the previous store never let go of {}", dir.display());
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
