//! The request body as the S3 layer reads it: data chunks with an idle timeout, and, when
//! the signature promised a SHA-256 of the payload, a check of that digest at the end, before
//! the caller can commit anything.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use sha2::{Digest, Sha256};

use crate::error::{S3Error, S3ErrorCode, S3Result};

pub struct RequestBody {
    incoming: Option<Incoming>,
    idle_timeout: Duration,
    expected_sha256: Option<([u8; 32], Sha256)>,
}

impl RequestBody {
    pub fn new(
        incoming: Incoming,
        idle_timeout: Duration,
        expected_sha256: Option<[u8; 32]>,
    ) -> RequestBody {
        RequestBody {
            incoming: Some(incoming),
            idle_timeout,
            expected_sha256: expected_sha256.map(|d| (d, Sha256::new())),
        }
    }

    /// The next piece of data, or None at the end. A client that stalls longer than the idle
    /// timeout gets RequestTimeout; one that disconnects early gets IncompleteBody; a body
    /// that does not match its signed SHA-256 gets XAmzContentSHA256Mismatch at the end.
    pub async fn next_chunk(&mut self) -> S3Result<Option<Bytes>> {
        loop {
            let Some(incoming) = self.incoming.as_mut() else {
                return Ok(None);
            };
            let frame = match tokio::time::timeout(self.idle_timeout, incoming.frame()).await {
                Err(_) => return Err(S3Error::new(S3ErrorCode::RequestTimeout)),
                Ok(Some(Err(e))) => {
                    tracing::debug!(error = %e, "request body ended early");
                    return Err(S3Error::new(S3ErrorCode::IncompleteBody));
                }
                Ok(Some(Ok(frame))) => frame,
                Ok(None) => {
                    self.incoming = None;
                    self.verify_sha256()?;
                    return Ok(None);
                }
            };
            if let Ok(data) = frame.into_data() {
                if data.is_empty() {
                    continue;
                }
                if let Some((_, hasher)) = self.expected_sha256.as_mut() {
                    hasher.update(&data);
                }
                return Ok(Some(data));
            }
        }
    }

    fn verify_sha256(&mut self) -> S3Result<()> {
        if let Some((expected, hasher)) = self.expected_sha256.take() {
            let actual: [u8; 32] = hasher.finalize().into();
            if actual != expected {
                return Err(S3Error::new(S3ErrorCode::XAmzContentSHA256Mismatch)
                    .detail("ClientComputedContentSHA256", hex::encode(expected))
                    .detail("S3ComputedContentSHA256", hex::encode(actual)));
            }
        }
        Ok(())
    }

    /// Reads the whole body, which must be at most `cap` bytes; past that, `too_large`.
    pub async fn collect_capped(&mut self, cap: usize, too_large: S3ErrorCode) -> S3Result<Bytes> {
        let mut buf = BytesMut::new();
        while let Some(chunk) = self.next_chunk().await? {
            if buf.len() + chunk.len() > cap {
                return Err(S3Error::new(too_large));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }
}
