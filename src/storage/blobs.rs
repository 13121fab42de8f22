//! Object bodies: inline bytes in the record, or 64 KiB chunks in the `chunks` tree keyed by
//! `blob_id ‖ index`. This is the seam where bodies could move to files without touching the
//! commit protocol.

use std::ops::Range;

use bytes::Bytes;

use super::keys::{blob_key, chunk_key};
use super::records::{BlobRef, BodyRef};
use super::{now_ms, StorageResult, Store};

/// Fits in one sled log segment item (see design/storage.md §4); larger values become
/// unsynced blob files.
pub const CHUNK_SIZE: usize = 64 * 1024;
/// Bodies up to this size live inside the object record.
pub const INLINE_MAX: usize = 4096;

/// Writes one blob chunk by chunk. Until the commit that makes it live, the blob is listed in
/// `pending`; dropping an uncommitted writer (client gone, bad digest, failed commit) hands the
/// blob to gc, so no chunk is ever left without an owner.
pub struct BlobWriter {
    store: Store,
    blob_id: u64,
    chunk_count: u32,
    size: u64,
    committed: bool,
}

impl BlobWriter {
    pub fn begin(store: &Store) -> StorageResult<BlobWriter> {
        let blob_id = store.inner.db.generate_id()?;
        store
            .inner
            .pending
            .insert(blob_key(blob_id), &now_ms().to_be_bytes())?;
        Ok(BlobWriter {
            store: store.clone(),
            blob_id,
            chunk_count: 0,
            size: 0,
            committed: false,
        })
    }

    /// Appends one chunk; every chunk but the last must be exactly [`CHUNK_SIZE`] bytes so that
    /// a byte offset maps to a chunk index by division.
    pub fn append(&mut self, chunk: &[u8]) -> StorageResult<()> {
        debug_assert!(chunk.len() <= CHUNK_SIZE);
        self.store
            .inner
            .chunks
            .insert(chunk_key(self.blob_id, self.chunk_count), chunk)?;
        self.chunk_count += 1;
        self.size += chunk.len() as u64;
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn blob_ref(&self) -> BlobRef {
        BlobRef {
            blob_id: self.blob_id,
            size: self.size,
            chunk_size: CHUNK_SIZE as u32,
        }
    }

    pub fn body_ref(&self) -> BodyRef {
        BodyRef::Chunks(self.blob_ref())
    }

    pub(crate) fn blob_id(&self) -> u64 {
        self.blob_id
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

/// Keeps GC away from blobs while they are read; unregisters on drop.
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
        let blob_ids = body.blob_ids();
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

    /// Feeds the bytes of `range` (end exclusive) of `body` to `send`, chunk by chunk; stops
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
        let chunk_size = u64::from(blob.chunk_size);
        let mut pos = range.start;
        while pos < range.end {
            let index = (pos / chunk_size) as u32;
            let chunk_start = u64::from(index) * chunk_size;
            let chunk = self
                .inner
                .chunks
                .get(chunk_key(blob.blob_id, index))?
                .ok_or_else(|| {
                    super::StorageError::Corrupt(format!(
                        "blob {} lacks chunk {index}",
                        blob.blob_id
                    ))
                })?;
            let from = (pos - chunk_start) as usize;
            let to = ((range.end - chunk_start) as usize).min(chunk.len());
            if from >= to {
                return Err(super::StorageError::Corrupt(format!(
                    "blob {} chunk {index} is short",
                    blob.blob_id
                )));
            }
            let piece = Bytes::from_owner(chunk).slice(from..to);
            pos += piece.len() as u64;
            if !send(piece) {
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
        let mut pending = bytes::BytesMut::with_capacity(CHUNK_SIZE);
        let mut failure = None;
        self.stream_range(body, range, |piece| {
            inspect(&piece);
            let mut rest = &piece[..];
            while !rest.is_empty() {
                let take = (CHUNK_SIZE - pending.len()).min(rest.len());
                pending.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                if pending.len() == CHUNK_SIZE {
                    if let Err(e) = writer.append(&pending) {
                        failure = Some(e);
                        return false;
                    }
                    pending.clear();
                }
            }
            true
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        if !pending.is_empty() {
            writer.append(&pending)?;
        }
        Ok(writer)
    }

    /// Copies a body into a fresh blob (CopyObject). Inline bodies stay inline.
    pub fn copy_body(
        &self,
        body: &BodyRef,
        size: u64,
    ) -> StorageResult<(BodyRef, Option<BlobWriter>)> {
        if let BodyRef::Inline(data) = body {
            return Ok((BodyRef::Inline(data.clone()), None));
        }
        let writer = self.copy_range(body, 0..size, |_| {})?;
        Ok((writer.body_ref(), Some(writer)))
    }

    /// Debug/test helper: whether any chunk of the blob is still stored.
    pub fn blob_exists(&self, blob_id: u64) -> StorageResult<bool> {
        Ok(self
            .inner
            .chunks
            .range(chunk_key(blob_id, 0)..=chunk_key(blob_id, u32::MAX))
            .next()
            .transpose()?
            .is_some())
    }
}
