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
}

/// A full-object checksum as the client sent it (base64 of the digest).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredChecksum {
    /// Upper-case S3 name: CRC32, CRC32C, CRC64NVME, SHA1, SHA256.
    pub algorithm: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum BodyRef {
    Inline(Vec<u8>),
    Chunks {
        blob_id: u64,
        chunk_size: u32,
        count: u32,
    },
}

impl BodyRef {
    pub(crate) fn blob_ids(&self) -> impl Iterator<Item = u64> + '_ {
        match self {
            BodyRef::Inline(_) => None,
            BodyRef::Chunks { blob_id, .. } => Some(*blob_id),
        }
        .into_iter()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectRecord {
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
}
