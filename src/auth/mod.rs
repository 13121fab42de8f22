//! Request authentication: SigV4 (Authorization header and presigned query), SigV2 (header
//! and presigned query, which older SDKs still produce for presigned URLs), clock skew, and
//! what the body must hash to. Knows nothing of storage or XML.

mod canonical;
pub use canonical::decode as canonical_decode;
mod credentials;
mod sigv2;
mod sigv4;
mod streaming;

use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method};

pub use credentials::{Credential, Credentials};
pub use streaming::ChunkSigning;

use crate::error::{S3Error, S3ErrorCode, S3Result};

/// S3 refuses requests whose clock differs from its own by more than this.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);
/// The longest a SigV4 presigned URL may be valid.
pub const MAX_PRESIGNED_EXPIRY: u64 = 7 * 24 * 3600;

/// Who made the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub access_key: String,
}

/// What the request body must hash to, as promised by the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadCheck {
    /// The body is not covered by the signature (UNSIGNED-PAYLOAD, presigned, SigV2).
    Unsigned,
    /// x-amz-content-sha256 carried the SHA-256 of the body.
    Sha256([u8; 32]),
    /// An aws-chunked body (x-amz-content-sha256: STREAMING-…): chunk signatures to verify
    /// when signed, and trailing headers after the last chunk when `trailer`.
    AwsChunked {
        signing: Option<ChunkSigning>,
        trailer: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub payload: PayloadCheck,
}

/// The parts of a request a signature covers, as they arrived on the wire.
pub struct SignedParts<'a> {
    pub method: &'a Method,
    /// Path exactly as sent (still percent-encoded).
    pub raw_path: &'a str,
    /// Query string exactly as sent, without '?'.
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    /// For SigV2: the bucket named by a virtual-hosted-style Host, which the path lacks.
    pub host_bucket: Option<&'a str>,
}

pub fn authenticate(
    creds: &Credentials,
    parts: &SignedParts<'_>,
    now: SystemTime,
) -> S3Result<Authenticated> {
    let auth_header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""));
    let query = canonical::parse_query(parts.raw_query);
    let has = |name: &str| canonical::query_param(&query, name).is_some();
    match auth_header {
        Some(h) if h.starts_with(sigv4::ALGORITHM) => sigv4::verify_header(creds, parts, h, now),
        Some(h) if h.starts_with("AWS ") => sigv2::verify_header(creds, parts, &h[4..], now),
        Some(_) => Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Unsupported Authorization Type",
        )),
        None if has("X-Amz-Algorithm") => sigv4::verify_presigned(creds, parts, &query, now),
        None if has("AWSAccessKeyId") || has("Signature") => {
            sigv2::verify_presigned(creds, parts, &query, now)
        }
        None => Err(S3Error::new(S3ErrorCode::AccessDenied)),
    }
}

fn check_skew(request_time: SystemTime, now: SystemTime) -> S3Result<()> {
    let skew = match now.duration_since(request_time) {
        Ok(d) => d,
        Err(e) => e.duration(),
    };
    if skew > MAX_CLOCK_SKEW {
        return Err(S3Error::new(S3ErrorCode::RequestTimeTooSkewed)
            .detail("RequestTime", crate::time_fmt::amz_date(request_time))
            .detail("ServerTime", crate::time_fmt::amz_date(now))
            .detail("MaxAllowedSkewMilliseconds", "900000"));
    }
    Ok(())
}

fn signature_mismatch(string_to_sign: &str, access_key: &str) -> S3Error {
    S3Error::new(S3ErrorCode::SignatureDoesNotMatch)
        .detail("AWSAccessKeyId", access_key)
        .detail("StringToSign", string_to_sign)
}

fn unknown_key(access_key: &str) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidAccessKeyId).detail("AWSAccessKeyId", access_key)
}

/// Compares two signatures without leaking where they differ.
fn same_signature(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
