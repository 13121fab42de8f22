//! The AWS SDK for Rust (aws-sdk-s3) against the in-process server, configured as a user
//! would: endpoint, static credentials, path-style. It signs, checksums (CRC32 by default,
//! aws-chunked trailers for streamed bodies), paginates and parses errors its own way.

use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier,
};
use aws_sdk_s3::Client;
use std::time::Duration;

use md5::Digest;

use crate::harness::{pattern, TestServer, ACCESS_KEY, SECRET_KEY};

const MIB: usize = 1024 * 1024;

fn sdk_client(server: &TestServer) -> Client {
    let config = aws_sdk_s3::Config::builder()
        .endpoint_url(format!("http://{}", server.addr))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "tests",
        ))
        .force_path_style(true)
        // Plain HTTP: the SDK's default client is HTTPS-only.
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    Client::from_conf(config)
}

#[tokio::test]
async fn rust_sdk_objects_ranges_checksums_and_errors() {
    let server = TestServer::start().await;
    let s3 = sdk_client(&server);
    s3.create_bucket().bucket("rust-sdk").send().await.unwrap();

    let body = pattern(300_000, 1);
    let put = s3
        .put_object()
        .bucket("rust-sdk")
        .key("dir/a b+c.bin")
        .content_type("application/x-test")
        .metadata("genre", "ambient")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let md5 = format!("\"{:x}\"", md5::Md5::digest(&body));
    assert_eq!(put.e_tag(), Some(md5.as_str()));
    assert!(
        put.checksum_crc32().is_some(),
        "the SDK's default CRC32 was stored and echoed"
    );

    let got = s3
        .get_object()
        .bucket("rust-sdk")
        .key("dir/a b+c.bin")
        .range("bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_range(), Some("bytes 1000-1999/300000"));
    assert_eq!(got.content_type(), Some("application/x-test"));
    let piece = got.body.collect().await.unwrap().into_bytes();
    assert_eq!(&piece[..], &body[1000..2000]);

    let head = s3
        .head_object()
        .bucket("rust-sdk")
        .key("dir/a b+c.bin")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_length(), Some(body.len() as i64));
    assert_eq!(head.checksum_crc32(), put.checksum_crc32());
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("genre"))
            .map(String::as_str),
        Some("ambient")
    );

    // A streamed body (from a file) goes up aws-chunked with a trailing checksum.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("streamed.bin");
    let streamed = pattern(2 * MIB + 17, 2);
    std::fs::write(&path, &streamed).unwrap();
    s3.put_object()
        .bucket("rust-sdk")
        .key("streamed.bin")
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .body(ByteStream::from_path(&path).await.unwrap())
        .send()
        .await
        .unwrap();
    let back = s3
        .get_object()
        .bucket("rust-sdk")
        .key("streamed.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(
        back.body.collect().await.unwrap().into_bytes().as_ref(),
        &streamed[..]
    );

    // Errors parse into the SDK's typed variants.
    let missing = s3
        .get_object()
        .bucket("rust-sdk")
        .key("absent")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(missing.is_no_such_key(), "{missing:?}");
    let no_bucket = s3
        .list_objects_v2()
        .bucket("no-such-bucket-here")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(no_bucket.code(), Some("NoSuchBucket"));
    let bad_range = s3
        .get_object()
        .bucket("rust-sdk")
        .key("dir/a b+c.bin")
        .range("bytes=400000-")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(bad_range.code(), Some("InvalidRange"));

    // A presigned GET, fetched without the SDK.
    let presigned = s3
        .get_object()
        .bucket("rust-sdk")
        .key("dir/a b+c.bin")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    let resp = server.client().get_url(presigned.uri()).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.body.as_ref(), &body[..]);
}

#[tokio::test]
async fn rust_sdk_multipart_copy_listing_and_batch_delete() {
    let server = TestServer::start().await;
    let s3 = sdk_client(&server);
    s3.create_bucket().bucket("rust-mp").send().await.unwrap();

    let parts = [pattern(5 * MIB, 3), pattern(MIB + 5, 4)];
    let upload = s3
        .create_multipart_upload()
        .bucket("rust-mp")
        .key("song.flac")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap();
    let upload_id = upload.upload_id().unwrap();
    let mut completed = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let number = i as i32 + 1;
        let done = s3
            .upload_part()
            .bucket("rust-mp")
            .key("song.flac")
            .upload_id(upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(part.clone()))
            .send()
            .await
            .unwrap();
        completed.push(
            CompletedPart::builder()
                .part_number(number)
                .e_tag(done.e_tag().unwrap())
                .set_checksum_crc32(done.checksum_crc32().map(str::to_owned))
                .build(),
        );
    }
    let complete = s3
        .complete_multipart_upload()
        .bucket("rust-mp")
        .key("song.flac")
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(complete.e_tag().unwrap().ends_with("-2\""), "{complete:?}");
    let whole = s3
        .get_object()
        .bucket("rust-mp")
        .key("song.flac")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(whole.len(), parts[0].len() + parts[1].len());
    assert_eq!(&whole[..parts[0].len()], &parts[0][..]);
    assert_eq!(&whole[parts[0].len()..], &parts[1][..]);

    s3.copy_object()
        .bucket("rust-mp")
        .key("copies/song.flac")
        .copy_source("rust-mp/song.flac")
        .send()
        .await
        .unwrap();
    for i in 0..5 {
        s3.put_object()
            .bucket("rust-mp")
            .key(format!("plays/{i}.json"))
            .body(ByteStream::from(format!("{{\"play\":{i}}}").into_bytes()))
            .send()
            .await
            .unwrap();
    }

    // The SDK's paginator follows continuation tokens two keys at a time.
    let keys: Vec<String> = s3
        .list_objects_v2()
        .bucket("rust-mp")
        .max_keys(2)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .iter()
        .flat_map(|page| {
            page.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned))
        })
        .collect();
    let mut expected = vec!["copies/song.flac".to_owned(), "song.flac".to_owned()];
    expected.extend((0..5).map(|i| format!("plays/{i}.json")));
    expected.sort();
    assert_eq!(keys, expected);

    let folders = s3
        .list_objects_v2()
        .bucket("rust-mp")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<_> = folders
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["copies/", "plays/"]);

    let objects = keys
        .iter()
        .map(|k| ObjectIdentifier::builder().key(k).build().unwrap())
        .collect();
    let deleted = s3
        .delete_objects()
        .bucket("rust-mp")
        .delete(
            Delete::builder()
                .set_objects(Some(objects))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.deleted().len(), expected.len());
    assert!(deleted.errors().is_empty());
    s3.delete_bucket().bucket("rust-mp").send().await.unwrap();
}
