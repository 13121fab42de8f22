//! The one byte loop of uploads: reads the request body, cuts it into 64 KiB chunks, hashes
//! each chunk once (MD5 for the ETag plus one checksum) and appends it to a blob, on a
//! blocking thread. Bodies that end up no larger than the inline limit never touch `chunks`.
//! [`receive_upload`] wraps it with the checks every upload (PutObject, UploadPart) makes.

use bytes::BytesMut;
use md5::{Digest, Md5};

use super::checksum::{self, to_base64, ChecksumAlgorithm, Checksummer};
use super::object::content_md5;
use super::S3Request;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::http::body::RequestBody;
use crate::storage::{
    blocking, BlobWriter, BodyRef, NewBody, Store, StoredChecksum, CHUNK_SIZE, INLINE_MAX,
};

/// The largest single PUT (and part) S3 accepts.
pub const MAX_PUT_SIZE: u64 = 5 << 30;

/// A fully received body, not yet visible to anyone.
pub struct Ingested {
    pub size: u64,
    pub md5: [u8; 16],
    pub checksum: (ChecksumAlgorithm, Vec<u8>),
    pub body_ref: BodyRef,
    pub body: NewBody,
}

impl Ingested {
    pub fn stored_checksum(&self) -> StoredChecksum {
        StoredChecksum {
            algorithm: self.checksum.0.name().into(),
            value: to_base64(&self.checksum.1),
            kind: "FULL_OBJECT".into(),
        }
    }
}

struct Digests {
    md5: Md5,
    checksum: Checksummer,
}

impl Digests {
    fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        self.checksum.update(data);
    }
}

/// A PUT must say how long its body is (or stream it chunked), and fit in one PUT.
fn check_length(req: &S3Request) -> S3Result<()> {
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let declared = match req.body.decoded_length() {
        Some(decoded) => Some(Ok(decoded)),
        None => req
            .header("content-length")
            .map(|v| v.trim().parse::<u64>()),
    };
    match declared {
        None if chunked => Ok(()),
        None => Err(S3Error::new(S3ErrorCode::MissingContentLength)),
        Some(Err(_)) => Err(S3Error::invalid_argument(
            "Invalid Content-Length",
            "Content-Length",
            req.header("content-length").unwrap_or(""),
        )),
        Some(Ok(len)) if len > MAX_PUT_SIZE => Err(S3Error::new(S3ErrorCode::EntityTooLarge)
            .detail("ProposedSize", len.to_string())
            .detail("MaxSizeAllowed", MAX_PUT_SIZE.to_string())),
        Some(Ok(_)) => Ok(()),
    }
}

/// Receives an upload's body with every check S3 makes: length, Content-MD5, the requested
/// checksum (header or trailer; `default_algorithm` is computed when none is named).
/// Nothing is visible until the caller commits; on any error the blob goes to gc.
pub async fn receive_upload(
    store: &Store,
    req: &mut S3Request,
    default_algorithm: ChecksumAlgorithm,
    allow_inline: bool,
) -> S3Result<Ingested> {
    check_length(req)?;
    let md5 = content_md5(req)?;
    let mut requested = checksum::requested(&req.headers)?;
    let algorithm = requested
        .as_ref()
        .map_or(default_algorithm, |r| r.algorithm);
    let ingested = ingest(store, &mut req.body, algorithm, allow_inline).await?;
    if md5.is_some_and(|expected| expected != ingested.md5) {
        return Err(S3Error::new(S3ErrorCode::BadDigest)
            .detail("ExpectedDigest", to_base64(&md5.unwrap_or_default()))
            .detail("CalculatedDigest", to_base64(&ingested.md5)));
    }
    if let Some(requested) = requested.as_mut() {
        requested.resolve_trailer(&req.body)?;
        requested.verify(&ingested.checksum.1)?;
    }
    Ok(ingested)
}

pub async fn ingest(
    store: &Store,
    body: &mut RequestBody,
    algorithm: ChecksumAlgorithm,
    allow_inline: bool,
) -> S3Result<Ingested> {
    let mut digests = Digests {
        md5: Md5::new(),
        checksum: Checksummer::new(algorithm),
    };
    let mut buffer = BytesMut::with_capacity(INLINE_MAX);
    let mut writer: Option<BlobWriter> = None;
    while let Some(data) = body.next_chunk().await? {
        let mut data = &data[..];
        while !data.is_empty() {
            let take = (CHUNK_SIZE - buffer.len()).min(data.len());
            buffer.extend_from_slice(&data[..take]);
            data = &data[take..];
            if buffer.len() == CHUNK_SIZE {
                let chunk = buffer.split().freeze();
                buffer.reserve(CHUNK_SIZE);
                let w = match writer.take() {
                    Some(w) => w,
                    None => begin_blob(store).await?,
                };
                let (w, d) = store_chunk(w, digests, chunk).await?;
                (writer, digests) = (Some(w), d);
            }
        }
    }
    let (body_ref, new_body, size) = match writer {
        None if allow_inline && buffer.len() <= INLINE_MAX => {
            digests.update(&buffer);
            let size = buffer.len() as u64;
            (BodyRef::Inline(buffer.to_vec()), NewBody::Inline, size)
        }
        maybe_writer => {
            let mut w = match maybe_writer {
                Some(w) => w,
                None => begin_blob(store).await?,
            };
            if !buffer.is_empty() {
                (w, digests) = store_chunk(w, digests, buffer.freeze()).await?;
            }
            let (body_ref, size) = (w.body_ref(), w.size());
            (body_ref, NewBody::Blob(w), size)
        }
    };
    Ok(Ingested {
        size,
        md5: digests.md5.finalize().into(),
        checksum: (algorithm, digests.checksum.finish()),
        body_ref,
        body: new_body,
    })
}

async fn begin_blob(store: &Store) -> S3Result<BlobWriter> {
    let store = store.clone();
    Ok(blocking(move || BlobWriter::begin(&store)).await?)
}

/// Hashes and stores one chunk off the async workers; hands writer and digests back.
async fn store_chunk(
    mut writer: BlobWriter,
    mut digests: Digests,
    chunk: bytes::Bytes,
) -> S3Result<(BlobWriter, Digests)> {
    blocking(move || {
        digests.update(&chunk);
        writer.append(&chunk).map_err(S3Error::from)?;
        Ok((writer, digests))
    })
    .await
}
