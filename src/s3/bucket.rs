//! Bucket operations: CreateBucket, HeadBucket, DeleteBucket, ListBuckets, GetBucketLocation,
//! GetBucketVersioning.

use http::StatusCode;

use super::{existing_bucket, owner, S3Request, MAX_XML_BODY};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::http::response::{empty, set_header, xml, S3Response};
use crate::storage::{BucketRecord, DeleteBucketOutcome};
use crate::time_fmt::{iso8601_ms, now_ms};
use crate::xml::{self as doc, S3_NAMESPACE};
use crate::AppState;

/// S3's bucket naming rules for new buckets.
pub fn valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let allowed = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-';
    let edge_ok = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let looks_like_ip =
        name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok());
    (3..=63).contains(&bytes.len())
        && bytes.iter().all(allowed)
        && edge_ok(bytes.first())
        && edge_ok(bytes.last())
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && !looks_like_ip
        && !name.starts_with("xn--")
        && !name.starts_with("sthree-")
        && !name.ends_with("-s3alias")
        && !name.ends_with("--ol-s3")
}

pub async fn create_bucket(state: &AppState, mut req: S3Request) -> S3Result<S3Response> {
    if !valid_bucket_name(&req.bucket) {
        return Err(S3Error::new(S3ErrorCode::InvalidBucketName).detail("BucketName", &req.bucket));
    }
    let body = req
        .body
        .collect_capped(MAX_XML_BODY, S3ErrorCode::MalformedXML)
        .await?;
    let region = if body.iter().all(u8::is_ascii_whitespace) {
        state.config.region.clone()
    } else {
        let config: doc::CreateBucketConfiguration = doc::from_xml(&body)?;
        match config.location_constraint.as_deref().map(str::trim) {
            None | Some("") => state.config.region.clone(),
            // S3 rejects an explicit us-east-1: that region is expressed by omitting it.
            Some("us-east-1") => {
                return Err(S3Error::new(S3ErrorCode::InvalidLocationConstraint)
                    .detail("LocationConstraint", "us-east-1"))
            }
            Some(region) => region.to_owned(),
        }
    };
    let record = BucketRecord {
        created_ms: now_ms(),
        region,
        notification: None,
    };
    if !state.store.create_bucket(&req.bucket, &record)? {
        return Err(
            S3Error::new(S3ErrorCode::BucketAlreadyOwnedByYou).detail("BucketName", &req.bucket)
        );
    }
    state.store.make_durable().await?;
    let mut resp = empty(StatusCode::OK);
    set_header(&mut resp, "location", &format!("/{}", req.bucket));
    Ok(resp)
}

pub async fn head_bucket(state: &AppState, req: S3Request) -> S3Result<S3Response> {
    let record = existing_bucket(state, &req.bucket)?;
    let mut resp = empty(StatusCode::OK);
    set_header(&mut resp, "x-amz-bucket-region", &record.region);
    Ok(resp)
}

pub async fn delete_bucket(state: &AppState, req: S3Request) -> S3Result<S3Response> {
    match state.store.delete_bucket(&req.bucket)? {
        DeleteBucketOutcome::Deleted => {
            state.store.make_durable().await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        DeleteBucketOutcome::NoSuchBucket => Err(S3Error::no_such_bucket(&req.bucket)),
        DeleteBucketOutcome::NotEmpty => {
            Err(S3Error::new(S3ErrorCode::BucketNotEmpty).detail("BucketName", &req.bucket))
        }
    }
}

pub async fn list_buckets(state: &AppState, _req: S3Request) -> S3Result<S3Response> {
    let buckets = state
        .store
        .buckets()?
        .into_iter()
        .map(|(name, rec)| doc::BucketEntry {
            name,
            creation_date: iso8601_ms(rec.created_ms),
            region: rec.region,
        })
        .collect();
    let result = doc::ListAllMyBucketsResult {
        xmlns: S3_NAMESPACE,
        owner: owner(),
        buckets: doc::BucketList { buckets },
    };
    Ok(xml(doc::to_xml(&result)?))
}

pub async fn get_bucket_location(state: &AppState, req: S3Request) -> S3Result<S3Response> {
    let record = existing_bucket(state, &req.bucket)?;
    // us-east-1 is reported as an empty constraint, as S3 does.
    let region = if record.region == "us-east-1" {
        String::new()
    } else {
        record.region
    };
    Ok(xml(doc::to_xml(&doc::LocationConstraint {
        xmlns: S3_NAMESPACE,
        region,
    })?))
}

/// Buckets here are never versioned. S3 answers a bucket whose versioning was never set
/// with an empty configuration (no Status), and clients (rclone's purge, for one) read it.
pub async fn get_bucket_versioning(state: &AppState, req: S3Request) -> S3Result<S3Response> {
    existing_bucket(state, &req.bucket)?;
    Ok(xml(doc::to_xml(&doc::VersioningConfiguration {
        xmlns: S3_NAMESPACE,
    })?))
}

#[cfg(test)]
mod tests {
    use super::valid_bucket_name;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket", "my.bucket.1", "a1b", &"a".repeat(63)] {
            assert!(valid_bucket_name(ok), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "-abc",
            "abc-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "xn--abc",
            "a_b",
            "abc-s3alias",
            "a b",
        ] {
            assert!(!valid_bucket_name(bad), "{bad}");
        }
    }
}
