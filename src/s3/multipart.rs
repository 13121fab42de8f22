//! Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads.

use http::StatusCode;

use super::checksum::{
    self, algorithm_named, decode_value, multipart_checksum, to_base64, ChecksumAlgorithm,
    Checksummer, DEFAULT_ALGORITHM,
};
use super::headers::{self, check_conditions, quoted_etag, Conditions};
use super::ingest::receive_upload;
use super::notification::{after_commit, events_for, sequence_numbers};
use super::object::{parse_copy_source, read_object};
use super::{existing_bucket, owner, page_size, S3Request, MAX_XML_BODY};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::http::response::{empty, set_header, xml, S3Response};
use crate::md5::Md5;
use crate::storage::{
    blocking, BlobRef, BodyRef, CompletedUpload, NewBody, ObjectRecord, PartRecord, StoredChecksum,
    UploadListEntry, UploadListQuery, UploadOutcome, UploadRecord,
};
use crate::time_fmt::{iso8601_ms, now_ms};
use crate::urlenc::uri_encode;
use crate::xml::{self as doc, ChecksumFields, S3_NAMESPACE};
use crate::AppState;

const MAX_PART_NUMBER: u16 = 10_000;
/// Every part but the last must be at least this large.
const MIN_PART_SIZE: u64 = 5 << 20;

const COMPOSITE: &str = "COMPOSITE";
const FULL_OBJECT: &str = "FULL_OBJECT";

fn part_number(req: &S3Request) -> S3Result<u16> {
    let raw = req.query.get("partNumber").unwrap_or("");
    raw.parse::<u16>()
        .ok()
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
                "partNumber",
                raw,
            )
        })
}

fn no_such_upload(upload_id: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
    .detail("UploadId", upload_id)
}

/// The upload named by `uploadId`, which must belong to the request's bucket and key.
fn upload_of(state: &AppState, req: &S3Request) -> S3Result<(String, UploadRecord)> {
    let upload_id = req.query.get("uploadId").unwrap_or("").to_owned();
    match state.store.upload(&upload_id)? {
        Some(rec) if rec.bucket == req.bucket && rec.key == req.key => Ok((upload_id, rec)),
        _ => Err(no_such_upload(&upload_id)),
    }
}

/// The checksum type an upload gets, following S3's rules for each algorithm.
fn checksum_type(
    algorithm: Option<ChecksumAlgorithm>,
    requested: Option<&str>,
) -> S3Result<Option<String>> {
    let requested = requested.map(str::to_ascii_uppercase);
    let invalid = |msg: &str| Err(S3Error::invalid_request(msg));
    match (algorithm, requested.as_deref()) {
        (None, None) => Ok(None),
        (None, Some(_)) => invalid("The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."),
        (Some(_), Some(t)) if t != COMPOSITE && t != FULL_OBJECT => {
            Err(S3Error::invalid_argument("Value for x-amz-checksum-type header is invalid.", "x-amz-checksum-type", t))
        }
        (Some(ChecksumAlgorithm::Crc64Nvme), Some(COMPOSITE)) => {
            invalid("The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.")
        }
        (Some(ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256), Some(FULL_OBJECT)) => {
            invalid("The FULL_OBJECT checksum type cannot be used with the sha1 or sha256 checksum algorithm.")
        }
        (Some(ChecksumAlgorithm::Crc64Nvme), _) => Ok(Some(FULL_OBJECT.into())),
        (Some(_), Some(t)) => Ok(Some(t.to_owned())),
        (Some(_), None) => Ok(Some(COMPOSITE.into())),
    }
}

/// The algorithm parts of an upload are checksummed with.
fn part_algorithm(upload: &UploadRecord) -> ChecksumAlgorithm {
    upload
        .checksum_algorithm
        .as_deref()
        .and_then(ChecksumAlgorithm::from_name)
        .unwrap_or(DEFAULT_ALGORITHM)
}

pub async fn create_multipart_upload(state: &AppState, req: S3Request) -> S3Result<S3Response> {
    existing_bucket(state, &req.bucket)?;
    let algorithm = match req.header("x-amz-checksum-algorithm") {
        Some(v) => Some(algorithm_named("x-amz-checksum-algorithm", v)?),
        None => None,
    };
    let kind = checksum_type(algorithm, req.header("x-amz-checksum-type"))?;
    let record = UploadRecord {
        bucket: req.bucket.clone(),
        key: req.key.clone(),
        initiated_ms: now_ms(),
        content_headers: headers::content_headers(&req.headers),
        user_metadata: headers::user_metadata(&req.headers)?,
        checksum_algorithm: algorithm.map(|a| a.name().to_owned()),
        checksum_type: kind.clone(),
    };
    let store = state.store.clone();
    let upload_id = match blocking(move || store.create_upload(&record)).await? {
        UploadOutcome::Done(id) => id,
        _ => return Err(S3Error::no_such_bucket(&req.bucket)),
    };
    state.store.make_durable().await?;
    let result = doc::InitiateMultipartUploadResult {
        xmlns: S3_NAMESPACE,
        bucket: req.bucket.clone(),
        key: req.key.clone(),
        upload_id,
    };
    let mut resp = xml(doc::to_xml(&result)?);
    if let Some(a) = algorithm {
        set_header(&mut resp, "x-amz-checksum-algorithm", a.name());
    }
    if let Some(k) = &kind {
        set_header(&mut resp, "x-amz-checksum-type", k);
    }
    Ok(resp)
}

/// Commits a received part; NoSuchUpload when the upload went away meanwhile.
async fn commit_part(
    state: &AppState,
    upload_id: &str,
    number: u16,
    record: PartRecord,
    body: NewBody,
) -> S3Result<PartRecord> {
    let NewBody::Blob(writer) = body else {
        return Err(S3Error::internal("a part was received without a blob"));
    };
    let store = state.store.clone();
    let id = upload_id.to_owned();
    let (outcome, record) = blocking(move || {
        let outcome = store.commit_part(&id, number, &record, writer);
        (outcome, record)
    })
    .await;
    match outcome? {
        UploadOutcome::Done(()) => {
            state.store.make_durable().await?;
            Ok(record)
        }
        _ => Err(no_such_upload(upload_id)),
    }
}

pub async fn upload_part(state: &AppState, mut req: S3Request) -> S3Result<S3Response> {
    let number = part_number(&req)?;
    let (upload_id, upload) = upload_of(state, &req)?;
    let algorithm = part_algorithm(&upload);
    let ingested = receive_upload(&state.store, &mut req, algorithm, false).await?;
    if upload.checksum_algorithm.is_some() && ingested.checksum.0 != algorithm {
        return Err(S3Error::invalid_request(format!(
            "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
            algorithm.name().to_ascii_lowercase(),
            ingested.checksum.0.name().to_ascii_lowercase()
        )));
    }
    let BodyRef::Chunks(blob) = ingested.body_ref else {
        return Err(S3Error::internal("a part was received inline"));
    };
    let record = PartRecord {
        blob,
        etag: hex::encode(ingested.md5),
        last_modified_ms: now_ms(),
        checksum: Some(ingested.stored_checksum()),
    };
    let record = commit_part(state, &upload_id, number, record, ingested.body).await?;
    let mut resp = empty(StatusCode::OK);
    set_header(&mut resp, "etag", &quoted_etag(&record.etag));
    if let Some(c) = &record.checksum {
        set_header(
            &mut resp,
            &format!("x-amz-checksum-{}", c.algorithm.to_ascii_lowercase()),
            &c.value,
        );
    }
    Ok(resp)
}

/// `x-amz-copy-source-range: bytes=first-last`, inclusive, within an object of `size`.
fn copy_source_range(value: Option<&str>, size: u64) -> S3Result<std::ops::Range<u64>> {
    let Some(value) = value else {
        return Ok(0..size);
    };
    let parsed = value
        .trim()
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)));
    match parsed {
        Some((first, last)) if first <= last && last < size => Ok(first..last + 1),
        Some(_) => Err(S3Error::invalid_argument(
            format!("Range specified is not valid for source object of size: {size}"),
            "x-amz-copy-source-range",
            value,
        )),
        None => Err(S3Error::invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
            "x-amz-copy-source-range",
            value,
        )),
    }
}

pub async fn upload_part_copy(state: &AppState, req: S3Request) -> S3Result<S3Response> {
    let number = part_number(&req)?;
    let (upload_id, upload) = upload_of(state, &req)?;
    let (src_bucket, src_key) = parse_copy_source(req.header("x-amz-copy-source").unwrap_or(""))?;
    let (source, guard) = read_object(state, &src_bucket, &src_key)?;
    check_conditions(&req.headers, &source, Conditions::CopySource)?;
    let range = copy_source_range(req.header("x-amz-copy-source-range"), source.size)?;
    let algorithm = part_algorithm(&upload);
    let store = state.store.clone();
    let (writer, md5, digest) = blocking(move || {
        let _guard = guard;
        let mut md5 = Md5::new();
        let mut sum = Checksummer::new(algorithm);
        let writer = store.copy_range(&source.body, range, |piece| {
            md5.update(piece);
            sum.update(piece);
        })?;
        Ok::<_, crate::storage::StorageError>((writer, md5.finalize(), sum.finish()))
    })
    .await?;
    let record = PartRecord {
        blob: writer.blob_ref(),
        etag: hex::encode(md5),
        last_modified_ms: now_ms(),
        checksum: Some(StoredChecksum {
            algorithm: algorithm.name().into(),
            value: to_base64(&digest),
            kind: FULL_OBJECT.into(),
        }),
    };
    let record = commit_part(state, &upload_id, number, record, NewBody::Blob(writer)).await?;
    let result = doc::CopyPartResult {
        xmlns: S3_NAMESPACE,
        last_modified: iso8601_ms(record.last_modified_ms),
        etag: quoted_etag(&record.etag),
    };
    Ok(xml(doc::to_xml(&result)?))
}

fn invalid_part(number: u32) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InvalidPart,
        "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
    )
    .detail("PartNumber", number.to_string())
}

fn complete_result(
    req: &S3Request,
    etag: &str,
    checksum: Option<&StoredChecksum>,
) -> S3Result<S3Response> {
    let host = req.header("host").unwrap_or("localhost");
    let mut result = doc::CompleteMultipartUploadResult {
        xmlns: S3_NAMESPACE,
        location: format!(
            "http://{host}/{}/{}",
            req.bucket,
            uri_encode(&req.key, true)
        ),
        bucket: req.bucket.clone(),
        key: req.key.clone(),
        etag: quoted_etag(etag),
        checksum_type: checksum.map(|c| c.kind.clone()),
        ..Default::default()
    };
    if let Some(c) = checksum {
        result.set_checksums(ChecksumFields::of(&c.algorithm, &c.value));
    }
    Ok(xml(doc::to_xml(&result)?))
}

pub async fn complete_multipart_upload(
    state: &AppState,
    mut req: S3Request,
) -> S3Result<S3Response> {
    let upload_id = req.query.get("uploadId").unwrap_or("").to_owned();
    let body = req
        .body
        .collect_capped(MAX_XML_BODY, S3ErrorCode::MalformedXML)
        .await?;
    let request: doc::CompleteMultipartUpload = doc::from_xml(&body)?;
    let upload = match state.store.upload(&upload_id)? {
        Some(u) if u.bucket == req.bucket && u.key == req.key => u,
        Some(_) => return Err(no_such_upload(&upload_id)),
        // A repeated Complete of an upload that finished as this object answers as before.
        None => return repeated_complete(state, &req, &upload_id),
    };
    if request.parts.is_empty() {
        return Err(S3Error::new(S3ErrorCode::MalformedXML));
    }
    if request
        .parts
        .windows(2)
        .any(|w| w[0].part_number >= w[1].part_number)
    {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidPartOrder,
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
        ));
    }
    let (stored, _) = state.store.parts(&upload_id, 0, usize::MAX)?;
    let algorithm = part_algorithm(&upload);
    let mut chosen: Vec<(u16, PartRecord)> = Vec::with_capacity(request.parts.len());
    for listed in &request.parts {
        let found = u16::try_from(listed.part_number)
            .ok()
            .and_then(|n| stored.iter().find(|(number, _)| *number == n))
            .filter(|(_, part)| part.etag == listed.etag.trim().trim_matches('"'))
            .ok_or_else(|| invalid_part(listed.part_number))?;
        let part_checksum = found.1.checksum.as_ref();
        match listed.checksums().get(algorithm.name()) {
            Some(given) if part_checksum.is_none_or(|c| c.value != given) => return Err(invalid_part(listed.part_number)),
            None if upload.checksum_algorithm.is_some() => {
                return Err(S3Error::invalid_request(format!(
                    "The upload was created using a {} checksum. The complete request must include the checksum for each part. It was missing for part {} in the request.",
                    algorithm.name().to_ascii_lowercase(),
                    listed.part_number
                )))
            }
            _ => {}
        }
        chosen.push(found.clone());
    }
    let last = chosen.len() - 1;
    if let Some((number, part)) = chosen[..last]
        .iter()
        .find(|(_, p)| p.blob.size < MIN_PART_SIZE)
    {
        return Err(S3Error::new(S3ErrorCode::EntityTooSmall)
            .detail("ProposedSize", part.blob.size.to_string())
            .detail("MinSizeAllowed", MIN_PART_SIZE.to_string())
            .detail("PartNumber", number.to_string()));
    }
    let checksum = object_checksum(&upload, algorithm, &chosen)?;
    if let (Some(requested), Some(c)) = (checksum::requested(&req.headers)?, &checksum) {
        if c.kind == FULL_OBJECT && requested.algorithm == algorithm {
            requested.verify(&decode_value(algorithm, &c.value)?)?;
        }
    }
    let mut etag_md5 = Md5::new();
    for (_, part) in &chosen {
        etag_md5.update(&hex::decode(&part.etag).map_err(S3Error::internal)?);
    }
    let etag = format!("{}-{}", hex::encode(etag_md5.finalize()), chosen.len());
    let blobs: Vec<BlobRef> = chosen.iter().map(|(_, p)| p.blob).collect();
    let record = ObjectRecord {
        size: blobs.iter().map(|b| b.size).sum(),
        etag: etag.clone(),
        last_modified_ms: now_ms(),
        content_headers: upload.content_headers.clone(),
        user_metadata: upload.user_metadata.clone(),
        checksum: checksum.clone(),
        body: BodyRef::Parts(blobs),
    };
    let completed = CompletedUpload {
        bucket: req.bucket.clone(),
        key: req.key.clone(),
        etag: etag.clone(),
        checksum: checksum.clone(),
        completed_ms: now_ms(),
    };
    let chosen_ids: Vec<(u16, u64)> = chosen.iter().map(|(n, p)| (*n, p.blob.blob_id)).collect();
    let all_ids: Vec<(u16, u64)> = stored.iter().map(|(n, p)| (*n, p.blob.blob_id)).collect();
    let bucket = existing_bucket(state, &req.bucket)?;
    let events = events_for(
        state,
        &bucket,
        &req,
        "ObjectCreated:CompleteMultipartUpload",
        &req.key,
        Some((record.size, &record.etag)),
    )?;
    let recorded = sequence_numbers(&events);
    let store = state.store.clone();
    let id = upload_id.clone();
    let outcome = blocking(move || {
        store.complete_upload(&id, &chosen_ids, &all_ids, &record, &completed, &events)
    })
    .await?;
    match outcome {
        UploadOutcome::Done(()) => {
            after_commit(state, &recorded).await?;
        }
        UploadOutcome::NoSuchBucket => return Err(S3Error::no_such_bucket(&req.bucket)),
        UploadOutcome::NoSuchUpload => return Err(no_such_upload(&upload_id)),
        UploadOutcome::PartChanged => return Err(invalid_part(0)),
    }
    complete_result(&req, &etag, checksum.as_ref())
}

/// The whole object's checksum: COMPOSITE (digest of part digests, "-N") or FULL_OBJECT
/// (CRC combined from the parts'); uploads created without an algorithm get S3's default.
fn object_checksum(
    upload: &UploadRecord,
    algorithm: ChecksumAlgorithm,
    parts: &[(u16, PartRecord)],
) -> S3Result<Option<StoredChecksum>> {
    let mut digests = Vec::with_capacity(parts.len());
    for (_, part) in parts {
        match &part.checksum {
            Some(c) if c.algorithm == algorithm.name() => {
                digests.push((decode_value(algorithm, &c.value)?, part.blob.size));
            }
            // Parts stored without a matching checksum: the object carries none.
            _ => return Ok(None),
        }
    }
    let kind = upload
        .checksum_type
        .clone()
        .unwrap_or_else(|| FULL_OBJECT.into());
    let Some(digest) = multipart_checksum(algorithm, kind == FULL_OBJECT, &digests) else {
        return Ok(None);
    };
    let value = if kind == FULL_OBJECT {
        to_base64(&digest)
    } else {
        format!("{}-{}", to_base64(&digest), parts.len())
    };
    Ok(Some(StoredChecksum {
        algorithm: algorithm.name().into(),
        value,
        kind,
    }))
}

fn repeated_complete(state: &AppState, req: &S3Request, upload_id: &str) -> S3Result<S3Response> {
    let done = state
        .store
        .completed_upload(upload_id)?
        .filter(|d| d.bucket == req.bucket && d.key == req.key);
    let current = state.store.object(&req.bucket, &req.key)?;
    match (done, current) {
        (Some(done), Some(object)) if object.etag == done.etag => {
            complete_result(req, &done.etag, done.checksum.as_ref())
        }
        _ => Err(no_such_upload(upload_id)),
    }
}

pub async fn abort_multipart_upload(state: &AppState, req: S3Request) -> S3Result<S3Response> {
    let (upload_id, _) = upload_of(state, &req)?;
    let store = state.store.clone();
    let id = upload_id.clone();
    match blocking(move || store.abort_upload(&id)).await? {
        UploadOutcome::Done(()) => {
            state.store.make_durable().await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        _ => Err(no_such_upload(&upload_id)),
    }
}

pub async fn list_parts(state: &AppState, req: S3Request) -> S3Result<S3Response> {
    let (upload_id, upload) = upload_of(state, &req)?;
    let max_parts = page_size(&req, "max-parts")?;
    let marker_raw = req.query.get("part-number-marker").unwrap_or("0");
    let marker = marker_raw.parse::<u16>().map_err(|_| {
        S3Error::invalid_argument(
            "Provided part-number-marker not an integer",
            "part-number-marker",
            marker_raw,
        )
    })?;
    let (parts, is_truncated) = state.store.parts(&upload_id, marker, max_parts)?;
    let next = is_truncated
        .then(|| parts.last().map(|(n, _)| *n))
        .flatten();
    let parts = parts
        .into_iter()
        .map(|(number, p)| {
            let mut entry = doc::PartEntry {
                part_number: number,
                last_modified: iso8601_ms(p.last_modified_ms),
                etag: quoted_etag(&p.etag),
                size: p.blob.size,
                ..Default::default()
            };
            if let (Some(c), Some(_)) = (&p.checksum, &upload.checksum_algorithm) {
                entry.set_checksums(ChecksumFields::of(&c.algorithm, &c.value));
            }
            entry
        })
        .collect();
    let result = doc::ListPartsResult {
        xmlns: S3_NAMESPACE,
        bucket: req.bucket.clone(),
        key: req.key.clone(),
        upload_id,
        initiator: owner(),
        owner: owner(),
        storage_class: "STANDARD",
        part_number_marker: marker,
        next_part_number_marker: next,
        max_parts,
        is_truncated,
        checksum_algorithm: upload.checksum_algorithm.clone(),
        checksum_type: upload.checksum_type.clone(),
        parts,
    };
    Ok(xml(doc::to_xml(&result)?))
}

pub async fn list_multipart_uploads(state: &AppState, req: S3Request) -> S3Result<S3Response> {
    existing_bucket(state, &req.bucket)?;
    let max_uploads = page_size(&req, "max-uploads")?;
    let url_encode = match req.query.get("encoding-type") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("url") => true,
        Some(v) => {
            return Err(S3Error::invalid_argument(
                "Invalid Encoding Method specified in Request",
                "encoding-type",
                v,
            ))
        }
    };
    let encode = |s: &str| {
        if url_encode {
            uri_encode(s, true)
        } else {
            s.to_owned()
        }
    };
    let prefix = req.query.get("prefix").unwrap_or("");
    let delimiter = req.query.get("delimiter").filter(|d| !d.is_empty());
    let key_marker = req.query.get("key-marker").filter(|m| !m.is_empty());
    let upload_id_marker = req
        .query
        .get("upload-id-marker")
        .filter(|m| !m.is_empty() && key_marker.is_some());
    let page = state.store.list_uploads(&UploadListQuery {
        bucket: &req.bucket,
        prefix,
        delimiter,
        key_marker,
        upload_id_marker,
        max_uploads,
    })?;
    let (next_key_marker, next_upload_id_marker) = match (page.is_truncated, page.entries.last()) {
        (true, Some(UploadListEntry::Upload { upload_id, record })) => {
            (Some(encode(&record.key)), Some(upload_id.clone()))
        }
        (true, Some(UploadListEntry::CommonPrefix(p))) => (Some(encode(p)), None),
        _ => (None, None),
    };
    let mut uploads = Vec::new();
    let mut common_prefixes = Vec::new();
    for entry in page.entries {
        match entry {
            UploadListEntry::Upload { upload_id, record } => uploads.push(doc::UploadEntry {
                key: encode(&record.key),
                upload_id,
                initiator: owner(),
                owner: owner(),
                storage_class: "STANDARD",
                initiated: iso8601_ms(record.initiated_ms),
                checksum_algorithm: record.checksum_algorithm,
                checksum_type: record.checksum_type,
            }),
            UploadListEntry::CommonPrefix(p) => {
                common_prefixes.push(doc::CommonPrefix { prefix: encode(&p) })
            }
        }
    }
    let result = doc::ListMultipartUploadsResult {
        xmlns: S3_NAMESPACE,
        bucket: req.bucket.clone(),
        key_marker: encode(key_marker.unwrap_or("")),
        upload_id_marker: upload_id_marker.unwrap_or("").to_owned(),
        next_key_marker,
        next_upload_id_marker,
        prefix: encode(prefix),
        delimiter: delimiter.map(encode),
        max_uploads,
        is_truncated: page.is_truncated,
        encoding_type: url_encode.then_some("url"),
        uploads,
        common_prefixes,
    };
    Ok(xml(doc::to_xml(&result)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_type_rules() {
        use ChecksumAlgorithm::*;
        assert_eq!(checksum_type(None, None).unwrap(), None);
        assert_eq!(
            checksum_type(Some(Crc32), None).unwrap().as_deref(),
            Some(COMPOSITE)
        );
        assert_eq!(
            checksum_type(Some(Crc32), Some("full_object"))
                .unwrap()
                .as_deref(),
            Some(FULL_OBJECT)
        );
        assert_eq!(
            checksum_type(Some(Crc64Nvme), None).unwrap().as_deref(),
            Some(FULL_OBJECT)
        );
        assert!(checksum_type(Some(Crc64Nvme), Some(COMPOSITE)).is_err());
        assert!(checksum_type(Some(Sha256), Some(FULL_OBJECT)).is_err());
        assert!(checksum_type(None, Some(COMPOSITE)).is_err());
    }

    #[test]
    fn copy_source_ranges() {
        assert_eq!(copy_source_range(None, 10).unwrap(), 0..10);
        assert_eq!(copy_source_range(Some("bytes=2-5"), 10).unwrap(), 2..6);
        assert!(copy_source_range(Some("bytes=5-10"), 10).is_err());
        assert!(copy_source_range(Some("bytes=-5"), 10).is_err());
    }
}
