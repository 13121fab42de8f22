//! S3 operations, one function each, named after the AWS operation and grouped by area.
//! Each handler parses its inputs, checks them, makes one storage call and builds the response.

mod acl;
mod bucket;
pub(crate) use bucket::valid_bucket_name;
pub mod checksum;
pub mod headers;
mod ingest;
pub mod library;
mod list;
mod multipart;
pub mod notification;
mod object;

use std::net::IpAddr;

use http::HeaderMap;

use crate::auth::Principal;
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::http::body::RequestBody;
use crate::http::query::Query;
use crate::http::response::S3Response;
use crate::http::router::Op;
use crate::AppState;

/// S3 object keys are at most 1024 bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;
/// Request XML documents (DeleteObjects with 1000 long keys is the largest) are capped here.
pub const MAX_XML_BODY: usize = 2 << 20;
/// Default and maximum of every page size: max-keys, max-parts, max-uploads.
const MAX_PAGE: usize = 1000;

/// Per-request facts that end up in logs, responses and (later) events.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub request_id: String,
    pub host_id: String,
    pub source_ip: IpAddr,
    pub principal: Principal,
}

pub struct S3Request {
    pub bucket: String,
    pub key: String,
    pub headers: HeaderMap,
    pub query: Query,
    pub body: RequestBody,
    pub ctx: RequestContext,
}

impl S3Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn handle(state: &AppState, op: Op, req: S3Request) -> S3Result<S3Response> {
    if req.key.len() > MAX_KEY_BYTES {
        return Err(S3Error::new(S3ErrorCode::KeyTooLongError)
            .detail("Size", req.key.len().to_string())
            .detail("MaxSizeAllowed", MAX_KEY_BYTES.to_string()));
    }
    match op {
        Op::ListBuckets => bucket::list_buckets(state, req).await,
        Op::CreateBucket => bucket::create_bucket(state, req).await,
        Op::HeadBucket => bucket::head_bucket(state, req).await,
        Op::DeleteBucket => bucket::delete_bucket(state, req).await,
        Op::GetBucketLocation => bucket::get_bucket_location(state, req).await,
        Op::GetBucketVersioning => bucket::get_bucket_versioning(state, req).await,
        Op::GetBucketAcl => acl::get_bucket_acl(state, req).await,
        Op::GetObjectAcl => acl::get_object_acl(state, req).await,
        Op::ListObjects => list::list_objects(state, req).await,
        Op::ListObjectsV2 => list::list_objects_v2(state, req).await,
        Op::ListObjectVersions => list::list_object_versions(state, req).await,
        Op::DeleteObjects => object::delete_objects(state, req).await,
        Op::PutObject => object::put_object(state, req).await,
        Op::CopyObject => object::copy_object(state, req).await,
        Op::GetObject => object::get_object(state, req, true).await,
        Op::HeadObject => object::get_object(state, req, false).await,
        Op::DeleteObject => object::delete_object(state, req).await,
        Op::CreateMultipartUpload => multipart::create_multipart_upload(state, req).await,
        Op::UploadPart => multipart::upload_part(state, req).await,
        Op::UploadPartCopy => multipart::upload_part_copy(state, req).await,
        Op::CompleteMultipartUpload => multipart::complete_multipart_upload(state, req).await,
        Op::AbortMultipartUpload => multipart::abort_multipart_upload(state, req).await,
        Op::ListParts => multipart::list_parts(state, req).await,
        Op::ListMultipartUploads => multipart::list_multipart_uploads(state, req).await,
        Op::PutBucketNotificationConfiguration => {
            notification::put_bucket_notification_configuration(state, req).await
        }
        Op::GetBucketNotificationConfiguration => {
            notification::get_bucket_notification_configuration(state, req).await
        }
        Op::Unimplemented(what) => Err(S3Error::not_implemented(what)),
    }
}

/// The bucket's record, or NoSuchBucket.
fn existing_bucket(state: &AppState, bucket: &str) -> S3Result<crate::storage::BucketRecord> {
    state
        .store
        .bucket(bucket)?
        .ok_or_else(|| S3Error::no_such_bucket(bucket))
}

/// A page-size parameter (`max-keys`, `max-parts`, `max-uploads`): absent means the maximum,
/// larger values are capped to it, anything else but a non-negative integer is refused.
fn page_size(req: &S3Request, name: &str) -> S3Result<usize> {
    match req.query.get(name) {
        None => Ok(MAX_PAGE),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| (n as usize).min(MAX_PAGE))
            .ok_or_else(|| {
                S3Error::invalid_argument(
                    format!("Provided {name} not an integer or within integer range"),
                    name,
                    v,
                )
            }),
    }
}

fn owner() -> crate::xml::Owner {
    crate::xml::Owner {
        id: crate::config::OWNER_ID.into(),
        display_name: crate::config::OWNER_NAME.into(),
    }
}
