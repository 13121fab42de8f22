//! Object access for code that embeds Lambucket — a Rust trigger handler reading the object
//! that fired it and writing its results — through the same commit path as PutObject (digests,
//! conditional writes, events), without HTTP.

use bytes::Bytes;

use super::checksum::{to_base64, Checksummer, DEFAULT_ALGORITHM};
use super::existing_bucket;
use super::headers::DEFAULT_CONTENT_TYPE;
use super::notification::{events_from, Origin};
use super::object::{commit, read_object};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::md5::Md5;
use crate::storage::{
    blocking, BlobWriter, BodyRef, CommitCondition, NewBody, ObjectRecord, StoredChecksum,
    CHUNK_SIZE, INLINE_MAX,
};
use crate::time_fmt::now_ms;
use crate::AppState;

/// An object's bytes and ETag (hex MD5, unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectBytes {
    pub data: Bytes,
    pub etag: String,
}

/// Reads a whole object; None when the key does not exist.
pub async fn get_object(
    state: &AppState,
    bucket: &str,
    key: &str,
) -> S3Result<Option<ObjectBytes>> {
    let (record, guard) = match read_object(state, bucket, key) {
        Ok(found) => found,
        Err(e) if e.code == S3ErrorCode::NoSuchKey => return Ok(None),
        Err(e) => return Err(e),
    };
    let store = state.store.clone();
    let body = record.body.clone();
    let size = record.size;
    let data = blocking(move || {
        let _guard = guard;
        let mut out = Vec::with_capacity(size as usize);
        store.stream_range(&body, 0..size, |piece| {
            out.extend_from_slice(&piece);
            true
        })?;
        Ok::<_, crate::storage::StorageError>(out)
    })
    .await?;
    Ok(Some(ObjectBytes {
        data: Bytes::from(data),
        etag: record.etag,
    }))
}

/// When a write may happen (S3's conditional writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    Always,
    /// Only if no object exists (`If-None-Match: *`).
    IfAbsent,
    /// Only if the current object has this ETag (`If-Match`).
    IfEtag(String),
}

/// Writes an object (firing the bucket's triggers, as a PUT would); returns its ETag, or
/// PreconditionFailed when the condition does not hold.
pub async fn put_object(
    state: &AppState,
    bucket: &str,
    key: &str,
    data: Bytes,
    content_type: Option<&str>,
    condition: WriteCondition,
) -> S3Result<String> {
    if key.is_empty() || key.len() > super::MAX_KEY_BYTES {
        return Err(S3Error::new(S3ErrorCode::KeyTooLongError));
    }
    let bucket_record = existing_bucket(state, bucket)?;
    let store = state.store.clone();
    let (md5, checksum, body_ref, body) = blocking(move || {
        let md5 = Md5::digest(&data);
        let mut sum = Checksummer::new(DEFAULT_ALGORITHM);
        sum.update(&data);
        if data.len() <= INLINE_MAX {
            return Ok::<_, S3Error>((
                md5,
                sum.finish(),
                BodyRef::Inline(data.to_vec()),
                NewBody::Inline,
            ));
        }
        let mut writer = BlobWriter::begin(&store)?;
        for chunk in data.chunks(CHUNK_SIZE) {
            writer.append(chunk)?;
        }
        Ok((md5, sum.finish(), writer.body_ref(), NewBody::Blob(writer)))
    })
    .await?;
    let record = ObjectRecord {
        size: body_ref.size(),
        etag: hex::encode(md5),
        last_modified_ms: now_ms(),
        content_headers: vec![(
            "content-type".into(),
            content_type.unwrap_or(DEFAULT_CONTENT_TYPE).to_owned(),
        )],
        user_metadata: Vec::new(),
        checksum: Some(StoredChecksum {
            algorithm: DEFAULT_ALGORITHM.name().into(),
            value: to_base64(&checksum),
            kind: "FULL_OBJECT".into(),
        }),
        body: body_ref,
    };
    let events = events_from(
        state,
        bucket,
        &bucket_record,
        &Origin::embedded(),
        "ObjectCreated:Put",
        key,
        Some((record.size, &record.etag)),
    )?;
    let condition = match condition {
        WriteCondition::Always => CommitCondition::None,
        WriteCondition::IfAbsent => CommitCondition::Absent,
        WriteCondition::IfEtag(etag) => {
            CommitCondition::EtagMatches(etag.trim_matches('"').to_owned())
        }
    };
    let committed = commit(state, bucket, key, record, body, condition, events).await?;
    Ok(committed.etag)
}
