use base64::Engine;
use bytes::Bytes;
use http::Method;
use md5::{Digest, Md5};

use crate::harness::{pattern, xml_values, TestServer};

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[tokio::test]
async fn put_get_round_trips_every_size_class() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("data").await;
    // Empty, inline, exactly one chunk, a chunk plus one byte, many chunks with a tail.
    for (i, size) in [0usize, 1, 4096, 4097, 65536, 65537, 1_000_003]
        .into_iter()
        .enumerate()
    {
        let body = pattern(size, i as u64);
        let key = format!("size/{size}");
        let put = c.put("data", &key, body.clone()).await;
        put.assert_ok();
        let etag = format!("\"{}\"", hex::encode(Md5::digest(&body)));
        assert_eq!(put.header("etag"), Some(etag.as_str()));
        let got = c.get("data", &key).await;
        got.assert_ok();
        assert_eq!(got.body.len(), size);
        assert!(got.body == body, "body of {size} bytes differs");
        assert_eq!(got.header("etag"), Some(etag.as_str()));
        assert_eq!(
            got.header("content-length"),
            Some(size.to_string().as_str())
        );
    }
}

#[tokio::test]
async fn awkward_keys_round_trip_and_stay_in_their_bucket() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("left").await;
    c.create_bucket("left-more").await;
    let keys = [
        "with space",
        "plus+sign",
        "per%cent",
        "amp&ersand",
        "unicode-é-🎵",
        "deep/nested/path/x.json",
        "tilde~*'()!$",
    ];
    for key in keys {
        c.put("left", key, key.as_bytes().to_vec())
            .await
            .assert_ok();
    }
    for key in keys {
        let got = c.get("left", key).await;
        got.assert_ok();
        assert_eq!(got.body, key.as_bytes(), "{key}");
    }
    let listed = c
        .request(Method::GET, "/left?list-type=2", &[], Bytes::new())
        .await;
    let mut expected: Vec<&str> = keys.to_vec();
    expected.sort();
    assert_eq!(xml_values(&listed.text(), "Key"), expected);
    // A key that looks like it could escape into the neighbouring bucket does not.
    c.get("left-more", "with space")
        .await
        .assert_error(404, "NoSuchKey");
    c.get("left", "../left-more/x")
        .await
        .assert_error(404, "NoSuchKey");
    let long = "k".repeat(1025);
    c.put("left", &long, "x")
        .await
        .assert_error(400, "KeyTooLongError");
    c.put("left", &"k".repeat(1024), "x").await.assert_ok();
}

#[tokio::test]
async fn metadata_and_content_headers_round_trip() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("meta").await;
    let headers = [
        ("content-type", "application/json"),
        ("content-encoding", "gzip"),
        ("content-disposition", "attachment; filename=\"a.json\""),
        ("content-language", "fi"),
        ("cache-control", "max-age=60"),
        ("expires", "Thu, 01 Dec 2044 16:00:00 GMT"),
        ("x-amz-meta-user", "alice"),
        ("x-amz-meta-Track-Id", "42"),
    ];
    c.request(Method::PUT, "/meta/obj", &headers, "{}")
        .await
        .assert_ok();
    let head = c
        .request(Method::HEAD, "/meta/obj", &[], Bytes::new())
        .await;
    assert_eq!(head.status, 200);
    for (name, value) in &headers[..6] {
        assert_eq!(head.header(name), Some(*value), "{name}");
    }
    assert_eq!(head.header("x-amz-meta-user"), Some("alice"));
    assert_eq!(head.header("x-amz-meta-track-id"), Some("42"));
    assert_eq!(head.header("content-length"), Some("2"));
    assert!(head.body.is_empty());
    assert!(head.header("last-modified").unwrap().ends_with("GMT"));

    c.put("meta", "plain", "x").await.assert_ok();
    let plain = c
        .request(Method::HEAD, "/meta/plain", &[], Bytes::new())
        .await;
    assert_eq!(plain.header("content-type"), Some("binary/octet-stream"));

    let overridden = c
        .request(
            Method::GET,
            "/meta/obj?response-content-type=text%2Fplain&response-cache-control=no-store",
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(overridden.header("content-type"), Some("text/plain"));
    assert_eq!(overridden.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn ranges_and_conditionals() {
    let server = TestServer::start().await;
    let c = server.client();
    let c = &c;
    c.create_bucket("ranges").await;
    let body = pattern(200_000, 9);
    let etag = c
        .put("ranges", "obj", body.clone())
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let range = |spec: &'static str| async move {
        c.request(Method::GET, "/ranges/obj", &[("range", spec)], Bytes::new())
            .await
    };
    let mid = range("bytes=65530-65545").await;
    assert_eq!(mid.status, 206);
    assert_eq!(mid.body, &body[65530..65546]);
    assert_eq!(
        mid.header("content-range"),
        Some("bytes 65530-65545/200000")
    );
    let tail = range("bytes=-10").await;
    assert_eq!(tail.body, &body[199_990..]);
    let open = range("bytes=199999-").await;
    assert_eq!(open.body, &body[199_999..]);
    range("bytes=200000-")
        .await
        .assert_error(416, "InvalidRange");

    let get = |h: &'static str, v: String| async move {
        c.request(Method::GET, "/ranges/obj", &[(h, &v)], Bytes::new())
            .await
    };
    assert_eq!(get("if-match", etag.clone()).await.status, 200);
    get("if-match", "\"nope\"".into())
        .await
        .assert_error(412, "PreconditionFailed");
    let not_modified = get("if-none-match", etag.clone()).await;
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), Some(etag.as_str()));
    assert_eq!(
        get("if-modified-since", "Sat, 01 Jan 2000 00:00:00 GMT".into())
            .await
            .status,
        200
    );
    assert_eq!(
        get("if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT".into())
            .await
            .status,
        304
    );
    get(
        "if-unmodified-since",
        "Sat, 01 Jan 2000 00:00:00 GMT".into(),
    )
    .await
    .assert_error(412, "PreconditionFailed");
}

#[tokio::test]
async fn digests_are_verified_and_bad_uploads_store_nothing() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("digests").await;
    let body = pattern(300_000, 3);
    let good_md5 = b64(&Md5::digest(&body));
    c.request(
        Method::PUT,
        "/digests/md5",
        &[("content-md5", &good_md5)],
        body.clone(),
    )
    .await
    .assert_ok();

    let wrong_md5 = b64(&Md5::digest(b"other"));
    c.request(
        Method::PUT,
        "/digests/bad-md5",
        &[("content-md5", &wrong_md5)],
        body.clone(),
    )
    .await
    .assert_error(400, "BadDigest");
    c.get("digests", "bad-md5")
        .await
        .assert_error(404, "NoSuchKey");
    c.request(
        Method::PUT,
        "/digests/bad-md5",
        &[("content-md5", "not-base64!")],
        body.clone(),
    )
    .await
    .assert_error(400, "InvalidDigest");

    let crc = b64(&crc32(&body).to_be_bytes());
    let put = c
        .request(
            Method::PUT,
            "/digests/crc",
            &[("x-amz-checksum-crc32", &crc)],
            body.clone(),
        )
        .await;
    put.assert_ok();
    assert_eq!(put.header("x-amz-checksum-crc32"), Some(crc.as_str()));
    let head = c
        .request(
            Method::HEAD,
            "/digests/crc",
            &[("x-amz-checksum-mode", "ENABLED")],
            Bytes::new(),
        )
        .await;
    assert_eq!(head.header("x-amz-checksum-crc32"), Some(crc.as_str()));
    let plain_head = c
        .request(Method::HEAD, "/digests/crc", &[], Bytes::new())
        .await;
    assert_eq!(plain_head.header("x-amz-checksum-crc32"), None);

    c.request(
        Method::PUT,
        "/digests/bad-crc",
        &[("x-amz-checksum-crc32", "AAAAAA==")],
        body.clone(),
    )
    .await
    .assert_error(400, "BadDigest");
    c.get("digests", "bad-crc")
        .await
        .assert_error(404, "NoSuchKey");

    let sha = b64(&sha2::Sha256::digest(&body));
    c.request(
        Method::PUT,
        "/digests/sha",
        &[("x-amz-checksum-sha256", &sha)],
        body.clone(),
    )
    .await
    .assert_ok();
    let head = c
        .request(
            Method::HEAD,
            "/digests/sha",
            &[("x-amz-checksum-mode", "ENABLED")],
            Bytes::new(),
        )
        .await;
    assert_eq!(head.header("x-amz-checksum-sha256"), Some(sha.as_str()));

    // Every failed upload sent its chunks to gc, and gc (no delay in tests) reclaims them.
    server
        .state
        .store
        .collect_garbage(std::time::Duration::ZERO)
        .unwrap();
}

fn crc32(data: &[u8]) -> u32 {
    // Bitwise CRC-32/ISO-HDLC, independent of the crate the server uses.
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test]
async fn delete_object_and_delete_objects() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("del").await;
    for k in ["a", "b", "c d", "e&f"] {
        c.put("del", k, "x").await.assert_ok();
    }
    assert_eq!(
        c.request(Method::DELETE, "/del/a", &[], Bytes::new())
            .await
            .status,
        204
    );
    assert_eq!(
        c.request(Method::DELETE, "/del/never-existed", &[], Bytes::new())
            .await
            .status,
        204
    );
    c.request(Method::DELETE, "/no-such-bucket/a", &[], Bytes::new())
        .await
        .assert_error(404, "NoSuchBucket");

    let doc = "<Delete><Object><Key>b</Key></Object><Object><Key>c d</Key></Object>\
               <Object><Key>e&amp;f</Key></Object><Object><Key>ghost</Key></Object></Delete>";
    c.request(Method::POST, "/del?delete", &[], doc)
        .await
        .assert_error(400, "InvalidRequest");
    let md5 = b64(&Md5::digest(doc.as_bytes()));
    let resp = c
        .request(Method::POST, "/del?delete", &[("content-md5", &md5)], doc)
        .await;
    resp.assert_ok();
    assert_eq!(
        xml_values(&resp.text(), "Key"),
        ["b", "c d", "e&f", "ghost"]
    );
    let listed = c.request(Method::GET, "/del", &[], Bytes::new()).await;
    assert!(xml_values(&listed.text(), "Key").is_empty());

    c.put("del", "q", "x").await.assert_ok();
    let quiet = "<Delete><Quiet>true</Quiet><Object><Key>q</Key></Object></Delete>";
    let crc = b64(&crc32(quiet.as_bytes()).to_be_bytes());
    let resp = c
        .request(
            Method::POST,
            "/del?delete",
            &[("x-amz-checksum-crc32", &crc)],
            quiet,
        )
        .await;
    resp.assert_ok();
    assert!(
        xml_values(&resp.text(), "Key").is_empty(),
        "quiet mode lists only errors"
    );
    c.get("del", "q").await.assert_error(404, "NoSuchKey");
    let md5 = b64(&Md5::digest(b"<Delete"));
    c.request(
        Method::POST,
        "/del?delete",
        &[("content-md5", &md5)],
        "<Delete",
    )
    .await
    .assert_error(400, "MalformedXML");
}

#[tokio::test]
async fn copy_object_variants() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("src").await;
    c.create_bucket("dst").await;
    let body = pattern(150_000, 5);
    c.request(
        Method::PUT,
        "/src/orig%20key",
        &[
            ("content-type", "audio/mpeg"),
            ("x-amz-meta-artist", "Sibelius"),
        ],
        body.clone(),
    )
    .await
    .assert_ok();

    let copied = c
        .request(
            Method::PUT,
            "/dst/copy",
            &[("x-amz-copy-source", "/src/orig%20key")],
            Bytes::new(),
        )
        .await;
    copied.assert_ok();
    let etag = format!("\"{}\"", hex::encode(Md5::digest(&body)));
    assert_eq!(
        xml_values(&copied.text(), "ETag"),
        std::slice::from_ref(&etag)
    );
    let got = c.get("dst", "copy").await;
    assert!(got.body == body);
    assert_eq!(got.header("content-type"), Some("audio/mpeg"));
    assert_eq!(got.header("x-amz-meta-artist"), Some("Sibelius"));

    let replaced = c
        .request(
            Method::PUT,
            "/dst/replaced",
            &[
                ("x-amz-copy-source", "src/orig%20key"),
                ("x-amz-metadata-directive", "REPLACE"),
                ("x-amz-meta-artist", "Nielsen"),
            ],
            Bytes::new(),
        )
        .await;
    replaced.assert_ok();
    let head = c
        .request(Method::HEAD, "/dst/replaced", &[], Bytes::new())
        .await;
    assert_eq!(head.header("x-amz-meta-artist"), Some("Nielsen"));
    assert_eq!(head.header("content-type"), Some("binary/octet-stream"));

    c.request(
        Method::PUT,
        "/src/orig%20key",
        &[("x-amz-copy-source", "/src/orig%20key")],
        Bytes::new(),
    )
    .await
    .assert_error(400, "InvalidRequest");
    c.request(
        Method::PUT,
        "/src/orig%20key",
        &[
            ("x-amz-copy-source", "/src/orig%20key"),
            ("x-amz-metadata-directive", "REPLACE"),
            ("x-amz-meta-v", "2"),
        ],
        Bytes::new(),
    )
    .await
    .assert_ok();
    let self_copied = c.get("src", "orig key").await;
    assert!(self_copied.body == body, "copy onto itself keeps the bytes");
    assert_eq!(self_copied.header("x-amz-meta-v"), Some("2"));

    c.request(
        Method::PUT,
        "/dst/x",
        &[("x-amz-copy-source", "/src/missing")],
        Bytes::new(),
    )
    .await
    .assert_error(404, "NoSuchKey");
    c.request(
        Method::PUT,
        "/dst/x",
        &[("x-amz-copy-source", "/nobucket/missing")],
        Bytes::new(),
    )
    .await
    .assert_error(404, "NoSuchBucket");
    c.request(
        Method::PUT,
        "/dst/x",
        &[
            ("x-amz-copy-source", "/src/orig%20key"),
            ("x-amz-copy-source-if-match", "\"other\""),
        ],
        Bytes::new(),
    )
    .await
    .assert_error(412, "PreconditionFailed");
    c.request(
        Method::PUT,
        "/dst/x",
        &[
            ("x-amz-copy-source", "/src/orig%20key"),
            ("x-amz-copy-source-if-none-match", &etag),
        ],
        Bytes::new(),
    )
    .await
    .assert_error(412, "PreconditionFailed");
}

#[tokio::test]
async fn conditional_writes_are_atomic_with_the_commit() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("cond-writes").await;
    c.request(
        Method::PUT,
        "/cond-writes/once",
        &[("if-none-match", "*")],
        "first",
    )
    .await
    .assert_ok();
    c.request(
        Method::PUT,
        "/cond-writes/once",
        &[("if-none-match", "*")],
        "second",
    )
    .await
    .assert_error(412, "PreconditionFailed");
    assert_eq!(c.get("cond-writes", "once").await.body, "first");
}

/// Small bodies commit with a compare-and-swap rather than a transaction: racing
/// `If-None-Match: *` writers still see exactly one winner, and racing `If-Match` writers
/// never both replace the same version.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_conditional_small_writes_have_one_winner() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("race").await;
    let attempt = |headers: Vec<(&'static str, String)>, body: String| {
        let c = c.clone();
        tokio::spawn(async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            c.request(Method::PUT, "/race/k", &headers, body)
                .await
                .status
        })
    };
    for round in 0..5 {
        c.request(Method::DELETE, "/race/k", &[], Bytes::new())
            .await;
        let racers: Vec<_> = (0..16)
            .map(|n| attempt(vec![("if-none-match", "*".into())], format!("{round}-{n}")))
            .collect();
        let mut won = 0;
        for racer in racers {
            match racer.await.unwrap() {
                200 => won += 1,
                412 => {}
                other => panic!("unexpected status {other}"),
            }
        }
        assert_eq!(won, 1, "round {round}: one If-None-Match writer wins");
    }
    let etag = c.get("race", "k").await.header("etag").unwrap().to_owned();
    let racers: Vec<_> = (0..16)
        .map(|n| attempt(vec![("if-match", etag.clone())], format!("next-{n}")))
        .collect();
    let mut won = 0;
    for racer in racers {
        if racer.await.unwrap() == 200 {
            won += 1;
        }
    }
    assert_eq!(won, 1, "one If-Match writer replaces a given version");
}
