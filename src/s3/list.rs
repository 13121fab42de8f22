//! ListObjects (v1), ListObjectsV2 and ListObjectVersions.

use base64::Engine;

use super::{existing_bucket, owner, page_size, S3Request};
use crate::error::{S3Error, S3Result};
use crate::http::response::{xml, S3Response};
use crate::storage::{ListEntry, ListPage, ListQuery};
use crate::time_fmt::iso8601_ms;
use crate::urlenc::uri_encode;
use crate::xml::{self as doc, S3_NAMESPACE};
use crate::AppState;

/// Parameters both list versions share.
struct Params<'a> {
    prefix: &'a str,
    delimiter: Option<&'a str>,
    max_keys: usize,
    url_encode: bool,
}

fn params(req: &S3Request) -> S3Result<Params<'_>> {
    let max_keys = page_size(req, "max-keys")?;
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
    Ok(Params {
        prefix: req.query.get("prefix").unwrap_or(""),
        // An empty `delimiter=` means no delimiter.
        delimiter: req.query.get("delimiter").filter(|d| !d.is_empty()),
        max_keys,
        url_encode,
    })
}

impl Params<'_> {
    fn encode(&self, s: &str) -> String {
        if self.url_encode {
            uri_encode(s, true)
        } else {
            s.to_owned()
        }
    }

    fn encoding_type(&self) -> Option<&'static str> {
        self.url_encode.then_some("url")
    }

    /// Splits a page into Contents and CommonPrefixes, in the shape the XML wants.
    fn render(
        &self,
        page: &ListPage,
        with_owner: bool,
    ) -> (Vec<doc::ObjectEntry>, Vec<doc::CommonPrefix>) {
        let mut contents = Vec::new();
        let mut prefixes = Vec::new();
        for entry in &page.entries {
            match entry {
                ListEntry::Object { key, summary } => contents.push(doc::ObjectEntry {
                    key: self.encode(key),
                    last_modified: iso8601_ms(summary.last_modified_ms),
                    etag: format!("\"{}\"", summary.etag),
                    size: summary.size,
                    storage_class: "STANDARD",
                    owner: with_owner.then(owner),
                }),
                ListEntry::CommonPrefix(p) => prefixes.push(doc::CommonPrefix {
                    prefix: self.encode(p),
                }),
            }
        }
        (contents, prefixes)
    }
}

fn list_page(
    state: &AppState,
    bucket: &str,
    p: &Params<'_>,
    start_after: Option<&str>,
) -> S3Result<ListPage> {
    existing_bucket(state, bucket)?;
    Ok(state.store.list_objects(&ListQuery {
        bucket,
        prefix: p.prefix,
        delimiter: p.delimiter,
        start_after: start_after.filter(|s| !s.is_empty()),
        max_keys: p.max_keys,
    })?)
}

pub async fn list_objects(state: &AppState, req: S3Request) -> S3Result<S3Response> {
    let p = params(&req)?;
    let marker = req.query.get("marker").unwrap_or("");
    let page = list_page(state, &req.bucket, &p, Some(marker))?;
    let (contents, common_prefixes) = p.render(&page, true);
    // S3 sends NextMarker only with a delimiter; without one, clients use the last key.
    let next_marker = (page.is_truncated && p.delimiter.is_some())
        .then(|| page.entries.last().map(|e| p.encode(e.name())))
        .flatten();
    let result = doc::ListBucketResultV1 {
        xmlns: S3_NAMESPACE,
        name: req.bucket.clone(),
        prefix: p.encode(p.prefix),
        marker: p.encode(marker),
        next_marker,
        max_keys: p.max_keys,
        delimiter: p.delimiter.map(|d| p.encode(d)),
        is_truncated: page.is_truncated,
        encoding_type: p.encoding_type(),
        contents,
        common_prefixes,
    };
    Ok(xml(doc::to_xml(&result)?))
}

fn encode_token(last: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last.as_bytes())
}

fn decode_token(token: &str) -> S3Result<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "The continuation token provided is incorrect",
                "continuation-token",
                token,
            )
        })
}

pub async fn list_objects_v2(state: &AppState, req: S3Request) -> S3Result<S3Response> {
    let p = params(&req)?;
    let token = req.query.get("continuation-token");
    let start_after = req.query.get("start-after");
    let resume_from = match token {
        Some(t) => Some(decode_token(t)?),
        None => start_after.map(str::to_owned),
    };
    let page = list_page(state, &req.bucket, &p, resume_from.as_deref())?;
    let fetch_owner = req.query.get("fetch-owner") == Some("true");
    let (contents, common_prefixes) = p.render(&page, fetch_owner);
    let next_continuation_token = page
        .is_truncated
        .then(|| page.entries.last().map(|e| encode_token(e.name())))
        .flatten();
    let result = doc::ListBucketResultV2 {
        xmlns: S3_NAMESPACE,
        name: req.bucket.clone(),
        prefix: p.encode(p.prefix),
        continuation_token: token.map(str::to_owned),
        next_continuation_token,
        start_after: start_after.map(|s| p.encode(s)),
        key_count: page.entries.len(),
        max_keys: p.max_keys,
        delimiter: p.delimiter.map(|d| p.encode(d)),
        is_truncated: page.is_truncated,
        encoding_type: p.encoding_type(),
        contents,
        common_prefixes,
    };
    Ok(xml(doc::to_xml(&result)?))
}

/// Buckets here are never versioned, so every object is listed as its one version, `null`,
/// which is the latest (as S3 lists a bucket whose versioning was never enabled). A
/// version-id marker can only be `null`, and resumes after its key.
pub async fn list_object_versions(state: &AppState, req: S3Request) -> S3Result<S3Response> {
    let p = params(&req)?;
    let key_marker = req.query.get("key-marker").unwrap_or("");
    let version_id_marker = req.query.get("version-id-marker").unwrap_or("");
    if !version_id_marker.is_empty() {
        if key_marker.is_empty() {
            return Err(S3Error::invalid_argument(
                "A version-id marker cannot be specified without a key marker.",
                "version-id-marker",
                version_id_marker,
            ));
        }
        if version_id_marker != "null" {
            return Err(S3Error::invalid_argument(
                "Invalid version id specified",
                "version-id-marker",
                version_id_marker,
            ));
        }
    }
    let page = list_page(state, &req.bucket, &p, Some(key_marker))?;
    let (contents, common_prefixes) = p.render(&page, false);
    let versions = contents
        .into_iter()
        .map(|o| doc::VersionEntry {
            key: o.key,
            version_id: "null",
            is_latest: true,
            last_modified: o.last_modified,
            etag: o.etag,
            size: o.size,
            owner: owner(),
            storage_class: o.storage_class,
        })
        .collect();
    let last = page.is_truncated.then(|| page.entries.last()).flatten();
    let result = doc::ListVersionsResult {
        xmlns: S3_NAMESPACE,
        name: req.bucket.clone(),
        prefix: p.encode(p.prefix),
        key_marker: p.encode(key_marker),
        version_id_marker: version_id_marker.to_owned(),
        next_key_marker: last.map(|e| p.encode(e.name())),
        // A page that ends on a CommonPrefix resumes after the prefix, not after a version.
        next_version_id_marker: last
            .filter(|e| matches!(e, ListEntry::Object { .. }))
            .map(|_| "null"),
        max_keys: p.max_keys,
        delimiter: p.delimiter.map(|d| p.encode(d)),
        is_truncated: page.is_truncated,
        encoding_type: p.encoding_type(),
        versions,
        common_prefixes,
    };
    Ok(xml(doc::to_xml(&result)?))
}
