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
