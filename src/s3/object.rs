//! Object operations: PutObject, GetObject/HeadObject, DeleteObject, DeleteObjects, CopyObject.

use base64::Engine;
use http::StatusCode;
use tokio::sync::mpsc;

use super::checksum;
use super::checksum::DEFAULT_ALGORITHM;
use super::headers::{self, check_conditions, quoted_etag, write_object_headers, Conditions};
use super::ingest::receive_upload;
use super::notification::{after_commit, after_durable_commit, events_for, sequence_numbers};
use super::{existing_bucket, S3Request, MAX_KEY_BYTES, MAX_XML_BODY};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::http::response::{empty, set_header, xml, ResponseBody, S3Response};
use crate::md5::Md5;
use crate::storage::{
    blocking, BodyRef, BucketRecord, CommitCondition, NewBody, ObjectCommit, ObjectRecord,
    OutboxEntry, StoredChecksum,
};
use crate::time_fmt::{iso8601_ms, now_ms};
use crate::xml::{self as doc, S3_NAMESPACE};
use crate::AppState;

/// DeleteObjects takes at most this many keys.
const MAX_DELETE_KEYS: usize = 1000;
/// Streamed GETs keep at most this many 64 KiB chunks in flight per request.
const STREAM_DEPTH: usize = 4;

pub(super) fn content_md5(req: &S3Request) -> S3Result<Option<[u8; 16]>> {
    let Some(value) = req.header("content-md5") else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|_| S3Error::new(S3ErrorCode::InvalidDigest).detail("Content-MD5", value))?;
    let digest: [u8; 16] = decoded
        .try_into()
        .map_err(|_| S3Error::new(S3ErrorCode::InvalidDigest).detail("Content-MD5", value))?;
    Ok(Some(digest))
}

/// `If-None-Match: *` and `If-Match` on a write are checked atomically with the commit.
fn write_condition(req: &S3Request) -> CommitCondition {
    match (req.header("if-none-match"), req.header("if-match")) {
        (Some(v), _) if v.trim() == "*" => CommitCondition::Absent,
        (_, Some(etag)) => CommitCondition::EtagMatches(etag.trim().trim_matches('"').to_owned()),
        _ => CommitCondition::None,
    }
}

/// What a write's answer tells of the object it committed.
pub(super) struct Committed {
    pub etag: String,
    pub last_modified_ms: i64,
    pub checksum: Option<StoredChecksum>,
}

/// Commits a record and turns the storage outcome into the S3 answer.
pub(super) async fn commit(
    state: &AppState,
    bucket: &str,
    key: &str,
    record: ObjectRecord,
    body: NewBody,
    condition: CommitCondition,
    events: Vec<OutboxEntry>,
) -> S3Result<Committed> {
    let recorded = sequence_numbers(&events);
    if state.store.logs_body(&record, &body) {
        let committed = Committed {
            etag: record.etag.clone(),
            last_modified_ms: record.last_modified_ms,
            checksum: record.checksum.clone(),
        };
        let outcome = state
            .store
            .commit_logged(bucket, key, record, condition, events)
            .await?;
        commit_answer(bucket, outcome)?;
        after_durable_commit(state, &recorded).await;
        return Ok(committed);
    }
    let now = state
        .store
        .commit_object_now(bucket, key, &record, &body, &condition, &events)?;
    let (outcome, record) = match now {
        Some(outcome) => (outcome, record),
        None => {
            let store = state.store.clone();
            let (bucket, key) = (bucket.to_owned(), key.to_owned());
            let (outcome, record) = blocking(move || {
                let outcome = store.commit_object_in_transaction(
                    &bucket, &key, &record, body, &condition, &events,
                );
                (outcome, record)
            })
            .await;
            (outcome?, record)
        }
    };
    commit_answer(bucket, outcome)?;
    after_commit(state, &recorded).await?;
    Ok(Committed {
        etag: record.etag,
        last_modified_ms: record.last_modified_ms,
        checksum: record.checksum,
    })
}

/// The S3 answer to a commit's outcome.
fn commit_answer(bucket: &str, outcome: ObjectCommit) -> S3Result<()> {
    match outcome {
        ObjectCommit::Done(_) => Ok(()),
        ObjectCommit::NoSuchBucket => Err(S3Error::no_such_bucket(bucket)),
        ObjectCommit::PreconditionFailed => Err(S3Error::new(S3ErrorCode::PreconditionFailed)),
    }
}

pub async fn put_object(state: &AppState, mut req: S3Request) -> S3Result<S3Response> {
    let bucket = existing_bucket(state, &req.bucket)?;
    let content_headers = headers::content_headers(&req.headers);
    let user_metadata = headers::user_metadata(&req.headers)?;
    let condition = write_condition(&req);
    let ingested = receive_upload(&state.store, &mut req, DEFAULT_ALGORITHM, true).await?;
    let record = ObjectRecord {
        size: ingested.size,
        etag: hex::encode(ingested.md5),
        last_modified_ms: now_ms(),
        content_headers,
        user_metadata,
        checksum: Some(ingested.stored_checksum()),
        body: ingested.body_ref,
    };
    let events = events_for(
        state,
        &bucket,
        &req,
        "ObjectCreated:Put",
        &req.key,
        Some((record.size, &record.etag)),
    )?;
    let committed = commit(
        state,
        &req.bucket,
        &req.key,
        record,
        ingested.body,
        condition,
        events,
    )
    .await?;
    let mut resp = empty(StatusCode::OK);
    set_header(&mut resp, "etag", &quoted_etag(&committed.etag));
    headers::write_checksum(&mut resp, committed.checksum.as_ref());
    Ok(resp)
}

/// Reads the object record and registers a reader for its body, re-reading until the record
/// is stable so gc cannot have taken the body between the two steps.
pub(super) fn read_object(
    state: &AppState,
    bucket: &str,
    key: &str,
) -> S3Result<(ObjectRecord, crate::storage::ReadGuard)> {
    existing_bucket(state, bucket)?;
    loop {
        let rec = state
            .store
            .object(bucket, key)?
            .ok_or_else(|| S3Error::no_such_key(key))?;
        let guard = state.store.guard_reads(&rec.body);
        match state.store.object(bucket, key)? {
            Some(again) if again.body == rec.body => return Ok((rec, guard)),
            Some(_) => continue,
            None => return Err(S3Error::no_such_key(key)),
        }
    }
}

pub(super) fn check_version_id(req: &S3Request) -> S3Result<()> {
    match req.query.get("versionId") {
        None | Some("null") => Ok(()),
        Some(v) => Err(S3Error::invalid_argument(
            "Invalid version id specified",
            "versionId",
            v,
        )),
    }
}

/// GetObject (with `with_body`) and HeadObject.
/// The byte range a GET/HEAD asks for: a Range header, or one part of a multipart object
/// (`partNumber`); None means the whole object.
fn requested_range(req: &S3Request, rec: &ObjectRecord) -> S3Result<Option<std::ops::Range<u64>>> {
    let Some(raw) = req.query.get("partNumber") else {
        return headers::parse_range(req.header("range"), rec.size);
    };
    if req.header("range").is_some() {
        return Err(S3Error::invalid_request(
            "Cannot specify both Range header and partNumber query parameter",
        ));
    }
    let number = raw
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
                "partNumber",
                raw,
            )
        })?;
    match rec.body.part_range(number) {
        Some(range) => Ok(Some(range)),
        // A single-PUT object is one part.
        None if number == 1 && rec.body.parts_count().is_none() => {
            Ok((rec.size > 0).then_some(0..rec.size))
        }
        None => Err(S3Error::new(S3ErrorCode::InvalidPartNumber)
            .detail("PartNumberRequested", number.to_string())
            .detail(
                "ActualPartCount",
                rec.body.parts_count().unwrap_or(1).to_string(),
            )),
    }
}

pub async fn get_object(state: &AppState, req: S3Request, with_body: bool) -> S3Result<S3Response> {
    check_version_id(&req)?;
    let (rec, guard) = read_object(state, &req.bucket, &req.key)?;
    check_conditions(&req.headers, &rec, Conditions::Read)?;
    let range = requested_range(&req, &rec)?;
    let whole = range.is_none();
    let range = range.unwrap_or(0..rec.size);
    let len = range.end - range.start;

    let body = if !with_body || len == 0 {
        ResponseBody::Empty
    } else if let BodyRef::Inline(data) = &rec.body {
        ResponseBody::full(bytes::Bytes::copy_from_slice(
            &data[range.start as usize..range.end as usize],
        ))
    } else if let BodyRef::Logged(logged) = &rec.body {
        // One small read, usually from the page cache: no streaming task.
        let data = state.store.read_logged(logged)?;
        ResponseBody::full(data.slice(range.start as usize..range.end as usize))
    } else {
        let (tx, rx) = mpsc::channel(STREAM_DEPTH);
        let store = state.store.clone();
        let body_ref = rec.body.clone();
        let range = range.clone();
        tokio::task::spawn_blocking(move || {
            let _guard = guard;
            let result = store.stream_range(&body_ref, range, |piece| {
                tx.blocking_send(Ok(piece)).is_ok()
            });
            if let Err(e) = result {
                tracing::error!(error = %e, "object body unreadable mid-stream");
                let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
            }
        });
        ResponseBody::Stream { rx, remaining: len }
    };
    let mut resp = http::Response::new(body);
    let checksum_mode = req
        .header("x-amz-checksum-mode")
        .is_some_and(|v| v.eq_ignore_ascii_case("ENABLED"));
    write_object_headers(&mut resp, &rec, &req.query, checksum_mode && whole);
    set_header(&mut resp, "content-length", &len.to_string());
    if let (true, Some(count)) = (req.query.has("partNumber"), rec.body.parts_count()) {
        set_header(&mut resp, "x-amz-mp-parts-count", &count.to_string());
    }
    if !whole {
        *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        let last = range.end.saturating_sub(1);
        set_header(
            &mut resp,
            "content-range",
            &format!("bytes {}-{last}/{}", range.start, rec.size),
        );
    }
    Ok(resp)
}

pub async fn delete_object(state: &AppState, req: S3Request) -> S3Result<S3Response> {
    check_version_id(&req)?;
    let bucket = existing_bucket(state, &req.bucket)?;
    delete_one(state, &bucket, &req, &req.key).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// Deletes one key (absent is fine, as in S3); NoSuchBucket when the bucket is gone.
async fn delete_one(
    state: &AppState,
    bucket_rec: &BucketRecord,
    req: &S3Request,
    key: &str,
) -> S3Result<()> {
    let bucket = req.bucket.as_str();
    let events = events_for(state, bucket_rec, req, "ObjectRemoved:Delete", key, None)?;
    let recorded = sequence_numbers(&events);
    let outcome = match state.store.delete_object_now(bucket, key, &events)? {
        Some(outcome) => outcome,
        None => {
            let store = state.store.clone();
            let (b, k) = (bucket.to_owned(), key.to_owned());
            blocking(move || store.delete_object_in_transaction(&b, &k, &events)).await?
        }
    };
    let ObjectCommit::Done(old) = outcome else {
        return commit_answer(bucket, outcome);
    };
    // Events are recorded only when an object was actually removed.
    let recorded = if old.is_some() { &recorded[..] } else { &[] };
    after_commit(state, recorded).await
}

pub async fn delete_objects(state: &AppState, mut req: S3Request) -> S3Result<S3Response> {
    let bucket = existing_bucket(state, &req.bucket)?;
    let md5 = content_md5(&req)?;
    let requested = checksum::requested(&req.headers)?;
    if md5.is_none() && requested.as_ref().is_none_or(|r| r.expected.is_none()) {
        return Err(S3Error::invalid_request(
            "Missing required header for this request: Content-MD5",
        ));
    }
    let body = req
        .body
        .collect_capped(MAX_XML_BODY, S3ErrorCode::MalformedXML)
        .await?;
    if md5.is_some_and(|m| m != Md5::digest(&body)) {
        return Err(S3Error::new(S3ErrorCode::BadDigest));
    }
    if let Some(r) = &requested {
        let mut c = checksum::Checksummer::new(r.algorithm);
        c.update(&body);
        r.verify(&c.finish())?;
    }
    let request: doc::DeleteRequest = doc::from_xml(&body)?;
    if request.objects.is_empty() || request.objects.len() > MAX_DELETE_KEYS {
        return Err(S3Error::new(S3ErrorCode::MalformedXML));
    }
    let mut result = doc::DeleteResult {
        xmlns: S3_NAMESPACE,
        ..Default::default()
    };
    for object in request.objects {
        let outcome = match object.version_id.as_deref() {
            Some(v) if v != "null" => Err(S3Error::invalid_argument(
                "Invalid version id specified",
                "versionId",
                v,
            )),
            _ if object.key.len() > MAX_KEY_BYTES => {
                Err(S3Error::new(S3ErrorCode::KeyTooLongError))
            }
            _ => delete_one(state, &bucket, &req, &object.key).await,
        };
        match outcome {
            Ok(()) if request.quiet => {}
            Ok(()) => result.deleted.push(doc::DeletedEntry {
                key: object.key,
                version_id: object.version_id,
            }),
            Err(e) => result.errors.push(doc::DeleteErrorEntry {
                key: object.key,
                code: e.code.as_str().into(),
                message: e.message,
            }),
        }
    }
    Ok(xml(doc::to_xml(&result)?))
}

/// `x-amz-copy-source`: `[/]bucket/key[?versionId=…]`, URL-encoded.
pub(super) fn parse_copy_source(value: &str) -> S3Result<(String, String)> {
    let (path, version) = match value.split_once('?') {
        Some((p, q)) => (p, q.strip_prefix("versionId=")),
        None => (value, None),
    };
    if version.is_some_and(|v| v != "null") {
        return Err(S3Error::invalid_argument(
            "Invalid version id specified",
            "x-amz-copy-source",
            value,
        ));
    }
    let decoded = crate::urlenc::decode(path);
    let trimmed = decoded.strip_prefix('/').unwrap_or(&decoded);
    match trimmed.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
            Ok((bucket.to_owned(), key.to_owned()))
        }
        _ => Err(S3Error::invalid_argument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            "x-amz-copy-source",
            value,
        )),
    }
}

pub async fn copy_object(state: &AppState, req: S3Request) -> S3Result<S3Response> {
    let (src_bucket, src_key) = parse_copy_source(req.header("x-amz-copy-source").unwrap_or(""))?;
    let bucket = existing_bucket(state, &req.bucket)?;
    let (source, guard) = read_object(state, &src_bucket, &src_key)?;
    check_conditions(&req.headers, &source, Conditions::CopySource)?;
    let replace = match req
        .header("x-amz-metadata-directive")
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("COPY") => false,
        Some("REPLACE") => true,
        Some(other) => {
            return Err(S3Error::invalid_argument(
                "Unknown metadata directive.",
                "x-amz-metadata-directive",
                other,
            ))
        }
    };
    if src_bucket == req.bucket && src_key == req.key && !replace {
        return Err(S3Error::invalid_request("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."));
    }
    let (content_headers, user_metadata) = if replace {
        (
            headers::content_headers(&req.headers),
            headers::user_metadata(&req.headers)?,
        )
    } else {
        (source.content_headers.clone(), source.user_metadata.clone())
    };
    let store = state.store.clone();
    let source_body = source.body.clone();
    let size = source.size;
    let (body_ref, writer) = blocking(move || {
        let _guard = guard;
        store.copy_body(&source_body, size)
    })
    .await?;
    let record = ObjectRecord {
        size,
        etag: source.etag.clone(),
        last_modified_ms: now_ms(),
        content_headers,
        user_metadata,
        checksum: source.checksum.clone(),
        body: body_ref,
    };
    let new_body = writer.map_or(NewBody::Inline, NewBody::Blob);
    let events = events_for(
        state,
        &bucket,
        &req,
        "ObjectCreated:Copy",
        &req.key,
        Some((record.size, &record.etag)),
    )?;
    let committed = commit(
        state,
        &req.bucket,
        &req.key,
        record,
        new_body,
        CommitCondition::None,
        events,
    )
    .await?;
    let result = doc::CopyObjectResult {
        xmlns: S3_NAMESPACE,
        last_modified: iso8601_ms(committed.last_modified_ms),
        etag: quoted_etag(&committed.etag),
    };
    Ok(xml(doc::to_xml(&result)?))
}

#[cfg(test)]
mod tests {
    use super::parse_copy_source;

    #[test]
    fn copy_source_forms() {
        assert_eq!(
            parse_copy_source("/b/k%20x").unwrap(),
            ("b".into(), "k x".into())
        );
        assert_eq!(
            parse_copy_source("b/dir/k?versionId=null").unwrap(),
            ("b".into(), "dir/k".into())
        );
        assert!(parse_copy_source("b").is_err());
        assert!(parse_copy_source("/b/").is_err());
    }
}
