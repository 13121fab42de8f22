//! The one byte loop of uploads: reads the request body, cuts it into 64 KiB chunks, hashes
//! each chunk once (MD5 for the ETag plus one checksum) and appends it to a blob, with MD5
//! on one blocking thread per upload and the checksum and the writing on another, so reading
//! the socket, hashing and writing all overlap. Bodies no larger than the inline limit never
//! touch a blob. [`receive_upload`] wraps it with the checks every upload (PutObject,
//! UploadPart) makes.

use bytes::{Bytes, BytesMut};

use super::checksum::{self, to_base64, ChecksumAlgorithm, Checksummer};
use super::object::content_md5;
use super::S3Request;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::http::body::RequestBody;
use crate::md5::Md5;
use crate::storage::{
    start_blocking, BlobWriter, BodyRef, NewBody, Store, StoredChecksum, CHUNK_SIZE, INLINE_MAX,
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

/// Pieces queued at each of an upload's two hand-offs (reader → hasher → writer): bounds
/// memory per upload (8 frames in all, each at most one read of hyper's buffer, ~400 KiB)
/// while letting socket reads, hashing and writing overlap.
const CHUNKS_IN_FLIGHT: usize = 4;

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
    // Small bodies stay on this task: they are stored inline and never touch a blob.
    let mut head = BytesMut::new();
    while head.len() <= INLINE_MAX {
        match body.next_chunk().await? {
            Some(data) => head.extend_from_slice(&data),
            None if allow_inline => {
                digests.update(&head);
                return Ok(Ingested {
                    size: head.len() as u64,
                    md5: digests.md5.finalize(),
                    checksum: (algorithm, digests.checksum.finish()),
                    body_ref: BodyRef::Inline(head.to_vec()),
                    body: NewBody::Inline,
                });
            }
            None => break,
        }
    }
    let (chunks, worker) = spawn_blob_worker(store.clone(), digests);
    let received = forward_chunks(body, head, &chunks).await;
    drop(chunks);
    let (writer, digests) = worker.await?;
    received?;
    let (body_ref, size) = (writer.body_ref(), writer.size());
    Ok(Ingested {
        size,
        md5: digests.md5.finalize(),
        checksum: (algorithm, digests.checksum.finish()),
        body_ref,
        body: NewBody::Blob(writer),
    })
}

/// Hands the body (after `head`, already read) to the worker in pieces of at least
/// CHUNK_SIZE: small frames are gathered, a frame that big goes as it is (no copy). Stops
/// early when the worker is gone (it failed; its error is the one to report).
async fn forward_chunks(
    body: &mut RequestBody,
    head: BytesMut,
    chunks: &tokio::sync::mpsc::Sender<Bytes>,
) -> S3Result<()> {
    let mut buffer = head;
    loop {
        let piece = match body.next_chunk().await? {
            None => break,
            Some(data) if buffer.is_empty() && data.len() >= CHUNK_SIZE => data,
            Some(data) => {
                buffer.extend_from_slice(&data);
                if buffer.len() < CHUNK_SIZE {
                    continue;
                }
                buffer.split().freeze()
            }
        };
        if chunks.send(piece).await.is_err() {
            return Ok(());
        }
    }
    if !buffer.is_empty() {
        let _ = chunks.send(buffer.freeze()).await;
    }
    Ok(())
}

/// Two blocking threads for the whole upload, so hashing and writing overlap: one computes
/// the MD5 (the ETag) of each chunk and passes it on, the other adds it to the checksum and
/// appends it to a new blob. MD5 cannot be split and sets the pace of one upload, so its
/// thread does nothing else: the checksum rides with the write, which has time to spare (a
/// SHA-256 checksum costs about half of what MD5 does). Copying into the page cache can cost
/// as much as MD5 itself on a VM whose fresh memory faults in from the host: 64 MiB PUTs ran
/// at half speed with both on one thread. If the upload fails, the writer is dropped there
/// and its blob goes to gc.
fn spawn_blob_worker(
    store: Store,
    digests: Digests,
) -> (
    tokio::sync::mpsc::Sender<Bytes>,
    impl std::future::Future<Output = S3Result<(BlobWriter, Digests)>>,
) {
    let Digests {
        mut md5,
        mut checksum,
    } = digests;
    let (chunks, mut incoming) = tokio::sync::mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
    let (hashed, mut to_write) = tokio::sync::mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
    let written = start_blocking(move || {
        let mut writer = BlobWriter::begin(&store)?;
        while let Some(chunk) = to_write.blocking_recv() {
            checksum.update(&chunk);
            writer.append(&chunk)?;
        }
        S3Result::Ok((writer, checksum))
    });
    let hashing = start_blocking(move || {
        while let Some(chunk) = incoming.blocking_recv() {
            md5.update(&chunk);
            if hashed.blocking_send(chunk).is_err() {
                break; // the writer failed; its error is the one to report
            }
        }
        md5
    });
    let finished = async move {
        let md5 = hashing.await;
        let (writer, checksum) = written.await?;
        Ok((writer, Digests { md5, checksum }))
    };
    (chunks, finished)
}
