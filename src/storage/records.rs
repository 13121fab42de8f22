//! Values stored in the trees: `[version u8] ‖ postcard`. The version byte lets a later release
//! read records written by this one.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::{StorageError, StorageResult};

const RECORD_VERSION: u8 = 1;

pub(crate) fn encode<T: Serialize>(value: &T) -> StorageResult<Vec<u8>> {
    let mut out = vec![RECORD_VERSION];
    out.extend(postcard::to_allocvec(value)?);
    Ok(out)
}

/// Decodes only the leading fields of a record (`T` is a prefix of the stored struct).
pub(crate) fn decode_prefix<T: DeserializeOwned>(bytes: &[u8]) -> StorageResult<T> {
    match bytes.split_first() {
        Some((&RECORD_VERSION, rest)) => Ok(postcard::take_from_bytes(rest)?.0),
        Some((v, _)) => Err(StorageError::Corrupt(format!("unknown record version {v}"))),
        None => Err(StorageError::Corrupt("empty record".into())),
    }
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> StorageResult<T> {
    match bytes.split_first() {
        Some((&RECORD_VERSION, rest)) => Ok(postcard::from_bytes(rest)?),
        Some((v, _)) => Err(StorageError::Corrupt(format!("unknown record version {v}"))),
        None => Err(StorageError::Corrupt("empty record".into())),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BucketRecord {
    pub created_ms: i64,
    pub region: String,
    /// The bucket's notification configuration, as the events layer encodes it.
    pub notification: Option<String>,
}

/// A full-object checksum as the client sent it (base64 of the digest).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredChecksum {
    /// Upper-case S3 name: CRC32, CRC32C, CRC64NVME, SHA1, SHA256.
    pub algorithm: String,
    /// Base64 digest; composite multipart checksums end in `-N`.
    pub value: String,
    /// FULL_OBJECT or COMPOSITE.
    pub kind: String,
}

/// A body stored as a blob file.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct BlobRef {
    pub blob_id: u64,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum BodyRef {
    /// As bytes, not a sequence of u8 (the same postcard encoding, decoded by one copy
    /// instead of a visit per byte: it dominated listing).
    Inline(#[serde(with = "serde_bytes")] Vec<u8>),
    Chunks(BlobRef),
    /// A completed multipart upload: its parts' blobs, in part order (never copied).
    Parts(Vec<BlobRef>),
    /// A small body appended to the body log (see `body_log`). Added last: postcard numbers
    /// variants in order, so records written before it still decode.
    Logged(LoggedRef),
}

/// Where a small body lies in the body log, and its CRC-32 (checked on every read).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoggedRef {
    pub segment: u64,
    pub offset: u64,
    pub len: u32,
    pub crc: u32,
}

impl BodyRef {
    pub(crate) fn blob_ids(&self) -> Vec<u64> {
        match self {
            BodyRef::Inline(_) | BodyRef::Logged(_) => Vec::new(),
            BodyRef::Chunks(blob) => vec![blob.blob_id],
            BodyRef::Parts(parts) => parts.iter().map(|p| p.blob_id).collect(),
        }
    }

    /// The files a reader of this body must keep from deletion: blobs, or a log segment.
    /// (Segment ids come from the same id generator as blob ids, so they never collide.)
    pub(crate) fn held_files(&self) -> Vec<u64> {
        match self {
            BodyRef::Logged(logged) => vec![logged.segment],
            other => other.blob_ids(),
        }
    }

    pub fn size(&self) -> u64 {
        match self {
            BodyRef::Inline(data) => data.len() as u64,
            BodyRef::Chunks(blob) => blob.size,
            BodyRef::Parts(parts) => parts.iter().map(|p| p.size).sum(),
            BodyRef::Logged(logged) => logged.len as u64,
        }
    }

    /// How many parts a multipart object has (None for single-PUT objects).
    pub fn parts_count(&self) -> Option<usize> {
        match self {
            BodyRef::Parts(parts) => Some(parts.len()),
            _ => None,
        }
    }

    /// The byte range of part `n` (1-based) of a multipart object.
    pub fn part_range(&self, n: usize) -> Option<std::ops::Range<u64>> {
        let BodyRef::Parts(parts) = self else {
            return None;
        };
        let start: u64 = parts.iter().take(n.checked_sub(1)?).map(|p| p.size).sum();
        parts.get(n - 1).map(|p| start..start + p.size)
    }
}

/// A multipart upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UploadRecord {
    pub bucket: String,
    pub key: String,
    pub initiated_ms: i64,
    pub content_headers: Vec<(String, String)>,
    pub user_metadata: Vec<(String, String)>,
    /// x-amz-checksum-algorithm given at creation (S3 name), and the checksum type
    /// (COMPOSITE or FULL_OBJECT).
    pub checksum_algorithm: Option<String>,
    pub checksum_type: Option<String>,
}

/// One uploaded part.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartRecord {
    pub blob: BlobRef,
    /// Hex MD5 of the part.
    pub etag: String,
    pub last_modified_ms: i64,
    pub checksum: Option<StoredChecksum>,
}

/// What a finished upload became, so a repeated Complete can answer as S3 does.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CompletedUpload {
    pub bucket: String,
    pub key: String,
    pub etag: String,
    pub checksum: Option<StoredChecksum>,
    pub completed_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectRecord {
    // Listing reads these first three fields alone (`ObjectSummary`): keep them first.
    pub size: u64,
    /// Hex MD5 of the body, without quotes.
    pub etag: String,
    pub last_modified_ms: i64,
    /// Stored response headers (content-type, cache-control, …), lower-case names.
    pub content_headers: Vec<(String, String)>,
    /// `x-amz-meta-*` headers, names lower-cased and without the prefix.
    pub user_metadata: Vec<(String, String)>,
    pub checksum: Option<StoredChecksum>,
    pub body: BodyRef,
}

/// What a listing shows of an object: the leading fields of its [`ObjectRecord`], decoded
/// without the rest (metadata, inline body).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ObjectSummary {
    pub size: u64,
    pub etag: String,
    pub last_modified_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_with_version_byte() {
        let rec = ObjectRecord {
            size: 3,
            etag: "abc".into(),
            last_modified_ms: 5,
            content_headers: vec![("content-type".into(), "text/plain".into())],
            user_metadata: vec![("k".into(), "v".into())],
            checksum: None,
            body: BodyRef::Inline(b"abc".to_vec()),
        };
        let bytes = encode(&rec).unwrap();
        assert_eq!(bytes[0], RECORD_VERSION);
        assert_eq!(decode::<ObjectRecord>(&bytes).unwrap(), rec);
        assert!(decode::<ObjectRecord>(&[9, 1, 2]).is_err());
    }

    #[test]
    fn inline_bodies_keep_the_encoding_of_earlier_releases() {
        // Before serde_bytes, Inline was encoded as a sequence of u8; both must be identical.
        let as_sequence = postcard::to_allocvec(&(0u32, vec![1u8, 2, 255])).unwrap();
        let as_bytes = postcard::to_allocvec(&BodyRef::Inline(vec![1, 2, 255])).unwrap();
        assert_eq!(as_sequence, as_bytes);
    }

    #[test]
    fn a_summary_is_the_head_of_its_record() {
        let rec = ObjectRecord {
            size: 4096,
            etag: "0123abcd".into(),
            last_modified_ms: 1_700_000_000_123,
            content_headers: vec![("content-type".into(), "a/b".into())],
            user_metadata: vec![],
            checksum: None,
            body: BodyRef::Inline(vec![9; 4096]),
        };
        let summary: ObjectSummary = decode_prefix(&encode(&rec).unwrap()).unwrap();
        assert_eq!(
            summary,
            ObjectSummary {
                size: 4096,
                etag: "0123abcd".into(),
                last_modified_ms: 1_700_000_000_123
            }
        );
    }
}
