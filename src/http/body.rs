//! The request body as the S3 layer reads it: data chunks with an idle timeout, aws-chunked
//! framing removed (chunk signatures checked, trailers kept), and, when the signature promised
//! a SHA-256 of the payload, a check of that digest at the end, before the caller can commit.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use sha2::{Digest, Sha256};

use super::chunked::{AwsChunkedDecoder, Step};
use crate::auth::PayloadCheck;
use crate::error::{S3Error, S3ErrorCode, S3Result};

pub struct RequestBody {
    incoming: Option<Incoming>,
    idle_timeout: Duration,
    expected_sha256: Option<([u8; 32], Sha256)>,
    chunked: Option<AwsChunked>,
}

/// aws-chunked decoding state: the decoder and the decoded length the client announced.
struct AwsChunked {
    decoder: AwsChunkedDecoder,
    decoded_length: u64,
    seen: u64,
}

impl RequestBody {
    pub fn new(
        incoming: Incoming,
        idle_timeout: Duration,
        payload: PayloadCheck,
        headers: &HeaderMap,
    ) -> S3Result<RequestBody> {
        let (expected_sha256, chunked) = match payload {
            PayloadCheck::Unsigned => (None, None),
            PayloadCheck::Sha256(digest) => (Some((digest, Sha256::new())), None),
            PayloadCheck::AwsChunked { signing, trailer } => {
                let decoded_length = headers
                    .get("x-amz-decoded-content-length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .ok_or_else(|| S3Error::new(S3ErrorCode::MissingContentLength))?;
                let decoder = AwsChunkedDecoder::new(signing, trailer);
                (
                    None,
                    Some(AwsChunked {
                        decoder,
                        decoded_length,
                        seen: 0,
                    }),
                )
            }
        };
        Ok(RequestBody {
            incoming: Some(incoming),
            idle_timeout,
            expected_sha256,
            chunked,
        })
    }

    /// The payload length of an aws-chunked body, as the client announced it.
    pub fn decoded_length(&self) -> Option<u64> {
        self.chunked.as_ref().map(|c| c.decoded_length)
    }

    /// A trailing header of an aws-chunked body (known once the body was read to the end).
    pub fn trailer(&self, name: &str) -> Option<&str> {
        let chunked = self.chunked.as_ref()?;
        chunked
            .decoder
            .trailers()
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The next piece of payload, or None at the end. A client that stalls longer than the
    /// idle timeout gets RequestTimeout; one that disconnects early gets IncompleteBody; a
    /// body that does not match its signed SHA-256 gets XAmzContentSHA256Mismatch at the end.
    pub async fn next_chunk(&mut self) -> S3Result<Option<Bytes>> {
        if self.chunked.is_none() {
            return self.next_raw().await;
        }
        loop {
            let chunked = self.chunked.as_mut().expect("aws-chunked body");
            match chunked.decoder.next()? {
                Step::Data(data) => {
                    chunked.seen += data.len() as u64;
                    if chunked.seen > chunked.decoded_length {
                        return Err(S3Error::new(S3ErrorCode::IncompleteBody));
                    }
                    return Ok(Some(data));
                }
                Step::Done if chunked.seen != chunked.decoded_length => {
                    return Err(S3Error::new(S3ErrorCode::IncompleteBody));
                }
                Step::Done => return Ok(None),
                Step::NeedMore => {
                    let raw = self.next_raw().await?;
                    let decoder = &mut self.chunked.as_mut().expect("aws-chunked body").decoder;
                    match raw {
                        Some(raw) => decoder.push(&raw),
                        None => decoder.finish()?,
                    }
                }
            }
        }
    }

    /// The next piece of the body as it came over the wire.
    async fn next_raw(&mut self) -> S3Result<Option<Bytes>> {
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
