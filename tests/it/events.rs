//! Triggers end to end: configuration through the S3 API, the event JSON handlers receive,
//! retries and dead letters.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use base64::Engine;
use bytes::Bytes;
use http::Method;
use md5::{Digest, Md5};

use crate::harness::{pattern, test_config, xml_values, S3Client, TestServer};

const FUNCTION: &str = "arn:aws:lambda:us-east-1:000000000000:function:collect";

fn lambda_config(
    id: &str,
    arn: &str,
    events: &[&str],
    prefix: Option<&str>,
    suffix: Option<&str>,
) -> String {
    let events: String = events
        .iter()
        .map(|e| format!("<Event>{e}</Event>"))
        .collect();
    let mut rules = String::new();
    if let Some(p) = prefix {
        rules.push_str(&format!(
            "<FilterRule><Name>prefix</Name><Value>{p}</Value></FilterRule>"
        ));
    }
    if let Some(s) = suffix {
        rules.push_str(&format!(
            "<FilterRule><Name>Suffix</Name><Value>{s}</Value></FilterRule>"
        ));
    }
    let filter = if rules.is_empty() {
        String::new()
    } else {
        format!("<Filter><S3Key>{rules}</S3Key></Filter>")
    };
    format!("<CloudFunctionConfiguration><Id>{id}</Id><CloudFunction>{arn}</CloudFunction>{events}{filter}</CloudFunctionConfiguration>")
}

fn notification(body: &str) -> String {
    format!("<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{body}</NotificationConfiguration>")
}

/// A server with a `collect` function that records every event it gets.
async fn collecting_server() -> (TestServer, Arc<Mutex<Vec<S3EventRecord>>>) {
    let server = TestServer::start().await;
    let seen: Arc<Mutex<Vec<S3EventRecord>>> = Arc::default();
    let sink = seen.clone();
    server
        .state
        .events
        .registry
        .register_fn("collect", move |event: S3Event| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().extend(event.records);
                Ok::<(), String>(())
            }
        });
    (server, seen)
}

async fn configure(c: &S3Client, bucket: &str, body: &str) -> crate::harness::Response {
    c.request(
        Method::PUT,
        &format!("/{bucket}?notification"),
        &[],
        notification(body),
    )
    .await
}

#[tokio::test]
async fn object_changes_fire_aws_shaped_events() {
    let (server, seen) = collecting_server().await;
    let c = server.client();
    c.create_bucket("music-events").await;
    let rules = lambda_config(
        "listening",
        FUNCTION,
        &["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
        Some("events/"),
        Some(".json"),
    );
    configure(&c, "music-events", &rules).await.assert_ok();

    let body = br#"{"user":"alice","track":"t1","action":"like"}"#;
    let put = c
        .put(
            "music-events",
            "events/alice/2026 12 04+1.json",
            body.to_vec(),
        )
        .await;
    put.assert_ok();
    c.put("music-events", "events/alice/ignored.txt", "no")
        .await
        .assert_ok();
    c.put("music-events", "other/x.json", "no")
        .await
        .assert_ok();
    server.state.events.dispatcher.drain().await;

    let records = seen.lock().unwrap().clone();
    assert_eq!(records.len(), 1, "only the matching key fires");
    let r = &records[0];
    assert_eq!(r.event_name.as_deref(), Some("ObjectCreated:Put"));
    assert_eq!(r.event_source.as_deref(), Some("aws:s3"));
    assert_eq!(r.event_version.as_deref(), Some("2.1"));
    assert_eq!(r.aws_region.as_deref(), Some("us-east-1"));
    assert_eq!(r.s3.configuration_id.as_deref(), Some("listening"));
    assert_eq!(r.s3.bucket.name.as_deref(), Some("music-events"));
    assert_eq!(
        r.s3.bucket.arn.as_deref(),
        Some("arn:aws:s3:::music-events")
    );
    assert_eq!(
        r.s3.object.key.as_deref(),
        Some("events/alice/2026+12+04%2B1.json")
    );
    assert_eq!(r.s3.object.size, Some(body.len() as i64));
    assert_eq!(
        r.s3.object.e_tag.as_deref(),
        Some(hex::encode(Md5::digest(body)).as_str())
    );
    assert_eq!(
        r.request_parameters.source_ip_address.as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        r.response_elements
            .get("x-amz-request-id")
            .map(String::as_str),
        put.header("x-amz-request-id")
    );
    assert_eq!(
        r.response_elements.get("x-amz-id-2").map(String::as_str),
        put.header("x-amz-id-2")
    );
    let first_sequencer = r.s3.object.sequencer.clone().unwrap();

    // Copy, multipart, delete and multi-delete, each with its own event name.
    c.request(
        Method::PUT,
        "/music-events/events/copy.json",
        &[(
            "x-amz-copy-source",
            "/music-events/events/alice/2026%2012%2004%2B1.json",
        )],
        Bytes::new(),
    )
    .await
    .assert_ok();
    let upload = c
        .request(
            Method::POST,
            "/music-events/events/big.json?uploads",
            &[],
            Bytes::new(),
        )
        .await;
    let id = xml_values(&upload.text(), "UploadId").pop().unwrap();
    let etag = c
        .request(
            Method::PUT,
            &format!("/music-events/events/big.json?partNumber=1&uploadId={id}"),
            &[],
            pattern(1000, 1),
        )
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let complete = format!("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>");
    c.request(
        Method::POST,
        &format!("/music-events/events/big.json?uploadId={id}"),
        &[],
        complete,
    )
    .await
    .assert_ok();
    c.request(
        Method::DELETE,
        "/music-events/events/alice/2026%2012%2004%2B1.json",
        &[],
        Bytes::new(),
    )
    .await
    .assert_ok();
    c.request(
        Method::DELETE,
        "/music-events/events/never-existed.json",
        &[],
        Bytes::new(),
    )
    .await
    .assert_ok();
    let doc = "<Delete><Object><Key>events/copy.json</Key></Object><Object><Key>events/big.json</Key></Object></Delete>";
    let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(doc.as_bytes()));
    c.request(
        Method::POST,
        "/music-events?delete",
        &[("content-md5", &md5)],
        doc,
    )
    .await
    .assert_ok();
    server.state.events.dispatcher.drain().await;

    let records = seen.lock().unwrap().clone();
    let names: Vec<(String, String)> = records[1..]
        .iter()
        .map(|r| {
            (
                r.event_name.clone().unwrap(),
                r.s3.object.key.clone().unwrap(),
            )
        })
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            (
                "ObjectCreated:CompleteMultipartUpload".to_string(),
                "events/big.json".to_string()
            ),
            ("ObjectCreated:Copy".into(), "events/copy.json".into()),
            (
                "ObjectRemoved:Delete".into(),
                "events/alice/2026+12+04%2B1.json".into()
            ),
            ("ObjectRemoved:Delete".into(), "events/big.json".into()),
            ("ObjectRemoved:Delete".into(), "events/copy.json".into()),
        ]
    );
    let complete_event = records
        .iter()
        .find(|r| r.event_name.as_deref() == Some("ObjectCreated:CompleteMultipartUpload"))
        .unwrap();
    assert!(complete_event
        .s3
        .object
        .e_tag
        .as_deref()
        .unwrap()
        .ends_with("-1"));
    let removed = records
        .iter()
        .find(|r| r.event_name.as_deref() == Some("ObjectRemoved:Delete"))
        .unwrap();
    assert_eq!(removed.s3.object.size, None, "removals carry no size");
    assert_eq!(removed.s3.object.e_tag, None, "removals carry no eTag");
    let later = records
        .iter()
        .rfind(|r| r.s3.object.key.as_deref() == Some("events/alice/2026+12+04%2B1.json"))
        .unwrap();
    assert!(
        later.s3.object.sequencer.clone().unwrap() > first_sequencer,
        "sequencer grows per key"
    );
}

#[tokio::test]
async fn configuration_is_validated_stored_and_returned() {
    let (server, _) = collecting_server().await;
    let c = server.client();
    c.create_bucket("config-test").await;
    let missing = "arn:aws:lambda:us-east-1:000000000000:function:nobody";
    let resp = configure(
        &c,
        "config-test",
        &lambda_config("a", missing, &["s3:ObjectCreated:*"], None, None),
    )
    .await;
    resp.assert_error(400, "InvalidArgument");
    assert!(
        resp.text()
            .contains("Unable to validate the following destination configurations"),
        "{}",
        resp.text()
    );
    assert!(resp
        .text()
        .contains(&format!("<ArgumentName>{missing}</ArgumentName>")));
    let skipped = c
        .request(
            Method::PUT,
            "/config-test?notification",
            &[("x-amz-skip-destination-validation", "true")],
            notification(&lambda_config(
                "a",
                missing,
                &["s3:ObjectCreated:*"],
                None,
                None,
            )),
        )
        .await;
    skipped.assert_ok();

    let two = format!(
        "{}{}",
        lambda_config("one", FUNCTION, &["s3:ObjectCreated:*"], None, None),
        lambda_config("two", FUNCTION, &["s3:ObjectCreated:Put"], None, None)
    );
    let overlap = configure(&c, "config-test", &two).await;
    overlap.assert_error(400, "InvalidArgument");
    assert!(overlap.text().contains("Configurations overlap."));
    let bad_event = configure(
        &c,
        "config-test",
        &lambda_config("x", FUNCTION, &["s3:ObjectCreated:Nope"], None, None),
    )
    .await;
    assert!(bad_event
        .text()
        .contains("A specified event is not supported for notifications."));
    configure(&c, "config-test", "<QueueConfiguration>")
        .await
        .assert_error(400, "MalformedXML");

    let no_id = format!("<CloudFunctionConfiguration><CloudFunction>{FUNCTION}</CloudFunction><Event>s3:ObjectCreated:Put</Event><Filter><S3Key><FilterRule><Name>PREFIX</Name><Value>a/</Value></FilterRule></S3Key></Filter></CloudFunctionConfiguration>");
    configure(&c, "config-test", &no_id).await.assert_ok();
    let got = c
        .request(Method::GET, "/config-test?notification", &[], Bytes::new())
        .await
        .text();
    assert!(
        got.contains("<Name>Prefix</Name><Value>a/</Value>"),
        "filter names come back capitalised: {got}"
    );
    assert!(!xml_values(&got, "Id")[0].is_empty(), "an Id was generated");
    assert!(got.contains(&format!("<CloudFunction>{FUNCTION}</CloudFunction>")));

    configure(&c, "config-test", "").await.assert_ok();
    let cleared = c
        .request(Method::GET, "/config-test?notification", &[], Bytes::new())
        .await
        .text();
    assert!(!cleared.contains("CloudFunctionConfiguration"), "{cleared}");
    c.request(
        Method::GET,
        "/nobucket-here?notification",
        &[],
        Bytes::new(),
    )
    .await
    .assert_error(404, "NoSuchBucket");
}

#[tokio::test]
async fn queue_destinations_get_a_test_event_and_fan_out() {
    let server = TestServer::start().await;
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    for name in ["audit", "recommend"] {
        let sink = got.clone();
        let handler = Arc::new(Recorder { name, sink });
        server.state.events.registry.register(name, handler);
    }
    let c = server.client();
    c.create_bucket("fanout").await;
    let body = "<QueueConfiguration><Queue>arn:aws:sqs:us-east-1:000000000000:audit</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration>\
                <TopicConfiguration><Topic>arn:aws:sns:us-east-1:000000000000:recommend</Topic><Event>s3:ObjectRemoved:*</Event></TopicConfiguration>";
    configure(&c, "fanout", body).await.assert_ok();
    c.put("fanout", "k", "v").await.assert_ok();
    c.request(Method::DELETE, "/fanout/k", &[], Bytes::new())
        .await
        .assert_ok();
    server.state.events.dispatcher.drain().await;
    let mut got = got.lock().unwrap().clone();
    got.sort();
    assert_eq!(
        got,
        [
            "audit:ObjectCreated:Put",
            "audit:s3:TestEvent",
            "recommend:ObjectRemoved:Delete",
            "recommend:s3:TestEvent"
        ]
    );
}

struct Recorder {
    name: &'static str,
    sink: Arc<Mutex<Vec<String>>>,
}

impl lambucket::events::Handler for Recorder {
    fn invoke(
        &self,
        inv: lambucket::events::Invocation,
    ) -> lambucket::events::handlers::HandlerFuture {
        let value: serde_json::Value = serde_json::from_str(&inv.json).unwrap();
        let what = value["Records"][0]["eventName"]
            .as_str()
            .or(value["Event"].as_str())
            .unwrap()
            .to_owned();
        self.sink
            .lock()
            .unwrap()
            .push(format!("{}:{what}", self.name));
        Box::pin(async { Ok(()) })
    }
}

/// A server with bucket `bucket` whose ObjectCreated events go to a function that logs each
/// key it is called with and succeeds when `succeeds(key, n)` says so (`n`: this key's
/// attempts so far, this one included).
async fn judging_server(
    config: lambucket::Config,
    bucket: &str,
    succeeds: impl Fn(&str, usize) -> bool + Send + Sync + 'static,
) -> (TestServer, Arc<Mutex<Vec<String>>>) {
    let server = TestServer::start_with(config).await;
    let calls: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = calls.clone();
    let succeeds = Arc::new(succeeds);
    server
        .state
        .events
        .registry
        .register_fn("judge", move |event: S3Event| {
            let key = event.records[0].s3.object.key.clone().unwrap();
            let n = {
                let mut log = log.lock().unwrap();
                log.push(key.clone());
                log.iter().filter(|k| **k == key).count()
            };
            let verdict = match succeeds(&key, n) {
                true => Ok(()),
                false => Err(format!("attempt {n} of {key} failed")),
            };
            async move { verdict }
        });
    let c = server.client();
    c.create_bucket(bucket).await;
    let arn = "arn:aws:lambda:us-east-1:000000000000:function:judge";
    configure(
        &c,
        bucket,
        &lambda_config("j", arn, &["s3:ObjectCreated:*"], None, None),
    )
    .await
    .assert_ok();
    (server, calls)
}

#[tokio::test]
async fn failures_are_retried_then_dead_lettered() {
    let temp = tempfile::tempdir().unwrap();
    let mut config = test_config(temp.path());
    config.events.time_scale = 0.0005; // Lambda's 1 and 2 minute waits become 30 and 60 ms.
                                       // "recovers" succeeds on its second attempt; "broken" never does.
    let (server, attempts) =
        judging_server(config, "retries", |key, n| key == "recovers" && n >= 2).await;
    let c = server.client();
    c.put("retries", "recovers", "x").await.assert_ok();
    c.put("retries", "broken", "x").await.assert_ok();
    tokio::time::timeout(
        Duration::from_secs(20),
        server.state.events.dispatcher.drain(),
    )
    .await
    .expect("drained");

    let attempts = attempts.lock().unwrap().clone();
    assert_eq!(attempts.iter().filter(|k| *k == "recovers").count(), 2);
    assert_eq!(
        attempts.iter().filter(|k| *k == "broken").count(),
        3,
        "first attempt + MaximumRetryAttempts 2"
    );
    let dead = server.state.store.dead_letters(10).unwrap();
    assert_eq!(dead.len(), 1);
    let record = lambucket::events::dispatcher::OutboxRecord::decode(&dead[0].value).unwrap();
    assert_eq!(record.attempts, 3);
    assert!(record
        .last_error
        .unwrap()
        .contains("attempt 3 of broken failed"));
    let history = server.state.events.dispatcher.recent_attempts();
    assert_eq!(history.iter().filter(|a| a.outcome == "failed").count(), 4);
    assert!(history.iter().all(|a| a.handler == "judge"));
}

/// lambucket.toml: declared buckets are created and get their rules (names become ARNs);
/// the declared function receives the events; a bad declaration is refused with the reason.
#[tokio::test]
async fn config_file_declares_buckets_rules_and_functions() {
    let events_file = tempfile::NamedTempFile::new().unwrap();
    let toml = format!(
        r#"
[functions]
audit = "jsonl:{}"

[[buckets]]
name = "declared"

[[buckets.notifications]]
id = "audit-json"
function = "audit"
events = ["s3:ObjectCreated:*"]
suffix = ".json"

[[buckets]]
name = "plain"
"#,
        events_file.path().display()
    );
    let env = lambucket::environment::Environment::parse(&toml).unwrap();
    let temp = tempfile::tempdir().unwrap();
    let mut config = test_config(temp.path());
    config.functions = env.builtins().unwrap();
    let server = TestServer::start_with(config).await;
    lambucket::environment::apply(&server.state, &env).unwrap();
    // Applying again (a restart) is harmless.
    lambucket::environment::apply(&server.state, &env).unwrap();
    let c = server.client();

    c.request(Method::HEAD, "/plain", &[], Bytes::new())
        .await
        .assert_ok();
    let stored = c
        .request(Method::GET, "/declared?notification", &[], Bytes::new())
        .await;
    stored.assert_ok();
    assert_eq!(xml_values(&stored.text(), "Id"), ["audit-json"]);
    assert_eq!(
        xml_values(&stored.text(), "CloudFunction"),
        ["arn:aws:lambda:us-east-1:000000000000:function:audit"]
    );
    assert_eq!(xml_values(&stored.text(), "Value"), [".json"]);

    c.put("declared", "a.json", "{}").await.assert_ok();
    c.put("declared", "b.txt", "x").await.assert_ok();
    server.state.events.dispatcher.drain().await;
    let lines = std::fs::read_to_string(events_file.path()).unwrap();
    let keys: Vec<String> = lines
        .lines()
        .map(|l| {
            let event: S3Event = serde_json::from_str(l).unwrap();
            event.records[0].s3.object.key.clone().unwrap()
        })
        .collect();
    assert_eq!(keys, ["a.json"]);

    let unknown = lambucket::environment::Environment::parse(
        "[[buckets]]\nname = \"declared\"\n[[buckets.notifications]]\nfunction = \"nobody\"\nevents = [\"s3:ObjectCreated:*\"]\n",
    )
    .unwrap();
    let err = lambucket::environment::apply(&server.state, &unknown).unwrap_err();
    assert!(err.contains("Unable to validate"), "{err}");

    // The example's file stays valid.
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/music-prefs/lambucket.toml");
    let example = lambucket::environment::Environment::load(&example).unwrap();
    assert_eq!(example.buckets.len(), 2);
}

/// A backlog of events waiting out their retry backoff neither delays new events nor gets
/// attempted early; a record put in the outbox without telling the dispatcher (as a restart
/// leaves them) is still found and delivered.
#[tokio::test]
async fn new_events_pass_a_backlog_waiting_for_retries() {
    let temp = tempfile::tempdir().unwrap();
    let config = test_config(temp.path()); // Lambda's real backoff: the next attempt in 1 minute
    let (server, calls) =
        judging_server(config, "backlog", |key, _| !key.starts_with("down/")).await;
    let c = server.client();
    let dispatcher = &server.state.events.dispatcher;
    let backlog = 40;
    for i in 0..backlog {
        c.put("backlog", &format!("down/{i:02}"), "x")
            .await
            .assert_ok();
    }
    let failed_once = || {
        dispatcher
            .recent_attempts()
            .iter()
            .filter(|a| a.outcome == "failed")
            .count()
    };
    wait_until("every backlog event failed once", || {
        failed_once() == backlog
    })
    .await;

    c.put("backlog", "up/new", "x").await.assert_ok();
    wait_until("the new event delivered", || {
        calls.lock().unwrap().contains(&"up/new".to_string())
    })
    .await;

    // An undelivered record the dispatcher was not told about (as a restart leaves them).
    let mut record = dispatcher.pending(1).unwrap()[0].1.clone();
    record.json = record.json.replace("down/00", "up/found");
    record.attempts = 0;
    record.next_attempt_ms = 0;
    let seq = server.state.store.next_sequence().unwrap();
    server
        .state
        .store
        .outbox_insert(&[lambucket::storage::OutboxEntry {
            seq,
            value: record.encode(),
        }])
        .unwrap();
    wait_until("the unannounced record delivered", || {
        calls.lock().unwrap().contains(&"up/found".to_string())
    })
    .await;

    let calls = calls.lock().unwrap().clone();
    assert_eq!(
        calls.iter().filter(|k| k.starts_with("down/")).count(),
        backlog,
        "no backlog event was attempted again before its backoff ended"
    );
    assert_eq!(dispatcher.pending(usize::MAX).unwrap().len(), backlog);
}

async fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
