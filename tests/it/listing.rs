use bytes::Bytes;
use http::Method;

use crate::harness::{xml_values, TestServer};

async fn seeded(keys: &[&str]) -> TestServer {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("listing").await;
    for k in keys {
        c.put("listing", k, k.as_bytes().to_vec()).await.assert_ok();
    }
    server
}

const KEYS: &[&str] = &[
    "a.txt",
    "photos/2024/a.jpg",
    "photos/2024/b.jpg",
    "photos/2025/c.jpg",
    "photos/x.jpg",
    "z.txt",
];

#[tokio::test]
async fn prefix_delimiter_and_common_prefixes() {
    let server = seeded(KEYS).await;
    let c = &server.client();
    let get = |q: &'static str| async move {
        c.request(Method::GET, &format!("/listing?{q}"), &[], Bytes::new())
            .await
            .text()
    };

    let root = get("list-type=2&delimiter=%2F").await;
    assert_eq!(xml_values(&root, "Key"), ["a.txt", "z.txt"]);
    assert_eq!(xml_values(&root, "Prefix"), ["photos/"]);
    assert_eq!(xml_values(&root, "KeyCount"), ["3"]);

    let photos = get("list-type=2&delimiter=%2F&prefix=photos%2F").await;
    assert_eq!(xml_values(&photos, "Key"), ["photos/x.jpg"]);
    assert!(photos.contains("<CommonPrefixes><Prefix>photos/2024/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>photos/2025/</Prefix></CommonPrefixes>"), "{photos}");

    let no_delim = get("list-type=2&delimiter=&prefix=photos%2F2024").await;
    assert_eq!(
        xml_values(&no_delim, "Key"),
        ["photos/2024/a.jpg", "photos/2024/b.jpg"]
    );
    assert!(!no_delim.contains("<CommonPrefixes>"));

    let v1 = get("prefix=photos%2F").await;
    assert_eq!(xml_values(&v1, "Key").len(), 4);
    assert!(v1.contains("<Owner><ID>"), "v1 entries carry Owner");
    let entry = &v1[v1.find("<Contents>").unwrap()..];
    assert!(
        entry.contains("<StorageClass>STANDARD</StorageClass>") && entry.contains("<Size>"),
        "{entry}"
    );
    let modified = xml_values(&v1, "LastModified");
    assert!(
        modified.iter().all(|m| m.ends_with('Z') && m.len() == 24),
        "{modified:?}"
    );

    let owner = get("list-type=2&fetch-owner=true&max-keys=1").await;
    assert!(owner.contains("<Owner>"));
    assert!(!get("list-type=2&max-keys=1").await.contains("<Owner>"));
    let after = get("list-type=2&start-after=photos%2Fx.jpg").await;
    assert_eq!(xml_values(&after, "Key"), ["z.txt"]);
}

#[tokio::test]
async fn pagination_v1_and_v2_walks_every_key_once() {
    let server = seeded(KEYS).await;
    let c = server.client();
    // v2 with continuation tokens and a delimiter.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let q = match &token {
            Some(t) => format!("/listing?list-type=2&max-keys=2&delimiter=%2F&prefix=photos%2F&continuation-token={t}"),
            None => "/listing?list-type=2&max-keys=2&delimiter=%2F&prefix=photos%2F".to_string(),
        };
        let page = c.request(Method::GET, &q, &[], Bytes::new()).await.text();
        seen.extend(xml_values(&page, "Key"));
        seen.extend(
            xml_values(&page, "Prefix")
                .into_iter()
                .filter(|p| p != "photos/"),
        );
        match xml_values(&page, "NextContinuationToken").pop() {
            Some(t) => {
                assert!(page.contains("<IsTruncated>true</IsTruncated>"));
                token = Some(lambucket::urlenc::uri_encode(&t, false));
            }
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["photos/2024/", "photos/2025/", "photos/x.jpg"]);

    // v1 with markers and no delimiter: NextMarker absent, the client continues from the last key.
    let mut keys = Vec::new();
    let mut marker = String::new();
    loop {
        let page = c
            .request(
                Method::GET,
                &format!(
                    "/listing?max-keys=4&marker={}",
                    lambucket::urlenc::uri_encode(&marker, false)
                ),
                &[],
                Bytes::new(),
            )
            .await
            .text();
        assert!(xml_values(&page, "NextMarker").is_empty());
        let page_keys = xml_values(&page, "Key");
        keys.extend(page_keys.clone());
        if !page.contains("<IsTruncated>true</IsTruncated>") {
            break;
        }
        marker = page_keys.last().unwrap().clone();
    }
    assert_eq!(keys, KEYS);

    // v1 with a delimiter reports NextMarker, and a CommonPrefix marker skips its whole subtree.
    let page = c
        .request(
            Method::GET,
            "/listing?max-keys=2&delimiter=%2F",
            &[],
            Bytes::new(),
        )
        .await
        .text();
    assert_eq!(xml_values(&page, "NextMarker"), ["photos/"]);
    let next = c
        .request(
            Method::GET,
            "/listing?max-keys=2&delimiter=%2F&marker=photos%2F",
            &[],
            Bytes::new(),
        )
        .await
        .text();
    assert_eq!(xml_values(&next, "Key"), ["z.txt"]);
}

#[tokio::test]
async fn encoding_type_url_and_bad_parameters() {
    let server = seeded(&["a b+c.txt", "dir with space/é.txt"]).await;
    let c = server.client();
    let page = c
        .request(
            Method::GET,
            "/listing?list-type=2&encoding-type=url&delimiter=%2F",
            &[],
            Bytes::new(),
        )
        .await
        .text();
    assert_eq!(xml_values(&page, "Key"), ["a%20b%2Bc.txt"]);
    assert!(
        page.contains("<Prefix>dir%20with%20space/</Prefix>"),
        "{page}"
    );
    assert!(page.contains("<EncodingType>url</EncodingType>"));
    c.request(Method::GET, "/listing?max-keys=-1", &[], Bytes::new())
        .await
        .assert_error(400, "InvalidArgument");
    c.request(Method::GET, "/listing?max-keys=abc", &[], Bytes::new())
        .await
        .assert_error(400, "InvalidArgument");
    c.request(
        Method::GET,
        "/listing?encoding-type=base64",
        &[],
        Bytes::new(),
    )
    .await
    .assert_error(400, "InvalidArgument");
    c.request(
        Method::GET,
        "/listing?list-type=2&continuation-token=%25%25",
        &[],
        Bytes::new(),
    )
    .await
    .assert_error(400, "InvalidArgument");
    c.request(Method::GET, "/nowhere?list-type=2", &[], Bytes::new())
        .await
        .assert_error(404, "NoSuchBucket");
    let capped = c
        .request(Method::GET, "/listing?max-keys=5000", &[], Bytes::new())
        .await
        .text();
    assert!(capped.contains("<MaxKeys>1000</MaxKeys>"));
}

/// A page from a bucket of 200k keys: the scan starts at the marker and stops after one page,
/// and a delimiter skips each CommonPrefix with one seek.
#[tokio::test]
async fn pages_from_a_bucket_of_200k_keys() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("huge").await;
    let store = server.state.store.clone();
    tokio::task::spawn_blocking(move || {
        use lambucket::storage::{BodyRef, CommitCondition, NewBody, ObjectRecord};
        for i in 0..200_000u32 {
            let key = format!("user{:03}/event{:06}.json", i % 200, i);
            let rec = ObjectRecord {
                size: 1,
                etag: "0cc175b9c0f1b6a831c399e269772661".into(),
                last_modified_ms: 0,
                content_headers: vec![],
                user_metadata: vec![],
                checksum: None,
                body: BodyRef::Inline(b"a".to_vec()),
            };
            store
                .commit_object(
                    "huge",
                    &key,
                    &rec,
                    NewBody::Inline,
                    &CommitCondition::None,
                    &[],
                )
                .unwrap();
        }
    })
    .await
    .unwrap();

    let page = c
        .request(
            Method::GET,
            "/huge?list-type=2&max-keys=3&start-after=user150%2Fevent100350.json",
            &[],
            Bytes::new(),
        )
        .await
        .text();
    assert_eq!(
        xml_values(&page, "Key"),
        [
            "user150/event100550.json",
            "user150/event100750.json",
            "user150/event100950.json"
        ]
    );
    assert!(page.contains("<IsTruncated>true</IsTruncated>"));

    let prefixes = c
        .request(
            Method::GET,
            "/huge?list-type=2&delimiter=%2F&max-keys=1000",
            &[],
            Bytes::new(),
        )
        .await
        .text();
    assert_eq!(prefixes.matches("<CommonPrefixes>").count(), 200);
    assert!(prefixes.contains("<IsTruncated>false</IsTruncated>"));

    let last_page = c
        .request(
            Method::GET,
            "/huge?list-type=2&prefix=user199%2F&max-keys=1000",
            &[],
            Bytes::new(),
        )
        .await
        .text();
    assert_eq!(xml_values(&last_page, "Key").len(), 1000);
}

#[tokio::test]
async fn object_versions_list_each_key_once_as_the_null_version() {
    let server = seeded(KEYS).await;
    let c = &server.client();
    let get = |q: String| async move {
        c.request(Method::GET, &format!("/listing?{q}"), &[], Bytes::new())
            .await
    };

    // Paged by two: key-marker + version-id-marker from each page resume after its last key.
    let mut seen = Vec::new();
    let mut query = "versions&max-keys=2".to_owned();
    loop {
        let page = get(query.clone()).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let body = page.text();
        assert!(body.contains("<ListVersionsResult"), "{body}");
        let keys = xml_values(&body, "Key");
        assert!(xml_values(&body, "VersionId").iter().all(|v| v == "null"));
        assert_eq!(xml_values(&body, "IsLatest"), vec!["true"; keys.len()]);
        assert_eq!(xml_values(&body, "Size").len(), keys.len());
        seen.extend(keys);
        if xml_values(&body, "IsTruncated") == ["false"] {
            assert!(xml_values(&body, "NextKeyMarker").is_empty());
            break;
        }
        let next = xml_values(&body, "NextKeyMarker").remove(0);
        assert_eq!(xml_values(&body, "NextVersionIdMarker"), ["null"]);
        query = format!(
            "versions&max-keys=2&key-marker={}&version-id-marker=null",
            crate::harness::encode_key(&next)
        );
    }
    assert_eq!(seen, KEYS);

    let rolled = get("versions&delimiter=%2F&encoding-type=url".into())
        .await
        .text();
    assert_eq!(xml_values(&rolled, "Key"), ["a.txt", "z.txt"]);
    assert!(rolled.contains("<CommonPrefixes><Prefix>photos/</Prefix></CommonPrefixes>"));
    assert!(rolled.contains("<EncodingType>url</EncodingType>"));

    get("versions&version-id-marker=null".into())
        .await
        .assert_error(400, "InvalidArgument");
    get("versions&key-marker=a.txt&version-id-marker=3HL4kqtJlcpXroDTDmJ".into())
        .await
        .assert_error(400, "InvalidArgument");
    c.request(Method::GET, "/absent?versions", &[], Bytes::new())
        .await
        .assert_error(404, "NoSuchBucket");
}
