use std::time::Duration;

use lambucket::storage::BodyRef;

use crate::harness::{pattern, test_config, TestServer};

#[tokio::test]
async fn acknowledged_objects_survive_a_restart() {
    let temp = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(test_config(temp.path())).await;
    let c = server.client();
    c.create_bucket("keep").await;
    let body = pattern(500_000, 11);
    c.put("keep", "big", body.clone()).await.assert_ok();
    c.put("keep", "small", "tiny").await.assert_ok();
    server.stop().await;

    let server = TestServer::start_with(test_config(temp.path())).await;
    let c = server.client();
    assert!(c.get("keep", "big").await.body == body);
    assert_eq!(c.get("keep", "small").await.body, "tiny");
}

#[tokio::test]
async fn overwritten_and_deleted_bodies_are_collected() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("gc-test").await;
    c.put("gc-test", "k", pattern(200_000, 1)).await.assert_ok();
    let store = server.state.store.clone();
    let blob_of = |store: &lambucket::storage::Store| match store
        .object("gc-test", "k")
        .unwrap()
        .unwrap()
        .body
    {
        BodyRef::Chunks(blob) => blob.blob_id,
        other => panic!("expected chunks, got {other:?}"),
    };
    let first = blob_of(&store);
    c.put("gc-test", "k", pattern(200_000, 2)).await.assert_ok();
    let second = blob_of(&store);
    store.collect_garbage(Duration::ZERO).unwrap();
    assert!(
        !store.blob_exists(first).unwrap(),
        "overwritten body reclaimed"
    );
    assert!(store.blob_exists(second).unwrap());
    c.request(http::Method::DELETE, "/gc-test/k", &[], bytes::Bytes::new())
        .await
        .assert_ok();
    store.collect_garbage(Duration::ZERO).unwrap();
    assert!(
        !store.blob_exists(second).unwrap(),
        "deleted body reclaimed"
    );
}

/// Many writers asking for durability at once must share flushes, not pile them up: piling
/// them on sled's IO pool once deadlocked the server (and its runtime) under 32 concurrent
/// PUTs, so the watchdog runs on a thread of its own.
#[test]
fn concurrent_durable_writes_complete() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(durable_writes_at_concurrency_32());
        let _ = done.send(());
    });
    finished
        .recv_timeout(Duration::from_secs(120))
        .expect("durable PUTs at concurrency 32 must neither hang nor fail");
}

async fn durable_writes_at_concurrency_32() {
    let temp = tempfile::tempdir().unwrap();
    let config = test_config(temp.path()).durability(lambucket::storage::Durability::Sync);
    let server = TestServer::start_with(config).await;
    let c = server.client();
    c.create_bucket("sync").await;
    let writers: Vec<_> = (0..32)
        .map(|writer| {
            let c = c.clone();
            tokio::spawn(async move {
                for n in 0..8 {
                    let key = format!("w{writer}/{n}");
                    let body = pattern(4096, writer * 100 + n);
                    c.put("sync", &key, body).await.assert_ok();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer panicked");
    }
    assert_eq!(c.get("sync", "w31/7").await.body, pattern(4096, 3107));
    server.stop().await;
}

/// Small bodies of a store that syncs its writes go to the body log: every way of writing,
/// reading and replacing one must give back the right bytes, before and after a restart.
#[tokio::test]
async fn logged_small_bodies_read_back_across_a_restart() {
    let temp = tempfile::tempdir().unwrap();
    let config = || test_config(temp.path()).durability(lambucket::storage::Durability::Sync);
    let server = TestServer::start_with(config()).await;
    let c = server.client();
    c.create_bucket("small").await;
    c.put("small", "a", pattern(4096, 1)).await.assert_ok();
    c.put("small", "a", pattern(3000, 2)).await.assert_ok();
    c.put("small", "b", pattern(2048, 3)).await.assert_ok();
    c.request(
        http::Method::PUT,
        "/small/copy-of-b",
        &[("x-amz-copy-source", "/small/b")],
        bytes::Bytes::new(),
    )
    .await
    .assert_ok();
    c.put("small", "gone", pattern(1500, 4)).await.assert_ok();
    c.request(
        http::Method::DELETE,
        "/small/gone",
        &[],
        bytes::Bytes::new(),
    )
    .await
    .assert_ok();
    let store = server.state.store.clone();
    assert!(matches!(
        store.object("small", "a").unwrap().unwrap().body,
        BodyRef::Logged(_)
    ));
    assert_eq!(store.body_log_usage().1, 3000 + 2048 + 2048);
    let ranged = c
        .request(
            http::Method::GET,
            "/small/a",
            &[("range", "bytes=100-199")],
            bytes::Bytes::new(),
        )
        .await;
    assert_eq!(ranged.status, 206);
    assert_eq!(ranged.body, pattern(3000, 2)[100..200]);
    drop(store);
    server.stop().await;

    let server = TestServer::start_with(config()).await;
    let c = server.client();
    assert_eq!(c.get("small", "a").await.body, pattern(3000, 2));
    assert_eq!(c.get("small", "b").await.body, pattern(2048, 3));
    assert_eq!(c.get("small", "copy-of-b").await.body, pattern(2048, 3));
    assert_eq!(c.get("small", "gone").await.status, 404);
    assert_eq!(
        server.state.store.body_log_usage().1,
        3000 + 2048 + 2048,
        "live bytes counted again at start-up"
    );
}
