use base64::Engine;
use bytes::Bytes;
use http::Method;
use md5::{Digest, Md5};

use crate::harness::{pattern, test_config, xml_values, S3Client, TestServer};

const MIB: usize = 1 << 20;

async fn create(c: &S3Client, bucket: &str, key: &str, headers: &[(&str, &str)]) -> String {
    let resp = c
        .request(
            Method::POST,
            &format!("/{bucket}/{key}?uploads"),
            headers,
            Bytes::new(),
        )
        .await;
    resp.assert_ok();
    xml_values(&resp.text(), "UploadId")
        .pop()
        .expect("UploadId")
}

async fn part(
    c: &S3Client,
    bucket: &str,
    key: &str,
    id: &str,
    n: u32,
    body: &[u8],
    headers: &[(&str, &str)],
) -> String {
    let resp = c
        .request(
            Method::PUT,
            &format!("/{bucket}/{key}?partNumber={n}&uploadId={id}"),
            headers,
            body.to_vec(),
        )
        .await;
    resp.assert_ok();
    resp.header("etag").unwrap().to_owned()
}

fn complete_doc(parts: &[(u32, &str)]) -> String {
    let body: String = parts
        .iter()
        .map(|(n, e)| format!("<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"))
        .collect();
    format!("<CompleteMultipartUpload>{body}</CompleteMultipartUpload>")
}

fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut all = Md5::new();
    for p in parts {
        all.update(Md5::digest(p));
    }
    format!("\"{}-{}\"", hex::encode(all.finalize()), parts.len())
}

#[tokio::test]
async fn upload_complete_and_read_back() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("multi").await;
    let id = create(
        &c,
        "multi",
        "big%20file",
        &[("content-type", "video/mp4"), ("x-amz-meta-track", "7")],
    )
    .await;
    let p1 = pattern(5 * MIB, 1);
    let p2 = pattern(5 * MIB + 123, 2);
    let p3 = pattern(1000, 3);
    // Out of order, and part 2 uploaded twice (the second one wins).
    let e3 = part(&c, "multi", "big%20file", &id, 3, &p3, &[]).await;
    part(&c, "multi", "big%20file", &id, 2, &p1, &[]).await;
    let e2 = part(&c, "multi", "big%20file", &id, 2, &p2, &[]).await;
    let e1 = part(&c, "multi", "big%20file", &id, 1, &p1, &[]).await;

    let listed = c
        .request(
            Method::GET,
            &format!("/multi/big%20file?uploadId={id}&max-parts=2"),
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(xml_values(&listed.text(), "PartNumber"), ["1", "2"]);
    assert_eq!(xml_values(&listed.text(), "NextPartNumberMarker"), ["2"]);
    let rest = c
        .request(
            Method::GET,
            &format!("/multi/big%20file?uploadId={id}&part-number-marker=2"),
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(xml_values(&rest.text(), "PartNumber"), ["3"]);

    let doc = complete_doc(&[(1, &e1), (2, &e2), (3, &e3)]);
    let done = c
        .request(
            Method::POST,
            &format!("/multi/big%20file?uploadId={id}"),
            &[],
            doc.clone(),
        )
        .await;
    done.assert_ok();
    let etag = multipart_etag(&[&p1, &p2, &p3]);
    assert_eq!(
        xml_values(&done.text(), "ETag"),
        std::slice::from_ref(&etag)
    );
    assert_eq!(xml_values(&done.text(), "Key"), ["big file"]);

    let got = c.get("multi", "big file").await;
    let whole = [p1.clone(), p2.clone(), p3.clone()].concat();
    assert!(got.body == whole);
    assert_eq!(got.header("etag"), Some(etag.as_str()));
    assert_eq!(got.header("content-type"), Some("video/mp4"));
    assert_eq!(got.header("x-amz-meta-track"), Some("7"));

    // A range across the part boundary, and one part by number.
    let start = 5 * MIB - 10;
    let spec = format!("bytes={start}-{}", start + 19);
    let cross = c
        .request(
            Method::GET,
            "/multi/big%20file",
            &[("range", &spec)],
            Bytes::new(),
        )
        .await;
    assert_eq!(cross.status, 206);
    assert_eq!(cross.body, &whole[start..start + 20]);
    let second = c
        .request(
            Method::GET,
            "/multi/big%20file?partNumber=2",
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(second.status, 206);
    assert!(second.body == p2);
    assert_eq!(second.header("x-amz-mp-parts-count"), Some("3"));
    c.request(
        Method::GET,
        "/multi/big%20file?partNumber=4",
        &[],
        Bytes::new(),
    )
    .await
    .assert_error(416, "InvalidPartNumber");

    // Completing again answers as before; the upload itself is gone.
    let again = c
        .request(
            Method::POST,
            &format!("/multi/big%20file?uploadId={id}"),
            &[],
            doc,
        )
        .await;
    again.assert_ok();
    assert_eq!(xml_values(&again.text(), "ETag"), [etag]);
    c.request(
        Method::GET,
        &format!("/multi/big%20file?uploadId={id}"),
        &[],
        Bytes::new(),
    )
    .await
    .assert_error(404, "NoSuchUpload");
}

#[tokio::test]
async fn complete_validates_and_a_failed_complete_leaves_the_upload_usable() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("mpv").await;
    let id = create(&c, "mpv", "k", &[]).await;
    let small = pattern(1000, 1);
    let big = pattern(5 * MIB, 2);
    let e1 = part(&c, "mpv", "k", &id, 1, &small, &[]).await;
    let e2 = part(&c, "mpv", "k", &id, 2, &big, &[]).await;
    let complete = |doc: String| {
        let c = &c;
        let id = id.clone();
        async move {
            c.request(Method::POST, &format!("/mpv/k?uploadId={id}"), &[], doc)
                .await
        }
    };
    complete(complete_doc(&[(1, &e1), (2, &e2)]))
        .await
        .assert_error(400, "EntityTooSmall");
    complete(complete_doc(&[(2, &e2), (1, &e1)]))
        .await
        .assert_error(400, "InvalidPartOrder");
    complete(complete_doc(&[(1, "\"0000\"")]))
        .await
        .assert_error(400, "InvalidPart");
    complete(complete_doc(&[(7, &e1)]))
        .await
        .assert_error(400, "InvalidPart");
    complete("<CompleteMultipartUpload></CompleteMultipartUpload>".into())
        .await
        .assert_error(400, "MalformedXML");
    c.request(
        Method::POST,
        "/mpv/k?uploadId=nope",
        &[],
        complete_doc(&[(1, &e1)]),
    )
    .await
    .assert_error(404, "NoSuchUpload");
    c.request(
        Method::PUT,
        &format!("/mpv/k?partNumber=0&uploadId={id}"),
        &[],
        "x",
    )
    .await
    .assert_error(400, "InvalidArgument");
    c.request(
        Method::PUT,
        &format!("/mpv/other?partNumber=1&uploadId={id}"),
        &[],
        "x",
    )
    .await
    .assert_error(404, "NoSuchUpload");

    // Still usable: re-upload part 1 large enough, complete with only it and part 2.
    let e1 = part(&c, "mpv", "k", &id, 1, &big, &[]).await;
    let e3 = part(&c, "mpv", "k", &id, 3, &small, &[]).await;
    let _ = e3;
    complete(complete_doc(&[(1, &e1), (2, &e2)]))
        .await
        .assert_ok();
    assert_eq!(c.get("mpv", "k").await.body.len(), 10 * MIB);
    // Part 3 was left out of the Complete: its blob is reclaimed.
    let store = server.state.store.clone();
    store.collect_garbage(std::time::Duration::ZERO).unwrap();
    assert_eq!(store.housekeeping_counts(), (0, 0));
}

#[tokio::test]
async fn abort_list_uploads_and_survive_a_restart() {
    let temp = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(test_config(temp.path())).await;
    let c = server.client();
    c.create_bucket("uploads-b").await;
    let a1 = create(&c, "uploads-b", "photos/2024/a.jpg", &[]).await;
    let a2 = create(&c, "uploads-b", "photos/2024/a.jpg", &[]).await;
    let b = create(&c, "uploads-b", "photos/b.jpg", &[]).await;
    let z = create(&c, "uploads-b", "zeta", &[]).await;
    part(
        &c,
        "uploads-b",
        "photos/b.jpg",
        &b,
        1,
        &pattern(100, 1),
        &[],
    )
    .await;

    let all = c
        .request(Method::GET, "/uploads-b?uploads", &[], Bytes::new())
        .await
        .text();
    assert_eq!(
        xml_values(&all, "UploadId"),
        [a1.clone(), a2.clone(), b.clone(), z.clone()]
    );
    let by_prefix = c
        .request(
            Method::GET,
            "/uploads-b?uploads&prefix=photos%2F",
            &[],
            Bytes::new(),
        )
        .await
        .text();
    assert_eq!(
        xml_values(&by_prefix, "Key"),
        ["photos/2024/a.jpg", "photos/2024/a.jpg", "photos/b.jpg"]
    );
    let grouped = c
        .request(
            Method::GET,
            "/uploads-b?uploads&prefix=photos%2F&delimiter=%2F",
            &[],
            Bytes::new(),
        )
        .await
        .text();
    assert_eq!(xml_values(&grouped, "Key"), ["photos/b.jpg"]);
    assert!(
        grouped.contains("<CommonPrefixes><Prefix>photos/2024/</Prefix></CommonPrefixes>"),
        "{grouped}"
    );
    let page = c
        .request(
            Method::GET,
            "/uploads-b?uploads&max-uploads=1",
            &[],
            Bytes::new(),
        )
        .await
        .text();
    assert_eq!(
        xml_values(&page, "NextUploadIdMarker"),
        std::slice::from_ref(&a1)
    );
    let next = c
        .request(
            Method::GET,
            &format!("/uploads-b?uploads&key-marker=photos%2F2024%2Fa.jpg&upload-id-marker={a1}"),
            &[],
            Bytes::new(),
        )
        .await
        .text();
    assert_eq!(xml_values(&next, "UploadId")[0], a2);
    let after_key = c
        .request(
            Method::GET,
            "/uploads-b?uploads&key-marker=photos%2F2024%2Fa.jpg",
            &[],
            Bytes::new(),
        )
        .await
        .text();
    assert_eq!(xml_values(&after_key, "UploadId"), [b.clone(), z.clone()]);

    assert_eq!(
        c.request(
            Method::DELETE,
            &format!("/uploads-b/zeta?uploadId={z}"),
            &[],
            Bytes::new()
        )
        .await
        .status,
        204
    );
    c.request(
        Method::DELETE,
        &format!("/uploads-b/zeta?uploadId={z}"),
        &[],
        Bytes::new(),
    )
    .await
    .assert_error(404, "NoSuchUpload");
    server.stop().await;

    let server = TestServer::start_with(test_config(temp.path())).await;
    let c = server.client();
    let all = c
        .request(Method::GET, "/uploads-b?uploads", &[], Bytes::new())
        .await
        .text();
    assert_eq!(xml_values(&all, "UploadId"), [a1, a2, b.clone()]);
    let listed = c
        .request(
            Method::GET,
            &format!("/uploads-b/photos/b.jpg?uploadId={b}"),
            &[],
            Bytes::new(),
        )
        .await
        .text();
    let etag = xml_values(&listed, "ETag").pop().unwrap();
    c.request(
        Method::POST,
        &format!("/uploads-b/photos/b.jpg?uploadId={b}"),
        &[],
        complete_doc(&[(1, &etag)]),
    )
    .await
    .assert_ok();
    assert_eq!(
        c.get("uploads-b", "photos/b.jpg").await.body,
        pattern(100, 1)
    );
    // DeleteBucket reclaims uploads still in progress.
    for k in ["photos/b.jpg"] {
        c.request(
            Method::DELETE,
            &format!("/uploads-b/{k}"),
            &[],
            Bytes::new(),
        )
        .await
        .assert_ok();
    }
    assert_eq!(
        c.request(Method::DELETE, "/uploads-b", &[], Bytes::new())
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn upload_part_copy_with_ranges() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("copies").await;
    let source = pattern(6 * MIB + 7, 9);
    c.put("copies", "src", source.clone()).await.assert_ok();
    let id = create(&c, "copies", "dst", &[]).await;
    let first = c
        .request(
            Method::PUT,
            &format!("/copies/dst?partNumber=1&uploadId={id}"),
            &[
                ("x-amz-copy-source", "/copies/src"),
                (
                    "x-amz-copy-source-range",
                    &format!("bytes=0-{}", 5 * MIB - 1),
                ),
            ],
            Bytes::new(),
        )
        .await;
    first.assert_ok();
    let e1 = xml_values(&first.text(), "ETag").pop().unwrap();
    assert_eq!(
        e1,
        format!("\"{}\"", hex::encode(Md5::digest(&source[..5 * MIB])))
    );
    let second = c
        .request(
            Method::PUT,
            &format!("/copies/dst?partNumber=2&uploadId={id}"),
            &[
                ("x-amz-copy-source", "/copies/src"),
                (
                    "x-amz-copy-source-range",
                    &format!("bytes={}-{}", 5 * MIB, source.len() - 1),
                ),
            ],
            Bytes::new(),
        )
        .await;
    let e2 = xml_values(&second.text(), "ETag").pop().unwrap();
    c.request(
        Method::PUT,
        &format!("/copies/dst?partNumber=3&uploadId={id}"),
        &[
            ("x-amz-copy-source", "/copies/src"),
            ("x-amz-copy-source-range", "bytes=0-99999999"),
        ],
        Bytes::new(),
    )
    .await
    .assert_error(400, "InvalidArgument");
    c.request(
        Method::POST,
        &format!("/copies/dst?uploadId={id}"),
        &[],
        complete_doc(&[(1, &e1), (2, &e2)]),
    )
    .await
    .assert_ok();
    assert!(c.get("copies", "dst").await.body == source);
}

#[tokio::test]
async fn composite_and_full_object_checksums() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("checks").await;
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    let parts = [pattern(5 * MIB, 1), pattern(3000, 2)];
    let sha: Vec<Vec<u8>> = parts
        .iter()
        .map(|p| sha2::Sha256::digest(p).to_vec())
        .collect();

    let id = create(
        &c,
        "checks",
        "composite",
        &[("x-amz-checksum-algorithm", "SHA256")],
    )
    .await;
    let mut etags = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        etags.push(
            part(
                &c,
                "checks",
                "composite",
                &id,
                i as u32 + 1,
                p,
                &[("x-amz-checksum-sha256", &b64(&sha[i]))],
            )
            .await,
        );
    }
    let with_sums: String = etags
        .iter()
        .enumerate()
        .map(|(i, e)| format!("<Part><PartNumber>{}</PartNumber><ETag>{e}</ETag><ChecksumSHA256>{}</ChecksumSHA256></Part>", i + 1, b64(&sha[i])))
        .collect();
    let missing = complete_doc(&[(1, &etags[0]), (2, &etags[1])]);
    c.request(
        Method::POST,
        &format!("/checks/composite?uploadId={id}"),
        &[],
        missing,
    )
    .await
    .assert_error(400, "InvalidRequest");
    let done = c
        .request(
            Method::POST,
            &format!("/checks/composite?uploadId={id}"),
            &[],
            format!("<CompleteMultipartUpload>{with_sums}</CompleteMultipartUpload>"),
        )
        .await;
    done.assert_ok();
    let expected = format!(
        "{}-2",
        b64(&sha2::Sha256::digest(
            [sha[0].clone(), sha[1].clone()].concat()
        ))
    );
    assert_eq!(
        xml_values(&done.text(), "ChecksumSHA256"),
        std::slice::from_ref(&expected)
    );
    assert_eq!(xml_values(&done.text(), "ChecksumType"), ["COMPOSITE"]);
    let head = c
        .request(
            Method::HEAD,
            "/checks/composite",
            &[("x-amz-checksum-mode", "ENABLED")],
            Bytes::new(),
        )
        .await;
    assert_eq!(
        head.header("x-amz-checksum-sha256"),
        Some(expected.as_str())
    );
    assert_eq!(head.header("x-amz-checksum-type"), Some("COMPOSITE"));

    // No algorithm named: S3's default, a full-object CRC64NVME, same as a single PUT would get.
    let id = create(&c, "checks", "full", &[]).await;
    let e1 = part(&c, "checks", "full", &id, 1, &parts[0], &[]).await;
    let e2 = part(&c, "checks", "full", &id, 2, &parts[1], &[]).await;
    c.request(
        Method::POST,
        &format!("/checks/full?uploadId={id}"),
        &[],
        complete_doc(&[(1, &e1), (2, &e2)]),
    )
    .await
    .assert_ok();
    c.put(
        "checks",
        "single",
        [parts[0].clone(), parts[1].clone()].concat(),
    )
    .await
    .assert_ok();
    let full = c
        .request(
            Method::HEAD,
            "/checks/full",
            &[("x-amz-checksum-mode", "ENABLED")],
            Bytes::new(),
        )
        .await;
    let single = c
        .request(
            Method::HEAD,
            "/checks/single",
            &[("x-amz-checksum-mode", "ENABLED")],
            Bytes::new(),
        )
        .await;
    assert!(full.header("x-amz-checksum-crc64nvme").is_some());
    assert_eq!(
        full.header("x-amz-checksum-crc64nvme"),
        single.header("x-amz-checksum-crc64nvme")
    );
    assert_eq!(full.header("x-amz-checksum-type"), Some("FULL_OBJECT"));
}
