//! GetBucketAcl and GetObjectAcl. Buckets here behave as new S3 buckets do by default (Object
//! Ownership "bucket owner enforced", ACLs disabled): the owner has FULL_CONTROL of the bucket
//! and every object in it, and that is the whole ACL. Changing ACLs is not built (501).

use super::object::check_version_id;
use super::{existing_bucket, owner, S3Request};
use crate::error::{S3Error, S3Result};
use crate::http::response::{xml, S3Response};
use crate::xml::{self as doc, S3_NAMESPACE};
use crate::AppState;

pub async fn get_bucket_acl(state: &AppState, req: S3Request) -> S3Result<S3Response> {
    existing_bucket(state, &req.bucket)?;
    owner_full_control()
}

pub async fn get_object_acl(state: &AppState, req: S3Request) -> S3Result<S3Response> {
    check_version_id(&req)?;
    existing_bucket(state, &req.bucket)?;
    if state.store.object(&req.bucket, &req.key)?.is_none() {
        return Err(S3Error::no_such_key(&req.key));
    }
    owner_full_control()
}

fn owner_full_control() -> S3Result<S3Response> {
    let owner = owner();
    Ok(xml(doc::to_xml(&doc::AccessControlPolicy {
        xmlns: S3_NAMESPACE,
        access_control_list: doc::AccessControlList {
            grants: vec![doc::Grant {
                grantee: doc::Grantee {
                    xmlns_xsi: "http://www.w3.org/2001/XMLSchema-instance",
                    kind: "CanonicalUser",
                    id: owner.id.clone(),
                    display_name: owner.display_name.clone(),
                },
                permission: "FULL_CONTROL",
            }],
        },
        owner,
    })?))
}
