//! The one byte loop of uploads: reads the request body, cuts it into 64 KiB chunks, hashes
//! each chunk once (MD5 for the ETag plus the requested checksum) and appends it to a blob, on
//! a blocking thread. Bodies that end up no larger than the inline limit never touch `chunks`.

use bytes::BytesMut;
use md5::{Digest, Md5};

use super::checksum::{ChecksumAlgorithm, Checksummer};
use crate::error::{S3Error, S3Result};
use crate::http::body::RequestBody;
use crate::storage::{blocking, BlobWriter, BodyRef, NewBody, Store, CHUNK_SIZE, INLINE_MAX};

/// A fully received body, not yet visible to anyone.
pub struct Ingested {
    pub size: u64,
    pub md5: [u8; 16],
    pub checksum: Option<(ChecksumAlgorithm, Vec<u8>)>,
    pub body_ref: BodyRef,
    pub body: NewBody,
}

struct Digests {
    md5: Md5,
    checksum: Option<(ChecksumAlgorithm, Checksummer)>,
}

impl Digests {
    fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        if let Some((_, c)) = self.checksum.as_mut() {
            c.update(data);
        }
    }
}

pub async fn ingest(
    store: &Store,
    body: &mut RequestBody,
    checksum: Option<ChecksumAlgorithm>,
) -> S3Result<Ingested> {
    let mut digests = Digests {
        md5: Md5::new(),
        checksum: checksum.map(|a| (a, Checksummer::new(a))),
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
        None if buffer.len() <= INLINE_MAX => {
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
        checksum: digests.checksum.map(|(a, c)| (a, c.finish())),
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
