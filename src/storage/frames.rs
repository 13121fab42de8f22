//! Frames: how the body log is written. A durability round appends one frame holding the
//! small bodies it commits and the commits themselves (bucket, key, record, events), syncs
//! it once, and can then answer without flushing sled: that flush cost a round as long a
//! wait as the log's sync and woke sled's whole IO pool.
//!
//! Replay: each round stores in sled, right after its commits, the log position its frame
//! ends at (`WATERMARK`). Sled recovers a prefix of its writes, so at start-up the stored
//! position says which frames sled holds already; the commits of the frames after it are
//! made again, in order. A round makes its commits and stores the position alone among
//! object commits (`Store::commit_alone`): no other change to an object falls between
//! them, so a replayed commit is never older than a change sled kept.
//!
//! A frame: magic, payload length (u32 LE), payload CRC-32 (u32 LE), then the payload:
//! the entries' length (u32 LE), the entries, the bodies. An entry's body offset counts
//! from the start of the bodies, so the entries can be encoded before the frame's place in
//! the log is known.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::body_log::{crc32, segment_id_of, segment_path, PendingBody, SEGMENT_MAX};
use super::outbox::OutboxEntry;
use super::records::{decode, encode, BodyRef, LoggedRef, ObjectRecord};
use super::StorageResult;

/// The `meta` key of the log position replay starts at.
pub(crate) const WATERMARK: &[u8] = b"log_applied";

const MAGIC: &[u8; 4] = b"LBF1";
const HEADER: u64 = 12;
/// Where the payload's CRC sits in the header (after the magic and the payload length).
const CRC_AT: usize = 8;
/// Bytes of the payload before the entries (their length).
const ENTRIES_LEN: u64 = 4;

/// One object commit, as replay makes it again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct LoggedCommit {
    pub bucket: String,
    pub key: String,
    /// In the frame, a logged body's offset counts from the start of the frame's bodies
    /// (replay reads it placed).
    pub record: ObjectRecord,
    /// The outbox entries (seq, value) the commit wrote.
    pub events: Vec<(u64, Vec<u8>)>,
}

impl LoggedCommit {
    pub(crate) fn new(
        bucket: &str,
        key: &str,
        record: &ObjectRecord,
        events: &[OutboxEntry],
    ) -> Self {
        LoggedCommit {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            record: record.clone(),
            events: events.iter().map(|e| (e.seq, e.value.clone())).collect(),
        }
    }

    pub(crate) fn outbox_entries(&self) -> Vec<OutboxEntry> {
        self.events
            .iter()
            .map(|(seq, value)| OutboxEntry {
                seq: *seq,
                value: value.clone(),
            })
            .collect()
    }
}

/// A place in the body log.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct LogPosition {
    pub segment: u64,
    pub offset: u64,
}

impl LogPosition {
    pub(crate) fn encode(&self) -> StorageResult<Vec<u8>> {
        encode(self)
    }

    pub(crate) fn decode(bytes: &[u8]) -> StorageResult<Self> {
        decode(bytes)
    }
}

/// A frame being put together: its bodies and its entries.
#[derive(Default)]
pub(crate) struct FrameBuilder {
    bodies: Vec<u8>,
    entries: Vec<LoggedCommit>,
}

impl FrameBuilder {
    /// Adds a body; returns its reference, with an offset that counts from the frame's
    /// bodies (see [`PlacedFrame::place_record`]).
    pub(crate) fn add_body(&mut self, data: &[u8], crc: u32) -> LoggedRef {
        let offset = self.bodies.len() as u64;
        self.bodies.extend_from_slice(data);
        LoggedRef {
            segment: 0,
            offset,
            len: data.len() as u32,
            crc,
        }
    }

    pub(crate) fn add_entry(&mut self, entry: LoggedCommit) {
        self.entries.push(entry);
    }

    pub(crate) fn entries(&self) -> &[LoggedCommit] {
        &self.entries
    }

    pub(crate) fn build(&self) -> StorageResult<Frame> {
        let entries = encode(&self.entries)?;
        let payload_len = ENTRIES_LEN as usize + entries.len() + self.bodies.len();
        // Written in place, the payload's CRC patched in after: one copy of the bodies.
        let mut bytes = Vec::with_capacity(HEADER as usize + payload_len);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(payload_len as u32).to_le_bytes());
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&entries);
        bytes.extend_from_slice(&self.bodies);
        let crc = crc32(&bytes[HEADER as usize..]);
        bytes[CRC_AT..HEADER as usize].copy_from_slice(&crc.to_le_bytes());
        Ok(Frame {
            bytes,
            bodies_at: HEADER + ENTRIES_LEN + entries.len() as u64,
        })
    }
}

pub(crate) struct Frame {
    pub bytes: Vec<u8>,
    /// Where the bodies start within the frame.
    bodies_at: u64,
}

impl Frame {
    /// The frame as appended: `pending` names where it lies, and keeps its segment from
    /// deletion until the commits are made.
    pub(crate) fn placed(self, pending: PendingBody) -> PlacedFrame {
        let at = pending.logged();
        PlacedFrame {
            segment: at.segment,
            bodies_at: at.offset + self.bodies_at,
            _pending: pending,
        }
    }
}

pub(crate) struct PlacedFrame {
    segment: u64,
    bodies_at: u64,
    _pending: PendingBody,
}

impl PlacedFrame {
    /// Turns `record`'s body offset, counted from the frame's bodies, into its place in the
    /// log.
    pub(crate) fn place_record(&self, record: &mut ObjectRecord) {
        place_record(record, self.segment, self.bodies_at);
    }
}

/// Places `record`'s logged body, given where its frame's bodies start.
fn place_record(record: &mut ObjectRecord, segment: u64, bodies_at: u64) {
    if let BodyRef::Logged(relative) = record.body {
        record.body = BodyRef::Logged(LoggedRef {
            segment,
            offset: bodies_at + relative.offset,
            ..relative
        });
    }
}

/// The entries of the frame at `at` in `segment` (their bodies placed), and where the next
/// frame starts; None where the written frames end (the zeros of a prefilled segment, the
/// end of the file, a frame torn by a crash).
fn frame_at(file: &File, segment: u64, at: u64) -> Option<(Vec<LoggedCommit>, u64)> {
    let mut header = [0u8; HEADER as usize];
    file.read_exact_at(&mut header, at).ok()?;
    if &header[..4] != MAGIC {
        return None;
    }
    let len = u32::from_le_bytes(header[4..8].try_into().ok()?) as u64;
    let crc = u32::from_le_bytes(header[CRC_AT..].try_into().ok()?);
    if !(ENTRIES_LEN..=SEGMENT_MAX).contains(&len) {
        return None;
    }
    let mut payload = vec![0u8; len as usize];
    file.read_exact_at(&mut payload, at + HEADER).ok()?;
    if crc32(&payload) != crc {
        return None;
    }
    let entries_len = u32::from_le_bytes(payload[..4].try_into().ok()?) as u64;
    let encoded = payload.get(ENTRIES_LEN as usize..(ENTRIES_LEN + entries_len) as usize)?;
    let mut entries: Vec<LoggedCommit> = decode(encoded).ok()?;
    let bodies_at = at + HEADER + ENTRIES_LEN + entries_len;
    for entry in &mut entries {
        place_record(&mut entry.record, segment, bodies_at);
    }
    Some((entries, at + HEADER + len))
}

/// What the log holds past the position sled has applied.
#[derive(Debug, Default)]
pub(crate) struct Unapplied {
    pub entries: Vec<LoggedCommit>,
    /// Where the last frame read ends (None when there was none).
    pub end: Option<LogPosition>,
    /// The segments those frames lie in.
    pub segments: Vec<u64>,
}

/// Reads, in order, the entries of every frame in the log under `dir` past `applied`.
pub(crate) fn read_unapplied(dir: &Path, applied: LogPosition) -> StorageResult<Unapplied> {
    let mut segments = Vec::new();
    if dir.exists() {
        for entry in std::fs::read_dir(dir)? {
            if let Some(id) = segment_id_of(&entry?.path()) {
                if id >= applied.segment {
                    segments.push(id);
                }
            }
        }
    }
    segments.sort_unstable();
    let mut unapplied = Unapplied::default();
    for id in segments {
        let file = File::open(segment_path(dir, id))?;
        let mut at = if id == applied.segment {
            applied.offset
        } else {
            0
        };
        while let Some((entries, next)) = frame_at(&file, id, at) {
            unapplied.entries.extend(entries);
            at = next;
            unapplied.end = Some(LogPosition {
                segment: id,
                offset: at,
            });
            if unapplied.segments.last() != Some(&id) {
                unapplied.segments.push(id);
            }
        }
    }
    Ok(unapplied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn entry(key: &str, body: LoggedRef) -> LoggedCommit {
        LoggedCommit {
            bucket: "b".into(),
            key: key.into(),
            record: ObjectRecord {
                size: body.len as u64,
                etag: "e".into(),
                last_modified_ms: 1,
                content_headers: vec![],
                user_metadata: vec![],
                checksum: None,
                body: BodyRef::Logged(body),
            },
            events: vec![(7, b"event".to_vec())],
        }
    }

    /// Writes `frames` (each: keys whose bodies are the key's bytes, repeated) to segment
    /// `id`, then `tail`; returns where each frame ends.
    fn write_segment(dir: &Path, id: u64, frames: &[&[&str]], tail: &[u8]) -> Vec<u64> {
        let mut data = Vec::new();
        let mut ends = Vec::new();
        for keys in frames {
            let mut frame = FrameBuilder::default();
            for key in *keys {
                let body = key.repeat(100);
                let relative = frame.add_body(body.as_bytes(), crc32(body.as_bytes()));
                frame.add_entry(entry(key, relative));
            }
            data.extend(frame.build().unwrap().bytes);
            ends.push(data.len() as u64);
        }
        data.extend_from_slice(tail);
        fs::write(segment_path(dir, id), data).unwrap();
        ends
    }

    fn keys(unapplied: &Unapplied) -> Vec<&str> {
        unapplied.entries.iter().map(|e| e.key.as_str()).collect()
    }

    fn start() -> LogPosition {
        LogPosition {
            segment: 0,
            offset: 0,
        }
    }

    #[test]
    fn frames_past_the_applied_position_are_read_in_order_with_their_bodies_placed() {
        let dir = tempfile::tempdir().unwrap();
        let ends = write_segment(dir.path(), 5, &[&["a"], &["b", "c"]], &[0u8; 64]);
        let mut torn = FrameBuilder::default();
        torn.add_entry(entry(
            "lost",
            LoggedRef {
                segment: 0,
                offset: 0,
                len: 0,
                crc: 0,
            },
        ));
        let mut torn = torn.build().unwrap().bytes;
        torn.truncate(torn.len() - 2);
        write_segment(dir.path(), 9, &[&["d"]], &torn);
        fs::write(dir.path().join("not-a-segment"), b"LBF1").unwrap();

        let all = read_unapplied(dir.path(), start()).unwrap();
        assert_eq!(keys(&all), ["a", "b", "c", "d"]);
        assert_eq!(all.segments, [5, 9]);
        let data = fs::read(segment_path(dir.path(), 5)).unwrap();
        for e in &all.entries[..3] {
            let BodyRef::Logged(at) = e.record.body else {
                panic!("logged")
            };
            assert_eq!(at.segment, 5);
            let body = &data[at.offset as usize..(at.offset + at.len as u64) as usize];
            assert_eq!(body, e.key.repeat(100).as_bytes());
            assert!(at.matches(body));
        }

        let applied = LogPosition {
            segment: 5,
            offset: ends[0],
        };
        let rest = read_unapplied(dir.path(), applied).unwrap();
        assert_eq!(keys(&rest), ["b", "c", "d"]);
        let end = rest.end.unwrap();
        assert_eq!(end.segment, 9);

        let nothing = read_unapplied(dir.path(), end).unwrap();
        assert!(nothing.entries.is_empty() && nothing.end.is_none());
        let later = LogPosition {
            segment: 10,
            offset: 0,
        };
        assert!(read_unapplied(dir.path(), later)
            .unwrap()
            .entries
            .is_empty());
    }

    #[test]
    fn a_damaged_frame_ends_its_segment() {
        let dir = tempfile::tempdir().unwrap();
        write_segment(dir.path(), 1, &[&["a"], &["b"]], &[]);
        let path = segment_path(dir.path(), 1);
        let mut data = fs::read(&path).unwrap();
        let last = data.len() - 1;
        data[last] ^= 0xff;
        fs::write(&path, data).unwrap();
        assert_eq!(keys(&read_unapplied(dir.path(), start()).unwrap()), ["a"]);
        let absent = read_unapplied(&dir.path().join("absent"), start()).unwrap();
        assert!(absent.entries.is_empty());
    }
}
