//! Object headers: what a PUT stores (content headers, x-amz-meta-*), what GET/HEAD return,
//! conditional requests and byte ranges.

use std::ops::Range;

use http::HeaderMap;

use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::http::query::Query;
use crate::http::response::{set_header, S3Response};
use crate::storage::{ObjectRecord, StoredChecksum};
use crate::time_fmt::{http_date, parse_http_date};

/// Stored with the object and returned as-is by GET/HEAD.
const CONTENT_HEADERS: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
];
/// S3's default when a PUT names no Content-Type.
pub const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";
/// S3 caps user metadata (names + values) at 2 KB.
const MAX_USER_METADATA: usize = 2048;

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

pub fn content_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for name in CONTENT_HEADERS {
        let Some(value) = header_str(headers, name) else {
            continue;
        };
        // aws-chunked describes the transfer, not the object: S3 does not store it.
        let value = if *name == "content-encoding" {
            let kept: Vec<&str> = value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.eq_ignore_ascii_case("aws-chunked") && !v.is_empty())
                .collect();
            if kept.is_empty() {
                continue;
            }
            kept.join(", ")
        } else {
            value.to_owned()
        };
        out.push((name.to_string(), value));
    }
    if !out.iter().any(|(n, _)| n == "content-type") {
        out.insert(0, ("content-type".into(), DEFAULT_CONTENT_TYPE.into()));
    }
    out
}

/// `x-amz-checksum-<alg>` and `x-amz-checksum-type` for a stored checksum.
pub fn write_checksum(resp: &mut S3Response, checksum: Option<&StoredChecksum>) {
    if let Some(c) = checksum {
        set_header(
            resp,
            &format!("x-amz-checksum-{}", c.algorithm.to_ascii_lowercase()),
            &c.value,
        );
        set_header(resp, "x-amz-checksum-type", &c.kind);
    }
}

pub fn user_metadata(headers: &HeaderMap) -> S3Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut total = 0;
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix("x-amz-meta-") {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            total += key.len() + value.len();
            out.push((key.to_owned(), value));
        }
    }
    if total > MAX_USER_METADATA {
        return Err(S3Error::with_message(
            S3ErrorCode::MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size.",
        )
        .detail("Size", total.to_string())
        .detail("MaxSizeAllowed", MAX_USER_METADATA.to_string()));
    }
    Ok(out)
}

pub fn quoted_etag(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// Headers GET and HEAD return for an object, with `response-*` query overrides applied.
pub fn write_object_headers(
    resp: &mut S3Response,
    rec: &ObjectRecord,
    query: &Query,
    with_checksum: bool,
) {
    set_header(resp, "etag", &quoted_etag(&rec.etag));
    set_header(resp, "last-modified", &http_date(rec.last_modified_ms));
    set_header(resp, "accept-ranges", "bytes");
    for (name, value) in &rec.content_headers {
        set_header(resp, name, value);
    }
    for (name, value) in &rec.user_metadata {
        set_header(resp, &format!("x-amz-meta-{name}"), value);
    }
    for name in CONTENT_HEADERS {
        if let Some(value) = query.get(&format!("response-{name}")) {
            set_header(resp, name, value);
        }
    }
    if with_checksum {
        write_checksum(resp, rec.checksum.as_ref());
    }
}

/// Which conditional headers to read: the plain ones (GET/HEAD) or CopyObject's source ones.
#[derive(Clone, Copy)]
pub enum Conditions {
    Read,
    CopySource,
}

impl Conditions {
    fn names(self) -> [&'static str; 4] {
        match self {
            Conditions::Read => [
                "if-match",
                "if-none-match",
                "if-modified-since",
                "if-unmodified-since",
            ],
            Conditions::CopySource => [
                "x-amz-copy-source-if-match",
                "x-amz-copy-source-if-none-match",
                "x-amz-copy-source-if-modified-since",
                "x-amz-copy-source-if-unmodified-since",
            ],
        }
    }
}

fn etag_listed(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| t == "*" || t == etag)
}

/// Evaluates conditional headers as S3 does (RFC 7232 precedence): If-Match beats
/// If-Unmodified-Since, If-None-Match beats If-Modified-Since. Reads fail with 304 where
/// HTTP says "not modified"; copies fail with 412 in every case.
pub fn check_conditions(
    headers: &HeaderMap,
    rec: &ObjectRecord,
    which: Conditions,
) -> S3Result<()> {
    let [if_match, if_none_match, if_modified_since, if_unmodified_since] = which.names();
    let modified_s = rec.last_modified_ms.div_euclid(1000);
    let precondition =
        || S3Error::new(S3ErrorCode::PreconditionFailed).detail("Condition", "If-Match");
    let not_modified = || match which {
        Conditions::Read => S3Error::new(S3ErrorCode::NotModified)
            .header("etag", quoted_etag(&rec.etag))
            .header("last-modified", http_date(rec.last_modified_ms)),
        Conditions::CopySource => S3Error::new(S3ErrorCode::PreconditionFailed),
    };
    let since = |name| {
        header_str(headers, name)
            .and_then(parse_http_date)
            .map(|ms| ms.div_euclid(1000))
    };

    match header_str(headers, if_match) {
        Some(list) if !etag_listed(list, &rec.etag) => return Err(precondition()),
        Some(_) => {}
        None => {
            if since(if_unmodified_since).is_some_and(|t| modified_s > t) {
                return Err(precondition());
            }
        }
    }
    match header_str(headers, if_none_match) {
        Some(list) if etag_listed(list, &rec.etag) => return Err(not_modified()),
        Some(_) => {}
        None => {
            if since(if_modified_since).is_some_and(|t| modified_s <= t) {
                return Err(not_modified());
            }
        }
    }
    Ok(())
}

/// Parses a single `Range: bytes=…` against an object of `size` bytes. None means "the whole
/// object" (no header, or a form S3 ignores); an unsatisfiable range is InvalidRange.
pub fn parse_range(value: Option<&str>, size: u64) -> S3Result<Option<Range<u64>>> {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let unsatisfiable = || {
        S3Error::new(S3ErrorCode::InvalidRange)
            .detail("RangeRequested", format!("bytes={spec}"))
            .detail("ActualObjectSize", size.to_string())
    };
    let (first, last) = (first.trim(), last.trim());
    let range = if first.is_empty() {
        let Ok(suffix) = last.parse::<u64>() else {
            return Ok(None);
        };
        if suffix == 0 || size == 0 {
            return Err(unsatisfiable());
        }
        size.saturating_sub(suffix)..size
    } else {
        let Ok(start) = first.parse::<u64>() else {
            return Ok(None);
        };
        let end = if last.is_empty() {
            size
        } else {
            let Ok(end) = last.parse::<u64>() else {
                return Ok(None);
            };
            if end < start {
                return Ok(None);
            }
            end.saturating_add(1).min(size)
        };
        if start >= size {
            return Err(unsatisfiable());
        }
        start..end
    };
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::BodyRef;

    fn rec(etag: &str, ms: i64) -> ObjectRecord {
        ObjectRecord {
            size: 0,
            etag: etag.into(),
            last_modified_ms: ms,
            content_headers: vec![],
            user_metadata: vec![],
            checksum: None,
            body: BodyRef::Inline(vec![]),
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(Some("bytes=0-9"), 100).unwrap(), Some(0..10));
        assert_eq!(parse_range(Some("bytes=90-"), 100).unwrap(), Some(90..100));
        assert_eq!(parse_range(Some("bytes=-10"), 100).unwrap(), Some(90..100));
        assert_eq!(parse_range(Some("bytes=-500"), 100).unwrap(), Some(0..100));
        assert_eq!(
            parse_range(Some("bytes=50-5000"), 100).unwrap(),
            Some(50..100)
        );
        assert_eq!(
            parse_range(Some("bytes=100-"), 100).unwrap_err().code,
            S3ErrorCode::InvalidRange
        );
        assert_eq!(
            parse_range(Some("bytes=0-"), 0).unwrap_err().code,
            S3ErrorCode::InvalidRange
        );
        assert_eq!(
            parse_range(Some("bytes=-0"), 10).unwrap_err().code,
            S3ErrorCode::InvalidRange
        );
        assert_eq!(parse_range(Some("bytes=5-1"), 10).unwrap(), None);
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10).unwrap(), None);
        assert_eq!(parse_range(Some("items=0-1"), 10).unwrap(), None);
        assert_eq!(parse_range(None, 10).unwrap(), None);
    }

    #[test]
    fn conditional_precedence() {
        let r = rec("abc", 1_000_000);
        let check = |pairs: &[(&'static str, &str)], which| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().unwrap());
            }
            check_conditions(&h, &r, which).map_err(|e| e.code)
        };
        let before = "Thu, 01 Jan 1970 00:00:10 GMT";
        let after = "Thu, 01 Jan 1970 01:00:00 GMT";
        assert_eq!(check(&[("if-match", "\"abc\"")], Conditions::Read), Ok(()));
        assert_eq!(
            check(&[("if-match", "\"x\"")], Conditions::Read),
            Err(S3ErrorCode::PreconditionFailed)
        );
        assert_eq!(
            check(&[("if-none-match", "\"abc\"")], Conditions::Read),
            Err(S3ErrorCode::NotModified)
        );
        assert_eq!(
            check(&[("if-none-match", "*")], Conditions::Read),
            Err(S3ErrorCode::NotModified)
        );
        assert_eq!(
            check(&[("if-modified-since", after)], Conditions::Read),
            Err(S3ErrorCode::NotModified)
        );
        assert_eq!(
            check(&[("if-modified-since", before)], Conditions::Read),
            Ok(())
        );
        assert_eq!(
            check(&[("if-unmodified-since", before)], Conditions::Read),
            Err(S3ErrorCode::PreconditionFailed)
        );
        // If-Match true wins over If-Unmodified-Since false; If-None-Match false over If-Modified-Since.
        assert_eq!(
            check(
                &[("if-match", "\"abc\""), ("if-unmodified-since", before)],
                Conditions::Read
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &[("if-none-match", "\"x\""), ("if-modified-since", after)],
                Conditions::Read
            ),
            Ok(())
        );
        assert_eq!(
            check(
                &[("x-amz-copy-source-if-none-match", "\"abc\"")],
                Conditions::CopySource
            ),
            Err(S3ErrorCode::PreconditionFailed)
        );
    }
}
