use std::time::Duration;

use bytes::Bytes;
use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{pattern, test_config, xml_values, TestServer};

/// Sends raw bytes and reads whatever comes back until the server closes or `wait` passes.
async fn raw(addr: std::net::SocketAddr, request: &[u8], wait: Duration) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn path_and_query(url: &str) -> &str {
    let rest = url.strip_prefix("http://").unwrap();
    &rest[rest.find('/').unwrap()..]
}

#[tokio::test]
async fn put_without_length_or_too_large_is_refused_before_the_body() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("lim").await;
    let url = c.presign("PUT", "/lim/obj", Duration::from_secs(60));
    let target = path_and_query(&url);

    let no_length = format!("PUT {target} HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr);
    let resp = raw(server.addr, no_length.as_bytes(), Duration::from_secs(5)).await;
    assert!(resp.starts_with("HTTP/1.1 411"), "{resp}");
    assert!(resp.contains("<Code>MissingContentLength</Code>"), "{resp}");

    let huge = format!(
        "PUT {target} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        6u64 << 30
    );
    let resp = raw(server.addr, huge.as_bytes(), Duration::from_secs(5)).await;
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(resp.contains("<Code>EntityTooLarge</Code>"), "{resp}");
    c.get("lim", "obj").await.assert_error(404, "NoSuchKey");
}

#[tokio::test]
async fn a_client_that_disconnects_mid_upload_leaves_nothing() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("cut").await;
    let url = c.presign("PUT", "/cut/partial", Duration::from_secs(60));
    let head = format!(
        "PUT {} HTTP/1.1\r\nHost: {}\r\nContent-Length: 1000000\r\n\r\n",
        path_and_query(&url),
        server.addr
    );
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![1u8; 300_000]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(stream);

    // The abandoned blob leaves `pending` for `gc`, and gc reclaims it.
    let store = server.state.store.clone();
    let mut counts = (1, 1);
    for _ in 0..100 {
        store.collect_garbage(Duration::ZERO).unwrap();
        counts = store.housekeeping_counts();
        if counts == (0, 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(counts, (0, 0), "(pending, gc) after the disconnect");
    c.get("cut", "partial").await.assert_error(404, "NoSuchKey");
}

#[tokio::test]
async fn a_stalled_body_times_out_without_blocking_others() {
    let temp = tempfile::tempdir().unwrap();
    let mut config = test_config(temp.path());
    config.body_idle_timeout = Duration::from_millis(500);
    let server = TestServer::start_with(config).await;
    let c = server.client();
    c.create_bucket("slow").await;
    let url = c.presign("PUT", "/slow/trickle", Duration::from_secs(60));
    let head = format!(
        "PUT {} HTTP/1.1\r\nHost: {}\r\nContent-Length: 100\r\n\r\n0123456789",
        path_and_query(&url),
        server.addr
    );
    let stalled =
        tokio::spawn(
            async move { raw(server.addr, head.as_bytes(), Duration::from_secs(10)).await },
        );
    // Others are served while that client stalls.
    c.put("slow", "other", "fine").await.assert_ok();
    let resp = stalled.await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
    assert!(resp.contains("<Code>RequestTimeout</Code>"), "{resp}");
    c.get("slow", "trickle")
        .await
        .assert_error(404, "NoSuchKey");
    drop(temp);
}

#[tokio::test]
async fn xml_bodies_are_capped() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("cap").await;
    let big = format!(
        "<Delete>{}</Delete>",
        "<Object><Key>k</Key></Object>".repeat(100_000)
    );
    let md5 = {
        use base64::Engine;
        use md5::Digest;
        base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(big.as_bytes()))
    };
    let resp = c
        .request(Method::POST, "/cap?delete", &[("content-md5", &md5)], big)
        .await;
    resp.assert_error(400, "MalformedXML");
    let list = c.request(Method::GET, "/cap", &[], Bytes::new()).await;
    assert!(xml_values(&list.text(), "Key").is_empty());
}

#[tokio::test]
async fn overwritten_bodies_are_reclaimed_after_being_read() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("reclaim").await;
    let blobs_dir = server.state.config.data_dir.join("blobs");
    for round in 0..4u64 {
        let body = pattern(300_000, round);
        c.put("reclaim", "song", body.clone()).await.assert_ok();
        let got = c.get("reclaim", "song").await;
        got.assert_ok();
        assert_eq!(got.body.as_ref(), body.as_slice());
    }
    let store = server.state.store.clone();
    let mut files = usize::MAX;
    for _ in 0..100 {
        store.collect_garbage(Duration::ZERO).unwrap();
        files = count_files(&blobs_dir);
        if files == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(files, 1, "blob files left for one live object");
    assert_eq!(store.housekeeping_counts(), (0, 0));
}

fn count_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => count_files(&e.path()),
                    _ => 1,
                })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn the_collector_reclaims_on_its_own() {
    let temp = tempfile::tempdir().unwrap();
    let mut config = test_config(temp.path());
    config.store.gc_delay = Duration::from_millis(300);
    let server = TestServer::start_with(config).await;
    let c = server.client();
    c.create_bucket("reclaim").await;
    let blobs_dir = server.state.config.data_dir.join("blobs");
    for round in 0..4u64 {
        c.put("reclaim", "song", pattern(300_000, round))
            .await
            .assert_ok();
    }
    let mut files = usize::MAX;
    for _ in 0..200 {
        files = count_files(&blobs_dir);
        if files == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(files, 1, "blob files left for one live object");
}
