use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Method, Request};
use http_body_util::Full;

use crate::harness::{Payload, TestServer, ACCESS_KEY, SECRET_KEY};

#[tokio::test]
async fn rejects_missing_unknown_and_wrong_credentials() {
    let server = TestServer::start().await;
    let mut c = server.client();
    c.create_bucket("auth").await;

    let anonymous = c.get_url(&c.url("/auth/x")).await;
    anonymous.assert_error(403, "AccessDenied");
    assert!(anonymous.header("x-amz-request-id").is_some());
    assert!(anonymous.header("x-amz-id-2").is_some());

    c.secret_key = "wrong".into();
    c.get("auth", "x")
        .await
        .assert_error(403, "SignatureDoesNotMatch");
    c.access_key = "nobody".into();
    c.get("auth", "x")
        .await
        .assert_error(403, "InvalidAccessKeyId");

    let mut skewed = server.client();
    skewed.time = Some(SystemTime::now() - Duration::from_secs(20 * 60));
    skewed
        .get("auth", "x")
        .await
        .assert_error(403, "RequestTimeTooSkewed");
    skewed.time = Some(SystemTime::now() + Duration::from_secs(10 * 60));
    skewed.get("auth", "x").await.assert_error(404, "NoSuchKey");
}

#[tokio::test]
async fn signed_payload_hash_is_checked_against_the_body() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("sha").await;
    let signed_for = Bytes::from(vec![7u8; 200_000]);
    let mut req = c.signed(Method::PUT, "/sha/obj", &[], signed_for, Payload::Signed);
    *req.body_mut() = Full::new(Bytes::from(vec![8u8; 200_000]));
    c.send(req)
        .await
        .assert_error(400, "XAmzContentSHA256Mismatch");
    c.get("sha", "obj").await.assert_error(404, "NoSuchKey");

    let unsigned = c
        .request_with(
            Method::PUT,
            "/sha/unsigned",
            &[],
            vec![1u8; 10],
            Payload::Unsigned,
        )
        .await;
    unsigned.assert_ok();
    assert_eq!(c.get("sha", "unsigned").await.body, vec![1u8; 10]);
}

#[tokio::test]
async fn presigned_v4_urls() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("pre").await;
    c.put("pre", "song one.mp3", "la la").await.assert_ok();

    let url = c.presign("GET", "/pre/song%20one.mp3", Duration::from_secs(60));
    assert!(url.contains("X-Amz-Signature="));
    let got = c.get_url(&url).await;
    got.assert_ok();
    assert_eq!(got.body, "la la");

    let tampered = url.replace("song%20one", "song%20two");
    c.get_url(&tampered)
        .await
        .assert_error(403, "SignatureDoesNotMatch");

    let mut past = server.client();
    past.time = Some(SystemTime::now() - Duration::from_secs(120));
    let expired = past.presign("GET", "/pre/song%20one.mp3", Duration::from_secs(60));
    c.get_url(&expired).await.assert_error(403, "AccessDenied");

    let put_url = c.presign("PUT", "/pre/uploaded", Duration::from_secs(60));
    let req = Request::builder()
        .method("PUT")
        .uri(&put_url)
        .body(Full::new(Bytes::from("via presigned")))
        .unwrap();
    c.send(req).await.assert_ok();
    assert_eq!(c.get("pre", "uploaded").await.body, "via presigned");
}

/// SigV2 query signing as boto3's generate_presigned_url and aws-cli v1's presign do it.
fn presign_v2(method: &str, resource: &str, expires: u64, secret: &str) -> String {
    let string_to_sign = format!("{method}\n\n\n{expires}\n{resource}");
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(string_to_sign.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    lambucket::urlenc::uri_encode(&sig, false)
}

#[tokio::test]
async fn presigned_v2_urls() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("v2-bucket").await;
    c.put("v2-bucket", "a b.txt", "old style").await.assert_ok();
    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    let sig = presign_v2("GET", "/v2-bucket/a%20b.txt", expires, SECRET_KEY);
    let url = c.url(&format!(
        "/v2-bucket/a%20b.txt?AWSAccessKeyId={ACCESS_KEY}&Expires={expires}&Signature={sig}"
    ));
    let got = c.get_url(&url).await;
    got.assert_ok();
    assert_eq!(got.body, "old style");

    let expired_at = expires - 3600;
    let sig = presign_v2("GET", "/v2-bucket/a%20b.txt", expired_at, SECRET_KEY);
    let url = c.url(&format!(
        "/v2-bucket/a%20b.txt?AWSAccessKeyId={ACCESS_KEY}&Expires={expired_at}&Signature={sig}"
    ));
    c.get_url(&url).await.assert_error(403, "AccessDenied");

    let sig = presign_v2("GET", "/v2-bucket/a%20b.txt", expires, "not-the-secret");
    let url = c.url(&format!(
        "/v2-bucket/a%20b.txt?AWSAccessKeyId={ACCESS_KEY}&Expires={expires}&Signature={sig}"
    ));
    c.get_url(&url)
        .await
        .assert_error(403, "SignatureDoesNotMatch");
}

#[tokio::test]
async fn virtual_hosted_style_requests() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("vhost").await;
    let host = format!("vhost.localhost:{}", server.addr.port());
    let put = c
        .request(Method::PUT, "/dir/file.txt", &[("host", &host)], "hosted")
        .await;
    put.assert_ok();
    assert_eq!(c.get("vhost", "dir/file.txt").await.body, "hosted");
    let list = c
        .request(
            Method::GET,
            "/?list-type=2",
            &[("host", &host)],
            Bytes::new(),
        )
        .await;
    assert!(
        list.text().contains("<Key>dir/file.txt</Key>"),
        "{}",
        list.text()
    );
}
