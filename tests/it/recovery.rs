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
