//! Turns method + path + query + Host into an S3 operation. Pure: no IO, no auth.

use http::Method;

use super::query::Query;
use crate::auth::canonical_decode;
use crate::error::{S3Error, S3ErrorCode, S3Result};

/// The S3 operations this server knows, named after the AWS API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    ListBuckets,
    CreateBucket,
    HeadBucket,
    DeleteBucket,
    GetBucketLocation,
    GetBucketVersioning,
    GetBucketAcl,
    GetObjectAcl,
    ListObjects,
    ListObjectsV2,
    ListObjectVersions,
    DeleteObjects,
    PutObject,
    CopyObject,
    GetObject,
    HeadObject,
    DeleteObject,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    ListMultipartUploads,
    PutBucketNotificationConfiguration,
    GetBucketNotificationConfiguration,
    /// A real S3 operation Lambucket does not implement yet; answered with NotImplemented.
    Unimplemented(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub op: Op,
    pub bucket: String,
    pub key: String,
}

/// Sub-resources of real S3 operations that are not built yet, with the operation's name.
const UNIMPLEMENTED_SUBRESOURCES: &[(&str, &str)] = &[
    (
        "acl",
        "Changing ACLs (ACLs are disabled: the owner has FULL_CONTROL)",
    ),
    ("tagging", "Object and bucket tagging"),
    (
        "versioning",
        "PutBucketVersioning (buckets are never versioned)",
    ),
    ("policy", "Bucket policies"),
    ("policyStatus", "Bucket policy status"),
    ("cors", "Bucket CORS"),
    ("lifecycle", "Bucket lifecycle"),
    ("website", "Bucket websites"),
    ("logging", "Bucket logging"),
    ("encryption", "Bucket encryption"),
    ("object-lock", "Object lock"),
    ("legal-hold", "Object legal hold"),
    ("retention", "Object retention"),
    ("replication", "Bucket replication"),
    ("requestPayment", "Requester pays"),
    ("accelerate", "Transfer acceleration"),
    ("ownershipControls", "Bucket ownership controls"),
    ("publicAccessBlock", "Public access block"),
    ("analytics", "Bucket analytics"),
    ("inventory", "Bucket inventory"),
    ("metrics", "Bucket metrics"),
    ("intelligent-tiering", "Intelligent-Tiering configuration"),
    ("restore", "RestoreObject"),
    ("select", "SelectObjectContent"),
    ("attributes", "GetObjectAttributes"),
    ("torrent", "GetObjectTorrent"),
    ("session", "CreateSession"),
];

/// The bucket named by a virtual-hosted-style Host header (`bucket.<base_domain>[:port]`).
pub fn host_bucket(host: Option<&str>, base_domain: &str) -> Option<String> {
    let host = host?;
    let name = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let bucket = name.strip_suffix(base_domain)?.strip_suffix('.')?;
    (!bucket.is_empty()).then(|| bucket.to_owned())
}

pub fn route(
    method: &Method,
    raw_path: &str,
    query: &Query,
    host_bucket: Option<&str>,
    has_copy_source: bool,
) -> S3Result<Route> {
    let path = raw_path.strip_prefix('/').unwrap_or(raw_path);
    let (bucket, key) = match host_bucket {
        Some(b) => (b.to_owned(), canonical_decode(path)),
        None => match path.split_once('/') {
            Some((b, k)) => (canonical_decode(b), canonical_decode(k)),
            None => (canonical_decode(path), String::new()),
        },
    };
    let unimplemented = UNIMPLEMENTED_SUBRESOURCES
        .iter()
        .find(|(name, _)| query.has(name))
        .map(|(_, what)| *what);
    let op = if bucket.is_empty() {
        match *method {
            Method::GET => Op::ListBuckets,
            _ => return Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
        }
    } else if key.is_empty() {
        match (method, unimplemented) {
            (&Method::GET, _) if query.has("location") => Op::GetBucketLocation,
            (&Method::GET, _) if query.has("versioning") => Op::GetBucketVersioning,
            (&Method::GET, _) if query.has("versions") => Op::ListObjectVersions,
            (&Method::GET, _) if query.has("acl") => Op::GetBucketAcl,
            (&Method::GET, _) if query.has("notification") => {
                Op::GetBucketNotificationConfiguration
            }
            (&Method::PUT, _) if query.has("notification") => {
                Op::PutBucketNotificationConfiguration
            }
            (&Method::POST, _) if query.has("delete") => Op::DeleteObjects,
            (_, Some(what)) => Op::Unimplemented(what),
            (&Method::GET, None) if query.has("uploads") => Op::ListMultipartUploads,
            (&Method::GET, None) if query.get("list-type") == Some("2") => Op::ListObjectsV2,
            (&Method::GET, None) => Op::ListObjects,
            (&Method::PUT, None) => Op::CreateBucket,
            (&Method::HEAD, None) => Op::HeadBucket,
            (&Method::DELETE, None) => Op::DeleteBucket,
            (&Method::POST, None) => Op::Unimplemented("POST object (browser form upload)"),
            _ => return Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
        }
    } else {
        let upload = query.has("uploadId");
        match (method, unimplemented) {
            (&Method::GET, _) if query.has("acl") => Op::GetObjectAcl,
            (_, Some(what)) => Op::Unimplemented(what),
            (&Method::POST, None) if query.has("uploads") => Op::CreateMultipartUpload,
            (&Method::POST, None) if upload => Op::CompleteMultipartUpload,
            (&Method::PUT, None) if upload && has_copy_source => Op::UploadPartCopy,
            (&Method::PUT, None) if upload => Op::UploadPart,
            (&Method::GET, None) if upload => Op::ListParts,
            (&Method::DELETE, None) if upload => Op::AbortMultipartUpload,
            (&Method::PUT, None) if has_copy_source => Op::CopyObject,
            (&Method::PUT, None) => Op::PutObject,
            (&Method::GET, None) => Op::GetObject,
            (&Method::HEAD, None) => Op::HeadObject,
            (&Method::DELETE, None) => Op::DeleteObject,
            _ => return Err(S3Error::new(S3ErrorCode::MethodNotAllowed)),
        }
    };
    Ok(Route { op, bucket, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(method: Method, path: &str, query: &str) -> Route {
        route(&method, path, &Query::parse(query), None, false).unwrap()
    }

    #[test]
    fn path_style_table() {
        assert_eq!(r(Method::GET, "/", "").op, Op::ListBuckets);
        assert_eq!(r(Method::PUT, "/b", "").op, Op::CreateBucket);
        assert_eq!(r(Method::PUT, "/b/", "").op, Op::CreateBucket);
        assert_eq!(r(Method::HEAD, "/b", "").op, Op::HeadBucket);
        assert_eq!(r(Method::DELETE, "/b", "").op, Op::DeleteBucket);
        assert_eq!(r(Method::GET, "/b", "location").op, Op::GetBucketLocation);
        assert_eq!(
            r(Method::GET, "/b", "versioning").op,
            Op::GetBucketVersioning
        );
        assert_eq!(
            r(Method::GET, "/b", "versions&prefix=a").op,
            Op::ListObjectVersions
        );
        assert_eq!(r(Method::GET, "/b", "acl").op, Op::GetBucketAcl);
        assert_eq!(r(Method::GET, "/b/k", "acl").op, Op::GetObjectAcl);
        assert!(matches!(
            r(Method::PUT, "/b/k", "acl").op,
            Op::Unimplemented(_)
        ));
        assert_eq!(
            r(Method::PUT, "/b", "versioning").op,
            Op::Unimplemented("PutBucketVersioning (buckets are never versioned)")
        );
        assert_eq!(
            r(Method::GET, "/b", "list-type=2&prefix=a").op,
            Op::ListObjectsV2
        );
        assert_eq!(r(Method::GET, "/b", "prefix=a").op, Op::ListObjects);
        assert_eq!(r(Method::POST, "/b", "delete").op, Op::DeleteObjects);
        assert_eq!(r(Method::PUT, "/b/k", "x-id=PutObject").op, Op::PutObject);
        assert_eq!(
            r(Method::GET, "/b/k", "response-content-type=a").op,
            Op::GetObject
        );
        assert_eq!(r(Method::HEAD, "/b/k", "").op, Op::HeadObject);
        assert_eq!(r(Method::DELETE, "/b/k", "").op, Op::DeleteObject);
        assert_eq!(
            r(Method::POST, "/b/k", "uploads").op,
            Op::CreateMultipartUpload
        );
        assert_eq!(
            r(Method::PUT, "/b/k", "partNumber=1&uploadId=u").op,
            Op::UploadPart
        );
        assert_eq!(
            r(Method::POST, "/b/k", "uploadId=u").op,
            Op::CompleteMultipartUpload
        );
        assert_eq!(
            r(Method::DELETE, "/b/k", "uploadId=u").op,
            Op::AbortMultipartUpload
        );
        assert_eq!(
            r(Method::GET, "/b/k", "uploadId=u&max-parts=2").op,
            Op::ListParts
        );
        assert_eq!(
            r(Method::GET, "/b", "uploads&prefix=a").op,
            Op::ListMultipartUploads
        );
        assert_eq!(r(Method::GET, "/b/k", "partNumber=2").op, Op::GetObject);
        assert_eq!(
            r(Method::POST, "/b/k", "restore").op,
            Op::Unimplemented("RestoreObject")
        );
        assert_eq!(
            r(Method::GET, "/b", "tagging").op,
            Op::Unimplemented("Object and bucket tagging")
        );
        let copy = route(&Method::PUT, "/b/k", &Query::default(), None, true).unwrap();
        assert_eq!(copy.op, Op::CopyObject);
        let part_copy = route(
            &Method::PUT,
            "/b/k",
            &Query::parse("partNumber=1&uploadId=u"),
            None,
            true,
        )
        .unwrap();
        assert_eq!(part_copy.op, Op::UploadPartCopy);
        let part_copy = route(
            &Method::PUT,
            "/b/k",
            &Query::parse("partNumber=1&uploadId=u"),
            None,
            true,
        )
        .unwrap();
        assert_eq!(part_copy.op, Op::UploadPartCopy);
    }

    #[test]
    fn keys_are_decoded_exactly() {
        let route = r(Method::GET, "/b/dir/a%20b%2Bc+d%25%26/%C3%A9", "");
        assert_eq!(route.bucket, "b");
        assert_eq!(route.key, "dir/a b+c+d%&/é");
        assert_eq!(r(Method::GET, "/b//lead", "").key, "/lead");
    }

    #[test]
    fn virtual_hosted_style() {
        assert_eq!(
            host_bucket(Some("photos.localhost:9000"), "localhost"),
            Some("photos".into())
        );
        assert_eq!(
            host_bucket(Some("my.dotted.bucket.localhost"), "localhost"),
            Some("my.dotted.bucket".into())
        );
        assert_eq!(host_bucket(Some("localhost:9000"), "localhost"), None);
        assert_eq!(host_bucket(Some("127.0.0.1:9000"), "localhost"), None);
        let q = Query::default();
        let route = route(&Method::GET, "/a/b.txt", &q, Some("photos"), false).unwrap();
        assert_eq!(
            (route.bucket.as_str(), route.key.as_str()),
            ("photos", "a/b.txt")
        );
        let root = super::route(&Method::GET, "/", &q, Some("photos"), false).unwrap();
        assert_eq!(root.op, Op::ListObjects);
    }
}
