//! Object bodies: inline bytes in the object record (small bodies), or one file per blob under
//! `<data dir>/blobs/<xx>/<blob id>`. Measured on sled 0.34.7, keeping body chunks in a tree
//! made RSS grow with the data written (a 1 GiB PUT peaked near 500 MiB whatever the cache
//! size), so bodies left sled as design/storage.md §6 foresaw; metadata and the
//! pending → commit → gc protocol stay in sled, unchanged.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::keys::blob_key;
use super::records::{BlobRef, BodyRef};
use super::writeback::EarlyWriteback;
use super::{now_ms, Durability, StorageError, StorageResult, Store};

/// Uploads are cut into pieces of this size on their way to disk.
pub const CHUNK_SIZE: usize = 64 * 1024;
/// Reads are served in pieces of this size: fewer hand-offs and syscalls per byte.
const READ_PIECE: usize = 256 * 1024;
/// Bodies up to this size live inside the object record.
pub const INLINE_MAX: usize = 4096;

/// Where blob files live: 256 fan-out directories so no directory grows huge.
#[derive(Debug, Clone)]
pub(crate) struct BlobDir {
    root: PathBuf,
}

impl BlobDir {
    pub(crate) fn open(root: PathBuf) -> io::Result<BlobDir> {
        for i in 0..=255u8 {
            fs::create_dir_all(root.join(format!("{i:02x}")))?;
        }
        Ok(BlobDir { root })
    }

    fn shard(&self, blob_id: u64) -> PathBuf {
        self.root.join(format!("{:02x}", blob_id & 0xFF))
    }

    pub(crate) fn path(&self, blob_id: u64) -> PathBuf {
        self.shard(blob_id).join(format!("{blob_id:016x}"))
    }

    /// Removes a blob's file; a file already gone is fine (gc is idempotent).
    pub(crate) fn remove(&self, blob_id: u64) -> io::Result<()> {
        match fs::remove_file(self.path(blob_id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes one blob. Until the commit that makes it live, the blob is listed in `pending`;
/// dropping an uncommitted writer (client gone, bad digest, failed commit) hands the blob to
/// gc, so no file is ever left without an owner.
pub struct BlobWriter {
    store: Store,
    blob_id: u64,
    file: Option<File>,
    size: u64,
    committed: bool,
    writeback: Option<EarlyWriteback>,
}

impl BlobWriter {
    pub fn begin(store: &Store) -> StorageResult<BlobWriter> {
        let blob_id = store.inner.db.generate_id()?;
        // Listed as pending before the file exists: after a crash every file has an owner.
        store
            .inner
            .pending
            .insert(blob_key(blob_id), &now_ms().to_be_bytes())?;
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(store.inner.blobs.path(blob_id))?;
        Ok(BlobWriter {
            store: store.clone(),
            blob_id,
            file: Some(file),
            size: 0,
            committed: false,
            writeback: (store.inner.options.durability == Durability::Sync)
                .then(EarlyWriteback::default),
        })
    }

    pub fn append(&mut self, data: &[u8]) -> StorageResult<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| StorageError::Corrupt("blob already finished".into()))?;
        file.write_all(data)?;
        if let Some(writeback) = &mut self.writeback {
            writeback.wrote(file, data.len())?;
        }
        self.size += data.len() as u64;
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn blob_ref(&self) -> BlobRef {
        BlobRef {
            blob_id: self.blob_id,
            size: self.size,
        }
    }

    pub fn body_ref(&self) -> BodyRef {
        BodyRef::Chunks(self.blob_ref())
    }

    pub(crate) fn blob_id(&self) -> u64 {
        self.blob_id
    }

    /// Makes the bytes (and the file's name) durable before the commit that publishes them,
    /// when the store runs with `Durability::Sync`.
    pub(crate) fn finish(&mut self) -> StorageResult<()> {
        if let Some(file) = self.file.take() {
            if self.store.inner.options.durability == Durability::Sync {
                if let Some(writeback) = &mut self.writeback {
                    writeback.wait()?;
                }
                file.sync_data()?;
                sync_dir(&self.store.inner.blobs.shard(self.blob_id))?;
            }
        }
        Ok(())
    }

    pub(crate) fn mark_committed(&mut self) {
        self.committed = true;
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.committed {
            if let Err(e) = self.store.discard_pending(self.blob_id) {
                tracing::warn!(blob_id = self.blob_id, error = %e, "could not hand an abandoned blob to gc; start-up recovery will");
            }
        }
    }
}

/// Keeps GC away from blobs (and log segments) while they are read; unregisters on drop.
pub struct ReadGuard {
    store: Store,
    blob_ids: Vec<u64>,
}

impl Drop for ReadGuard {
    fn drop(&mut self) {
        let mut readers = self
            .store
            .inner
            .readers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for id in &self.blob_ids {
            if let Some(n) = readers.get_mut(id) {
                *n -= 1;
                if *n == 0 {
                    readers.remove(id);
                }
            }
        }
    }
}

impl Store {
    /// Registers a reader of `body`'s blobs. Callers re-read the object record afterwards to
    /// be sure the blob was still live when the guard was taken.
    pub fn guard_reads(&self, body: &BodyRef) -> ReadGuard {
        let blob_ids = body.held_files();
        let mut readers = self.inner.readers.lock().unwrap_or_else(|e| e.into_inner());
        for id in &blob_ids {
            *readers.entry(*id).or_insert(0) += 1;
        }
        ReadGuard {
            store: self.clone(),
            blob_ids,
        }
    }

    pub(crate) fn is_being_read(&self, blob_id: u64) -> bool {
        self.inner
            .readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&blob_id)
    }

    /// Feeds the bytes of `range` (end exclusive) of `body` to `send`, piece by piece; stops
    /// early when `send` returns false (the client went away).
    pub fn stream_range(
        &self,
        body: &BodyRef,
        range: Range<u64>,
        mut send: impl FnMut(Bytes) -> bool,
    ) -> StorageResult<()> {
        match body {
            BodyRef::Inline(data) => {
                let slice = &data[range.start as usize..range.end as usize];
                if !slice.is_empty() {
                    send(Bytes::copy_from_slice(slice));
                }
            }
            BodyRef::Chunks(blob) => {
                self.stream_blob(blob, range, &mut send)?;
            }
            BodyRef::Logged(logged) => {
                let data = self.read_logged(logged)?;
                if range.start < range.end {
                    send(data.slice(range.start as usize..range.end as usize));
                }
            }
            BodyRef::Parts(parts) => {
                let mut part_start = 0u64;
                for part in parts {
                    let part_end = part_start + part.size;
                    let from = range.start.max(part_start);
                    let to = range.end.min(part_end);
                    if from < to
                        && !self.stream_blob(part, from - part_start..to - part_start, &mut send)?
                    {
                        break;
                    }
                    part_start = part_end;
                }
            }
        }
        Ok(())
    }

    /// Streams `range` of one blob; false when `send` asked to stop.
    fn stream_blob(
        &self,
        blob: &BlobRef,
        range: Range<u64>,
        send: &mut impl FnMut(Bytes) -> bool,
    ) -> StorageResult<bool> {
        let unreadable =
            |e: io::Error| StorageError::Corrupt(format!("blob {} unreadable: {e}", blob.blob_id));
        let mut file = File::open(self.inner.blobs.path(blob.blob_id)).map_err(unreadable)?;
        file.seek(SeekFrom::Start(range.start))
            .map_err(unreadable)?;
        let mut pos = range.start;
        while pos < range.end {
            let len = ((range.end - pos) as usize).min(READ_PIECE);
            // read_to_end fills spare capacity as it is: no zeroing of a buffer about to be
            // overwritten (that memset was ~1% of a 64 MiB GET's samples).
            let mut buf = Vec::with_capacity(len);
            (&mut file)
                .take(len as u64)
                .read_to_end(&mut buf)
                .map_err(unreadable)?;
            if buf.len() < len {
                return Err(StorageError::Corrupt(format!(
                    "blob {} short at {pos}",
                    blob.blob_id
                )));
            }
            pos += len as u64;
            if !send(Bytes::from(buf)) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Copies `range` of a body into a fresh blob, showing each piece to `inspect` (hashing).
    pub fn copy_range(
        &self,
        body: &BodyRef,
        range: Range<u64>,
        mut inspect: impl FnMut(&[u8]),
    ) -> StorageResult<BlobWriter> {
        let mut writer = BlobWriter::begin(self)?;
        let mut failure = None;
        self.stream_range(body, range, |piece| {
            inspect(&piece);
            match writer.append(&piece) {
                Ok(()) => true,
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(writer),
        }
    }

    /// Copies a body into a fresh blob (CopyObject). Small bodies come back inline (the
    /// commit may log them again).
    pub fn copy_body(
        &self,
        body: &BodyRef,
        size: u64,
    ) -> StorageResult<(BodyRef, Option<BlobWriter>)> {
        match body {
            BodyRef::Inline(data) => return Ok((BodyRef::Inline(data.clone()), None)),
            BodyRef::Logged(logged) => {
                let data = self.read_logged(logged)?;
                return Ok((BodyRef::Inline(data.to_vec()), None));
            }
            BodyRef::Chunks(_) | BodyRef::Parts(_) => {}
        }
        let writer = self.copy_range(body, 0..size, |_| {})?;
        Ok((writer.body_ref(), Some(writer)))
    }

    /// Debug/test helper: whether the blob's bytes are still stored.
    pub fn blob_exists(&self, blob_id: u64) -> StorageResult<bool> {
        Ok(self.inner.blobs.path(blob_id).exists())
    }
}
