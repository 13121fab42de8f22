//! The body log: small bodies (LOG_MIN..=INLINE_MAX bytes) appended to segment files under
//! `<data dir>/log/`, with only a [`LoggedRef`] in the object record. Kept inline, a 4 KiB
//! body made sled re-serialize it at every leaf split and consolidation and write it through
//! its log: ~40% of the server's CPU per 4 KiB PUT. Only stores with `Durability::Sync` use
//! the log: its ordering rests on the fsyncs below.
//!
//! Crash safety: a body is appended (in a round's frame, see `frames`) and fdatasync'd
//! before the record naming it is committed, so no record on disk can point at bytes that
//! are not. Bytes whose commit never happened are simply never referenced.
//!
//! Reclaiming: how many bytes of each segment live records reference is counted in memory,
//! rebuilt at start-up from the object records. A sealed segment nothing references is
//! deleted once no read or append holds it; a sealed segment mostly dead is compacted (its
//! live bodies appended again, their records swapped) by the gc task.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::records::LoggedRef;
use super::{StorageError, StorageResult};

/// Bodies at least this big go to the log; smaller ones cost sled little and stay inline.
pub const LOG_MIN: usize = 1024;
/// A segment is sealed and a new one started once it holds this much.
pub(crate) const SEGMENT_MAX: u64 = 16 << 20;
/// Segments are zero-filled ahead in pieces this big, with a pause after each.
const PREFILL_PIECE: usize = 1 << 20;
const PREFILL_PAUSE: Duration = Duration::from_millis(3);
/// A sealed segment whose live bytes fall under 1/COMPACT_BELOW of its size is compacted.
const COMPACT_BELOW: u64 = 4;

struct Segment {
    file: Arc<File>,
    size: u64,
    /// Bytes referenced by committed records (signed: a release may briefly precede the
    /// matching adoption when two commits race on one key).
    live: i64,
    /// Appends not yet committed or abandoned.
    pending: usize,
    /// When `live` last fell to zero.
    dead_since: Option<Instant>,
}

struct LogState {
    active: u64,
    /// Whether the active segment was zero-filled ahead (see `BodyLog::prefill`).
    active_prefilled: bool,
    segments: HashMap<u64, Segment>,
    /// Sealed segments whose tail the next sync must cover too.
    unsynced_sealed: Vec<Arc<File>>,
    /// The next segment, zero-filled and synced by a helper thread; and whether one is
    /// being made.
    prepared: Option<(u64, File)>,
    preparing: bool,
}

pub(crate) struct BodyLog {
    dir: PathBuf,
    /// Appends go into segments written full of zeros and synced ahead of time: an
    /// fdatasync then writes only the data, where one after appends that grow the file
    /// also commits ext4's journal (size, block allocation) — measured 296 µs for a round's
    /// ~60 KiB. Only for stores that sync their writes.
    prefill: bool,
    state: Mutex<LogState>,
    /// Appends made, and appends a finished fdatasync covered (a round with nothing new to
    /// sync skips the syscall).
    appended: AtomicU64,
    synced_upto: AtomicU64,
}

/// An append whose record is not committed yet: keeps its segment from deletion and
/// compaction. Dropped after the commit (which adopted the body) or without one.
pub struct PendingBody {
    log: Arc<BodyLog>,
    logged: LoggedRef,
}

impl PendingBody {
    pub(crate) fn logged(&self) -> LoggedRef {
        self.logged
    }
}

impl LoggedRef {
    /// Whether `data` is what was logged.
    pub(crate) fn matches(&self, data: &[u8]) -> bool {
        crc32(data) == self.crc
    }
}

impl Drop for PendingBody {
    fn drop(&mut self) {
        if let Some(seg) = self.log.lock().segments.get_mut(&self.logged.segment) {
            seg.pending -= 1;
        }
    }
}

pub(crate) fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:016x}.log"))
}

pub(crate) fn segment_id_of(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?.strip_suffix(".log")?;
    u64::from_str_radix(name, 16).ok()
}

pub(crate) fn crc32(data: &[u8]) -> u32 {
    crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, data) as u32
}

impl BodyLog {
    /// Opens the log under `dir`. `live` is what the object records reference per segment;
    /// segments nothing references are deleted now (nothing can read or append to them yet)
    /// unless `keep` says otherwise, and appends go to a new segment `new_id`.
    pub(crate) fn open(
        dir: PathBuf,
        live: HashMap<u64, i64>,
        keep: impl Fn(u64) -> bool,
        new_id: u64,
        prefill: bool,
    ) -> io::Result<BodyLog> {
        fs::create_dir_all(&dir)?;
        let mut segments = HashMap::new();
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            let Some(id) = segment_id_of(&path) else {
                continue;
            };
            let bytes = live.get(&id).copied().unwrap_or(0);
            if bytes > 0 || keep(id) {
                let file = File::open(&path)?;
                let size = file.metadata()?.len();
                segments.insert(id, Segment::new(file, size, bytes));
            } else {
                fs::remove_file(&path)?;
            }
        }
        segments.insert(new_id, Segment::new(create_segment(&dir, new_id)?, 0, 0));
        Ok(BodyLog {
            dir,
            prefill,
            state: Mutex::new(LogState {
                active: new_id,
                active_prefilled: false,
                segments,
                unsynced_sealed: Vec::new(),
                prepared: None,
                preparing: false,
            }),
            appended: AtomicU64::new(0),
            synced_upto: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `data` to the active segment (not yet durable: see [`BodyLog::sync_now`]).
    /// `next_id` names new segments.
    pub(crate) fn append(
        self: &Arc<Self>,
        data: &[u8],
        mut next_id: impl FnMut() -> StorageResult<u64>,
    ) -> StorageResult<PendingBody> {
        let mut state = self.lock();
        let full = state.segments[&state.active].size + data.len() as u64 > SEGMENT_MAX;
        // A growing segment (the first after start-up, or when preparing fell behind) is
        // left as soon as a zero-filled one is ready.
        let prefilled_ready = !state.active_prefilled && state.prepared.is_some();
        if full || prefilled_ready {
            let sealed = state.segments[&state.active].file.clone();
            state.unsynced_sealed.push(sealed);
            let (id, file, prefilled) = match state.prepared.take() {
                Some((id, file)) => (
                    self.in_use_order(id, state.active, &mut next_id)?,
                    file,
                    true,
                ),
                None => {
                    let id = next_id()?;
                    (id, create_segment(&self.dir, id)?, false)
                }
            };
            state.segments.insert(id, Segment::new(file, 0, 0));
            state.active = id;
            state.active_prefilled = prefilled;
        }
        if self.prefill && state.prepared.is_none() && !state.preparing {
            state.preparing = true;
            self.prepare_segment(next_id()?);
        }
        let active = state.active;
        let seg = state.segments.get_mut(&active).expect("active segment");
        seg.file.write_all_at(data, seg.size)?;
        let logged = LoggedRef {
            segment: active,
            offset: seg.size,
            len: data.len() as u32,
            crc: crc32(data),
        };
        seg.size += data.len() as u64;
        seg.pending += 1;
        self.appended.fetch_add(1, Ordering::SeqCst);
        Ok(PendingBody {
            log: self.clone(),
            logged,
        })
    }

    /// The id a prepared segment `id` is used under after `active`: its own, or a newer one
    /// it is renamed to when a growing segment came between (preparing fell behind).
    /// Segments are used in id order, the order replay reads their frames in.
    fn in_use_order(
        &self,
        id: u64,
        active: u64,
        mut next_id: impl FnMut() -> StorageResult<u64>,
    ) -> StorageResult<u64> {
        if id > active {
            return Ok(id);
        }
        let newer = next_id()?;
        fs::rename(segment_path(&self.dir, id), segment_path(&self.dir, newer))?;
        File::open(&self.dir)?.sync_all()?;
        Ok(newer)
    }

    /// Zero-fills and syncs segment `id` on a helper thread, then offers it to `append`.
    fn prepare_segment(self: &Arc<Self>, id: u64) {
        let log = self.clone();
        std::thread::spawn(move || {
            let made = create_segment(&log.dir, id).and_then(|file| {
                // In paced, synced pieces: 16 MiB written and synced at once queued ahead of
                // the round's fdatasync on the disk and tripled the 4 KiB PUT p99.
                let zeros = vec![0u8; PREFILL_PIECE];
                for offset in (0..SEGMENT_MAX).step_by(PREFILL_PIECE) {
                    file.write_all_at(&zeros, offset)?;
                    file.sync_data()?;
                    std::thread::sleep(PREFILL_PAUSE);
                }
                Ok(file)
            });
            match made {
                Ok(file) => {
                    let mut state = log.lock();
                    state.preparing = false;
                    state.prepared = Some((id, file));
                }
                Err(e) => {
                    // `preparing` stays set: segments grow as they are written from now on
                    // (slower syncs, nothing else), rather than retrying at every append.
                    tracing::warn!(error = %e, "could not prepare a body log segment; not trying again");
                    let _ = fs::remove_file(segment_path(&log.dir, id));
                }
            }
        });
    }

    /// Syncs the active segment (and any sealed since the last sync) now, covering every
    /// append made so far.
    pub(crate) fn sync_now(&self) -> StorageResult<()> {
        let (covers, files) = {
            let mut state = self.lock();
            let covers = self.appended.load(Ordering::SeqCst);
            if covers <= self.synced_upto.load(Ordering::SeqCst) && state.unsynced_sealed.is_empty()
            {
                return Ok(()); // nothing appended since the last sync (most rounds of big PUTs)
            }
            let mut files = std::mem::take(&mut state.unsynced_sealed);
            files.push(state.segments[&state.active].file.clone());
            (covers, files)
        };
        for file in &files {
            if let Err(e) = file.sync_data() {
                // The next sync tries every sealed segment again (the last file is the active).
                let sealed = &files[..files.len() - 1];
                self.lock().unsynced_sealed.extend(sealed.iter().cloned());
                return Err(e.into());
            }
        }
        self.synced_upto.fetch_max(covers, Ordering::SeqCst);
        Ok(())
    }

    /// Reads a logged body whole, checking its CRC.
    pub(crate) fn read(&self, logged: &LoggedRef) -> StorageResult<Bytes> {
        let buf = self.read_unchecked(logged)?;
        if !logged.matches(&buf) {
            return Err(StorageError::Corrupt(format!(
                "log segment {:x}: CRC mismatch at {}",
                logged.segment, logged.offset
            )));
        }
        Ok(Bytes::from(buf))
    }

    /// The bytes `logged` names, whether or not they still match its CRC (compaction moves
    /// a damaged body as it is).
    pub(crate) fn read_unchecked(&self, logged: &LoggedRef) -> StorageResult<Vec<u8>> {
        let file = self
            .lock()
            .segments
            .get(&logged.segment)
            .map(|s| s.file.clone())
            .ok_or_else(|| {
                StorageError::Corrupt(format!("log segment {:x} missing", logged.segment))
            })?;
        let mut buf = vec![0u8; logged.len as usize];
        file.read_exact_at(&mut buf, logged.offset).map_err(|e| {
            StorageError::Corrupt(format!(
                "log segment {:x} short at {}: {e}",
                logged.segment, logged.offset
            ))
        })?;
        Ok(buf)
    }

    /// A committed record now references `logged`.
    pub(crate) fn adopt(&self, logged: &LoggedRef) {
        if let Some(seg) = self.lock().segments.get_mut(&logged.segment) {
            seg.live += logged.len as i64;
            seg.dead_since = None;
        }
    }

    /// A record referencing `logged` was replaced or deleted.
    pub(crate) fn release(&self, logged: &LoggedRef) {
        if let Some(seg) = self.lock().segments.get_mut(&logged.segment) {
            seg.live -= logged.len as i64;
            if seg.live <= 0 {
                seg.dead_since.get_or_insert_with(Instant::now);
            }
        }
    }

    /// Sealed segments nothing references or holds, dead for at least `min_age`.
    pub(crate) fn dead_segments(
        &self,
        min_age: Duration,
        is_being_read: impl Fn(u64) -> bool,
    ) -> Vec<u64> {
        let state = self.lock();
        state
            .segments
            .iter()
            .filter(|(id, seg)| {
                **id != state.active
                    && seg.live <= 0
                    && seg.pending == 0
                    && seg.dead_since.is_some_and(|t| t.elapsed() >= min_age)
                    && !is_being_read(**id)
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Deletes a segment returned by [`BodyLog::dead_segments`], if it is still dead.
    pub(crate) fn remove_segment(&self, id: u64) -> io::Result<bool> {
        let mut state = self.lock();
        let still_dead = state
            .segments
            .get(&id)
            .is_some_and(|s| id != state.active && s.live <= 0 && s.pending == 0);
        if !still_dead {
            return Ok(false);
        }
        state.segments.remove(&id);
        match fs::remove_file(segment_path(&self.dir, id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(true),
        }
    }

    /// Sealed segments worth compacting: mostly dead, at least half a segment's worth of dead
    /// bytes among them (a scan of every object record is the price of one compaction).
    pub(crate) fn sparse_segments(&self) -> Vec<u64> {
        let state = self.lock();
        let sparse: Vec<(u64, u64)> = state
            .segments
            .iter()
            .filter(|(id, seg)| {
                **id != state.active && seg.live > 0 && (seg.live as u64) * COMPACT_BELOW < seg.size
            })
            .map(|(id, seg)| (*id, seg.size - seg.live as u64))
            .collect();
        let dead: u64 = sparse.iter().map(|(_, dead)| dead).sum();
        if dead < SEGMENT_MAX / 2 {
            return Vec::new();
        }
        sparse.into_iter().map(|(id, _)| id).collect()
    }

    /// Bytes of every segment and how many of them live records reference (tests, metrics).
    pub fn usage(&self) -> (u64, i64) {
        let state = self.lock();
        state
            .segments
            .values()
            .fold((0, 0), |(size, live), s| (size + s.size, live + s.live))
    }

    #[cfg(test)]
    fn segment_count(&self) -> usize {
        self.lock().segments.len()
    }
}

impl Segment {
    fn new(file: File, size: u64, live: i64) -> Segment {
        Segment {
            file: Arc::new(file),
            size,
            live,
            pending: 0,
            dead_since: (live <= 0).then(Instant::now),
        }
    }
}

/// Creates an empty segment file and makes its name durable, so records may point into it.
fn create_segment(dir: &Path, id: u64) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(segment_path(dir, id))?;
    File::open(dir)?.sync_all()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(start: u64) -> impl FnMut() -> StorageResult<u64> {
        let mut next = start;
        move || {
            next += 1;
            Ok(next)
        }
    }

    /// A log (active segment 1, later segments 101, 102, …) holding `count` adopted 4 KiB
    /// bodies.
    fn filled_log(dir: &Path, count: u64) -> (Arc<BodyLog>, Vec<LoggedRef>) {
        let log =
            Arc::new(BodyLog::open(dir.join("log"), HashMap::new(), |_| false, 1, false).unwrap());
        let mut next_id = ids(100);
        let refs = (0..count)
            .map(|_| {
                let pending = log.append(&[5u8; 4096], &mut next_id).unwrap();
                log.adopt(&pending.logged());
                pending.logged()
            })
            .collect();
        (log, refs)
    }

    #[test]
    fn appended_bodies_read_back_and_a_damaged_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(
            BodyLog::open(dir.path().join("log"), HashMap::new(), |_| false, 1, false).unwrap(),
        );
        let a = log.append(&[1u8; 2000], ids(10)).unwrap();
        let b = log.append(&[2u8; 3000], ids(10)).unwrap();
        assert_eq!(log.read(&a.logged()).unwrap().as_ref(), &[1u8; 2000][..]);
        assert_eq!(log.read(&b.logged()).unwrap().as_ref(), &[2u8; 3000][..]);
        assert_eq!(b.logged().offset, 2000);
        let file = OpenOptions::new()
            .write(true)
            .open(segment_path(&dir.path().join("log"), 1))
            .unwrap();
        file.write_all_at(&[9], 2100).unwrap();
        assert!(matches!(
            log.read(&b.logged()),
            Err(StorageError::Corrupt(_))
        ));
    }

    #[test]
    fn a_prepared_segment_older_than_the_active_one_is_renamed_before_use() {
        let dir = tempfile::tempdir().unwrap();
        let log =
            BodyLog::open(dir.path().join("log"), HashMap::new(), |_| false, 5, false).unwrap();
        create_segment(&log.dir, 3).unwrap();
        assert_eq!(log.in_use_order(3, 5, ids(10)).unwrap(), 11);
        assert!(!segment_path(&log.dir, 3).exists());
        assert!(segment_path(&log.dir, 11).exists());
        assert_eq!(
            log.in_use_order(12, 11, ids(20)).unwrap(),
            12,
            "already in order"
        );
    }

    #[test]
    fn a_full_segment_is_sealed_and_freed_once_nothing_references_it() {
        let dir = tempfile::tempdir().unwrap();
        let (log, refs) = filled_log(dir.path(), SEGMENT_MAX / 4096 + 1);
        assert_eq!(
            log.segment_count(),
            2,
            "the last append started a new segment"
        );
        assert_eq!(refs.last().unwrap().segment, 101);
        let none_read = |_| false;
        assert!(log.dead_segments(Duration::ZERO, none_read).is_empty());
        for logged in &refs[..refs.len() - 1] {
            log.release(logged);
        }
        assert_eq!(
            log.dead_segments(Duration::ZERO, |id| id == 1),
            Vec::<u64>::new()
        );
        assert_eq!(log.dead_segments(Duration::ZERO, none_read), vec![1]);
        assert!(log.remove_segment(1).unwrap());
        assert!(!segment_path(&dir.path().join("log"), 1).exists());
        assert_eq!(log.read(refs.last().unwrap()).unwrap(), vec![5u8; 4096]);
    }

    #[test]
    fn start_up_keeps_referenced_segments_and_deletes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("log");
        let kept = {
            let log =
                Arc::new(BodyLog::open(root.clone(), HashMap::new(), |_| false, 1, false).unwrap());
            let kept = log.append(&[3u8; 1500], ids(10)).unwrap().logged();
            log.sync_now().unwrap();
            kept
        };
        fs::write(segment_path(&root, 7), b"nothing points here").unwrap();
        fs::write(segment_path(&root, 9), b"kept").unwrap();
        let log = BodyLog::open(
            root.clone(),
            HashMap::from([(1, 1500)]),
            |id| id == 9,
            8,
            false,
        )
        .unwrap();
        assert_eq!(log.read(&kept).unwrap().as_ref(), &[3u8; 1500][..]);
        assert!(!segment_path(&root, 7).exists());
        assert!(segment_path(&root, 9).exists(), "`keep` kept it");
        assert_eq!(log.segment_count(), 3, "segments 1, 9 and the new active 8");
        assert_eq!(log.usage(), (1500 + 4, 1500));
    }

    #[test]
    fn sparse_segments_are_offered_for_compaction_once_enough_is_dead() {
        let dir = tempfile::tempdir().unwrap();
        let (log, refs) = filled_log(dir.path(), 2 * (SEGMENT_MAX / 4096) + 1);
        let per_segment = (SEGMENT_MAX / 4096) as usize;
        // Segment 1: 1 in 8 bodies kept. Segment 101: half kept (not sparse).
        for (i, logged) in refs.iter().enumerate() {
            let kept = if i < per_segment {
                i % 8 == 0
            } else {
                i % 2 == 0
            };
            if !kept {
                log.release(logged);
            }
        }
        assert_eq!(log.sparse_segments(), vec![1]);
    }
}
