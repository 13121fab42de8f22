//! AWS Signature Version 2 (HMAC-SHA1), header and presigned-query forms. aws-cli v1's
//! `s3 presign` and boto3's `generate_presigned_url` still produce the query form by default.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::canonical::{decode, parse_query, query_param};
use super::{
    check_skew, same_signature, signature_mismatch, unknown_key, Authenticated, PayloadCheck,
    Principal, SignedParts,
};
use crate::auth::Credentials;
use crate::error::{S3Error, S3ErrorCode, S3Result};

/// Query parameters that are part of the signed resource, in SigV2's definition.
const SIGNED_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "delete",
    "encryption",
    "inventory",
    "legal-hold",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "retention",
    "select",
    "select-type",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

pub fn verify_header(
    creds: &Credentials,
    parts: &SignedParts<'_>,
    credentials: &str,
    now: SystemTime,
) -> S3Result<Authenticated> {
    let (access_key, signature) = credentials.split_once(':').ok_or_else(|| {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
        )
    })?;
    let header_str = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let date_text = header_str("x-amz-date")
        .or_else(|| header_str("date"))
        .ok_or_else(|| {
            S3Error::with_message(
                S3ErrorCode::AccessDenied,
                "AWS authentication requires a valid Date or x-amz-date header",
            )
        })?;
    let request_time = httpdate::parse_http_date(date_text).map_err(|_| {
        S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "AWS authentication requires a valid Date or x-amz-date header",
        )
    })?;
    check_skew(request_time, now)?;
    // With x-amz-date present, the Date line of the string to sign is empty (the header is
    // signed among the x-amz-* ones instead).
    let date_line = if header_str("x-amz-date").is_some() {
        ""
    } else {
        date_text
    };
    let secret = creds
        .secret_for(access_key)
        .ok_or_else(|| unknown_key(access_key))?;
    check(parts, secret, access_key, date_line, signature)
}

pub fn verify_presigned(
    creds: &Credentials,
    parts: &SignedParts<'_>,
    query: &[(String, String)],
    now: SystemTime,
) -> S3Result<Authenticated> {
    let get = |name: &str| query_param(query, name);
    let (Some(access_key), Some(signature), Some(expires)) =
        (get("AWSAccessKeyId"), get("Signature"), get("Expires"))
    else {
        return Err(S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
        ));
    };
    let expires_at: u64 = expires.parse().map_err(|_| {
        S3Error::with_message(
            S3ErrorCode::AccessDenied,
            "Invalid date (should be seconds since epoch)",
        )
    })?;
    if now > UNIX_EPOCH + Duration::from_secs(expires_at) {
        return Err(
            S3Error::with_message(S3ErrorCode::AccessDenied, "Request has expired").detail(
                "Expires",
                crate::time_fmt::iso8601_ms(expires_at as i64 * 1000),
            ),
        );
    }
    let secret = creds
        .secret_for(access_key)
        .ok_or_else(|| unknown_key(access_key))?;
    check(parts, secret, access_key, expires, signature)
}

fn check(
    parts: &SignedParts<'_>,
    secret: &str,
    access_key: &str,
    date_line: &str,
    signature: &str,
) -> S3Result<Authenticated> {
    let mut last = String::new();
    for resource in resource_candidates(parts) {
        let string_to_sign = string_to_sign(parts, date_line, &resource);
        let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).map_err(S3Error::internal)?;
        mac.update(string_to_sign.as_bytes());
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        if same_signature(&expected, signature) {
            return Ok(Authenticated {
                principal: Principal {
                    access_key: access_key.to_owned(),
                },
                payload: PayloadCheck::Unsigned,
            });
        }
        last = string_to_sign;
    }
    Err(signature_mismatch(&last, access_key))
}

fn string_to_sign(parts: &SignedParts<'_>, date_line: &str, resource: &str) -> String {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|v| super::canonical::fold_header_value(v.as_bytes()))
            .unwrap_or_default()
    };
    let mut amz: Vec<(String, String)> = Vec::new();
    for name in parts.headers.keys() {
        let name = name.as_str();
        if name.starts_with("x-amz-") && !amz.iter().any(|(n, _)| n == name) {
            let mut values = String::new();
            super::canonical::push_header_values(&mut values, parts.headers, name);
            amz.push((name.to_owned(), values));
        }
    }
    amz.sort();
    let mut out = format!(
        "{}\n{}\n{}\n{}\n",
        parts.method.as_str(),
        header("content-md5"),
        header("content-type"),
        date_line
    );
    for (name, value) in amz {
        out.push_str(&format!("{name}:{value}\n"));
    }
    out.push_str(resource);
    out
}

/// The canonicalized resource: `/bucket/key` (the path as sent, or re-decoded for clients
/// that sign the decoded form) plus the signed sub-resources, sorted.
fn resource_candidates(parts: &SignedParts<'_>) -> Vec<String> {
    let mut subresources: Vec<(String, String)> = parse_query(parts.raw_query)
        .into_iter()
        .filter(|(k, _)| SIGNED_SUBRESOURCES.contains(&k.as_str()))
        .collect();
    subresources.sort();
    let query: Vec<String> = subresources
        .iter()
        .map(|(k, v)| {
            if v.is_empty() && !parts.raw_query.contains(&format!("{k}=")) {
                k.clone()
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    let suffix = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    let bucket = parts
        .host_bucket
        .map(|b| format!("/{b}"))
        .unwrap_or_default();
    let raw = format!("{bucket}{}{suffix}", parts.raw_path);
    let decoded = format!("{bucket}{}{suffix}", decode(parts.raw_path));
    if raw == decoded {
        vec![raw]
    } else {
        vec![raw, decoded]
    }
}
