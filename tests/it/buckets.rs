use bytes::Bytes;
use http::Method;

use crate::harness::{xml_values, TestServer};

#[tokio::test]
async fn bucket_lifecycle() {
    let server = TestServer::start().await;
    let c = server.client();
    let resp = c
        .request(Method::PUT, "/music-events", &[], Bytes::new())
        .await;
    resp.assert_ok();
    assert_eq!(resp.header("location"), Some("/music-events"));
    c.request(Method::PUT, "/music-events", &[], Bytes::new())
        .await
        .assert_error(409, "BucketAlreadyOwnedByYou");

    let head = c
        .request(Method::HEAD, "/music-events", &[], Bytes::new())
        .await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("x-amz-bucket-region"), Some("us-east-1"));
    assert!(head.body.is_empty());

    let missing = c
        .request(Method::HEAD, "/nope-bucket", &[], Bytes::new())
        .await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.is_empty(), "HEAD errors carry no body");
    assert!(missing.header("x-amz-request-id").is_some());

    let list = c.request(Method::GET, "/", &[], Bytes::new()).await;
    list.assert_ok();
    assert_eq!(xml_values(&list.text(), "Name"), ["music-events"]);
    assert!(list.text().contains("<CreationDate>") && list.text().contains("Z</CreationDate>"));

    c.put("music-events", "a", "x").await.assert_ok();
    c.request(Method::DELETE, "/music-events", &[], Bytes::new())
        .await
        .assert_error(409, "BucketNotEmpty");
    c.request(Method::DELETE, "/music-events/a", &[], Bytes::new())
        .await
        .assert_ok();
    let del = c
        .request(Method::DELETE, "/music-events", &[], Bytes::new())
        .await;
    assert_eq!(del.status, 204);
    c.request(Method::DELETE, "/music-events", &[], Bytes::new())
        .await
        .assert_error(404, "NoSuchBucket");
}

#[tokio::test]
async fn bucket_names_and_location_constraints() {
    let server = TestServer::start().await;
    let c = server.client();
    for bad in ["ab", "UPPER", "under_score", "192.168.5.4", "-dash"] {
        c.request(Method::PUT, &format!("/{bad}"), &[], Bytes::new())
            .await
            .assert_error(400, "InvalidBucketName");
    }
    let body = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                <LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>";
    c.request(Method::PUT, "/in-eu", &[], body)
        .await
        .assert_ok();
    let loc = c
        .request(Method::GET, "/in-eu?location", &[], Bytes::new())
        .await;
    assert_eq!(
        xml_values(&loc.text(), "LocationConstraint").len(),
        0,
        "root element carries xmlns"
    );
    assert!(
        loc.text().contains(">eu-west-1</LocationConstraint>"),
        "{}",
        loc.text()
    );

    c.create_bucket("plain").await;
    let loc = c
        .request(Method::GET, "/plain?location", &[], Bytes::new())
        .await;
    assert!(
        !loc.text().contains("us-east-1"),
        "us-east-1 is reported empty: {}",
        loc.text()
    );

    let explicit = "<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>";
    c.request(Method::PUT, "/explicit-east", &[], explicit)
        .await
        .assert_error(400, "InvalidLocationConstraint");
    c.request(
        Method::PUT,
        "/broken-xml",
        &[],
        "<CreateBucketConfiguration>",
    )
    .await
    .assert_error(400, "MalformedXML");
}

#[tokio::test]
async fn unbuilt_operations_answer_not_implemented() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("bucket-one").await;
    c.request(
        Method::PUT,
        "/bucket-one?versioning",
        &[],
        "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
    )
    .await
    .assert_error(501, "NotImplemented");
    c.request(Method::POST, "/bucket-one/key?restore", &[], Bytes::new())
        .await
        .assert_error(501, "NotImplemented");
    c.request(Method::PATCH, "/bucket-one/key", &[], Bytes::new())
        .await
        .assert_error(405, "MethodNotAllowed");
}

#[tokio::test]
async fn versioning_of_a_bucket_reads_as_never_set() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("plain").await;
    let resp = c
        .request(Method::GET, "/plain?versioning", &[], Bytes::new())
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body = resp.text();
    assert!(body.contains("<VersioningConfiguration"), "{body}");
    assert!(
        !body.contains("<Status>"),
        "never-versioned has no Status: {body}"
    );
    c.request(Method::GET, "/absent-bucket?versioning", &[], Bytes::new())
        .await
        .assert_error(404, "NoSuchBucket");
}

#[tokio::test]
async fn acls_read_as_owner_full_control_and_cannot_be_changed() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("acl-bucket").await;
    c.put("acl-bucket", "song.ogg", "x").await.assert_ok();
    for path in ["/acl-bucket?acl", "/acl-bucket/song.ogg?acl"] {
        let resp = c.request(Method::GET, path, &[], Bytes::new()).await;
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
        let body = resp.text();
        assert!(body.contains("<AccessControlPolicy"), "{body}");
        assert!(body.contains(r#"xsi:type="CanonicalUser""#), "{body}");
        assert_eq!(xml_values(&body, "Permission"), ["FULL_CONTROL"]);
        let ids = xml_values(&body, "ID");
        assert_eq!(ids.len(), 2, "owner and grantee: {body}");
        assert_eq!(ids[0], ids[1], "the grantee is the owner");
    }
    c.request(Method::GET, "/acl-bucket/absent?acl", &[], Bytes::new())
        .await
        .assert_error(404, "NoSuchKey");
    c.request(Method::GET, "/no-such-acl-bucket?acl", &[], Bytes::new())
        .await
        .assert_error(404, "NoSuchBucket");
    c.request(
        Method::PUT,
        "/acl-bucket/song.ogg?acl",
        &[("x-amz-acl", "public-read")],
        Bytes::new(),
    )
    .await
    .assert_error(501, "NotImplemented");
}
