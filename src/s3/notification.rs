//! Bucket notifications through the S3 API (Put/GetBucketNotificationConfiguration), and the
//! outbox records an object change produces for the rules it matches.

use http::StatusCode;

use super::{existing_bucket, S3Request, MAX_XML_BODY};
use crate::error::{S3Error, S3ErrorCode, S3Result};
use crate::events::config::{self, DestinationKind, NotificationConfig, RawRule};
use crate::events::dispatcher::OutboxRecord;
use crate::events::record::{self, encode_key, ObjectChange};
use crate::http::response::{empty, xml, S3Response};
use crate::storage::{BucketRecord, OutboxEntry};
use crate::time_fmt::{iso8601_ms, now_ms};
use crate::xml::{self as doc, S3_NAMESPACE};
use crate::AppState;

fn decode_config(bucket: &BucketRecord) -> Option<NotificationConfig> {
    bucket
        .notification
        .as_deref()
        .and_then(|json| serde_json::from_str(json).ok())
}

fn raw_rules(parsed: doc::NotificationConfiguration) -> Vec<RawRule> {
    let kinds = [
        (DestinationKind::Topic, parsed.topics),
        (DestinationKind::Queue, parsed.queues),
        (DestinationKind::Lambda, parsed.functions),
    ];
    kinds
        .into_iter()
        .flat_map(|(kind, list)| {
            list.into_iter().map(move |c| RawRule {
                id: c.id,
                kind: Some(kind),
                arn: c.topic.or(c.queue).or(c.cloud_function).unwrap_or_default(),
                events: c.events,
                filters: c
                    .filter
                    .map(|f| f.key.rules.into_iter().map(|r| (r.name, r.value)).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Validates `raw` rules for `bucket` (in `region`) against the registered handlers and makes
/// them the bucket's whole configuration; an empty one disables notifications. Shared by
/// PutBucketNotificationConfiguration and the rules a lambucket.toml declares.
pub(crate) fn replace_configuration(
    state: &AppState,
    bucket: &str,
    region: &str,
    raw: Vec<RawRule>,
    event_bridge: bool,
    skip_validation: bool,
) -> S3Result<NotificationConfig> {
    let registry = &state.events.registry;
    let config = config::build(
        raw,
        event_bridge,
        region,
        |arn| registry.resolve(arn).is_some(),
        skip_validation,
    )
    .map_err(|e| S3Error::invalid_argument(e.message, &e.argument_name, &e.argument_value))?;
    let stored = (!config.rules.is_empty() || config.event_bridge)
        .then(|| serde_json::to_string(&config).map_err(S3Error::internal))
        .transpose()?;
    if !state.store.set_bucket_notification(bucket, stored)? {
        return Err(S3Error::no_such_bucket(bucket));
    }
    Ok(config)
}

pub async fn put_bucket_notification_configuration(
    state: &AppState,
    mut req: S3Request,
) -> S3Result<S3Response> {
    let bucket = existing_bucket(state, &req.bucket)?;
    let body = req
        .body
        .collect_capped(MAX_XML_BODY, S3ErrorCode::MalformedXML)
        .await?;
    let parsed: doc::NotificationConfiguration = doc::from_xml(&body)?;
    let event_bridge = parsed.event_bridge.is_some();
    let skip_validation = req
        .header("x-amz-skip-destination-validation")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let config = replace_configuration(
        state,
        &req.bucket,
        &bucket.region,
        raw_rules(parsed),
        event_bridge,
        skip_validation,
    )?;
    // S3 sends a test event to queue and topic destinations (never to Lambda functions).
    let time = iso8601_ms(now_ms());
    let mut tests = Vec::new();
    for rule in config
        .rules
        .iter()
        .filter(|r| r.kind != DestinationKind::Lambda)
    {
        let json =
            record::test_event_json(&req.bucket, &time, &req.ctx.request_id, &req.ctx.host_id);
        tests.push(outbox_entry(
            state,
            &rule.arn,
            "s3:TestEvent",
            &req.ctx.request_id,
            json,
        )?);
    }
    state.store.outbox_insert(&tests)?;
    state.events.dispatcher.recorded(&sequence_numbers(&tests));
    state.store.make_durable().await?;
    state.events.dispatcher.wake();
    Ok(empty(StatusCode::OK))
}

pub async fn get_bucket_notification_configuration(
    state: &AppState,
    req: S3Request,
) -> S3Result<S3Response> {
    let bucket = existing_bucket(state, &req.bucket)?;
    let config = decode_config(&bucket).unwrap_or_default();
    let mut out = doc::NotificationConfiguration {
        xmlns: S3_NAMESPACE,
        ..Default::default()
    };
    for rule in config.rules {
        let mut filters = Vec::new();
        if let Some(p) = rule.prefix {
            filters.push(doc::FilterRule {
                name: "Prefix".into(),
                value: p,
            });
        }
        if let Some(s) = rule.suffix {
            filters.push(doc::FilterRule {
                name: "Suffix".into(),
                value: s,
            });
        }
        let mut entry = doc::DestinationConfiguration {
            id: Some(rule.id),
            events: rule.events,
            filter: (!filters.is_empty()).then_some(doc::NotificationFilter {
                key: doc::S3KeyFilter { rules: filters },
            }),
            ..Default::default()
        };
        match rule.kind {
            DestinationKind::Topic => {
                entry.topic = Some(rule.arn);
                out.topics.push(entry);
            }
            DestinationKind::Queue => {
                entry.queue = Some(rule.arn);
                out.queues.push(entry);
            }
            DestinationKind::Lambda => {
                entry.cloud_function = Some(rule.arn);
                out.functions.push(entry);
            }
        }
    }
    if config.event_bridge {
        out.event_bridge = Some(doc::EventBridgeConfiguration {});
    }
    Ok(xml(doc::to_xml(&out)?))
}

fn outbox_entry(
    state: &AppState,
    target: &str,
    event_name: &str,
    request_id: &str,
    json: String,
) -> S3Result<OutboxEntry> {
    let seq = state.store.next_sequence()?;
    Ok(OutboxEntry {
        seq,
        value: outbox_value(target, event_name, request_id, json),
    })
}

fn outbox_value(target: &str, event_name: &str, request_id: &str, json: String) -> Vec<u8> {
    let now = now_ms();
    OutboxRecord {
        target: target.to_owned(),
        event_name: event_name.to_owned(),
        request_id: request_id.to_owned(),
        json,
        created_ms: now,
        attempts: 0,
        next_attempt_ms: now,
        last_error: None,
    }
    .encode()
}

/// Who caused a change, as events report it.
pub(super) struct Origin {
    principal_id: String,
    source_ip: String,
    request_id: String,
    host_id: String,
}

impl Origin {
    /// Changes made by code embedding Lambucket (a Rust trigger handler writing results).
    pub(super) fn embedded() -> Origin {
        Origin {
            principal_id: "lambucket:embedded".into(),
            source_ip: "127.0.0.1".into(),
            request_id: format!("EMBEDDED{:08X}", rand::random::<u32>()),
            host_id: "lambucket-embedded".into(),
        }
    }

    fn of(req: &S3Request) -> Origin {
        Origin {
            principal_id: format!("AWS:{}", req.ctx.principal.access_key),
            source_ip: req.ctx.source_ip.to_string(),
            request_id: req.ctx.request_id.clone(),
            host_id: req.ctx.host_id.clone(),
        }
    }
}

/// One outbox record for `rule_id`/`target` describing a change to `key`.
#[allow(clippy::too_many_arguments)]
fn change_entry(
    state: &AppState,
    bucket_name: &str,
    bucket: &BucketRecord,
    origin: &Origin,
    event: &str,
    key: &str,
    created: Option<(u64, &str)>,
    rule_id: &str,
    target: &str,
) -> S3Result<OutboxEntry> {
    let seq = state.store.next_sequence()?;
    let change = ObjectChange {
        event_name: event.to_owned(),
        bucket: bucket_name.to_owned(),
        region: bucket.region.clone(),
        key: key.to_owned(),
        size: created.map(|(size, _)| size),
        etag: created.map(|(_, etag)| etag.to_owned()),
        sequence: seq,
        event_time: iso8601_ms(now_ms()),
        principal_id: origin.principal_id.clone(),
        source_ip: origin.source_ip.clone(),
        request_id: origin.request_id.clone(),
        host_id: origin.host_id.clone(),
    };
    let json = record::event_json(&change, rule_id);
    Ok(OutboxEntry {
        seq,
        value: outbox_value(target, event, &origin.request_id, json),
    })
}

/// The outbox records for a change to `key` (`event` without the `s3:` prefix), one per
/// matching rule; empty when the bucket has no matching rule.
pub fn events_for(
    state: &AppState,
    bucket: &BucketRecord,
    req: &S3Request,
    event: &str,
    key: &str,
    created: Option<(u64, &str)>,
) -> S3Result<Vec<OutboxEntry>> {
    events_from(
        state,
        &req.bucket,
        bucket,
        &Origin::of(req),
        event,
        key,
        created,
    )
}

/// [`events_for`] for a change that did not come over HTTP (embedding code).
pub(super) fn events_from(
    state: &AppState,
    bucket_name: &str,
    bucket: &BucketRecord,
    origin: &Origin,
    event: &str,
    key: &str,
    created: Option<(u64, &str)>,
) -> S3Result<Vec<OutboxEntry>> {
    let Some(config) = decode_config(bucket) else {
        return Ok(Vec::new());
    };
    let qualified = format!("s3:{event}");
    let encoded_key = encode_key(key);
    config
        .rules
        .iter()
        .filter(|r| r.matches(&qualified, &encoded_key))
        .map(|rule| {
            change_entry(
                state,
                bucket_name,
                bucket,
                origin,
                event,
                key,
                created,
                &rule.id,
                &rule.arn,
            )
        })
        .collect()
}

/// Fires `ObjectCreated:Put` for every existing object under `prefix` at `target` (a newly
/// added handler catching up). Returns how many events were queued.
pub fn backfill(
    state: &AppState,
    bucket_name: &str,
    prefix: &str,
    target: &str,
) -> S3Result<usize> {
    let bucket = existing_bucket(state, bucket_name)?;
    let origin = Origin {
        principal_id: "lambucket:backfill".into(),
        source_ip: "127.0.0.1".into(),
        request_id: format!("BACKFILL{:08X}", rand::random::<u32>()),
        host_id: "lambucket-backfill".into(),
    };
    let mut queued = 0;
    let mut after: Option<String> = None;
    loop {
        let page = state.store.list_objects(&crate::storage::ListQuery {
            bucket: bucket_name,
            prefix,
            delimiter: None,
            start_after: after.as_deref(),
            max_keys: 1000,
        })?;
        let mut entries = Vec::with_capacity(page.entries.len());
        for entry in &page.entries {
            if let crate::storage::ListEntry::Object { key, summary } = entry {
                let created = Some((summary.size, summary.etag.as_str()));
                entries.push(change_entry(
                    state,
                    bucket_name,
                    &bucket,
                    &origin,
                    "ObjectCreated:Put",
                    key,
                    created,
                    "backfill",
                    target,
                )?);
            }
        }
        state.store.outbox_insert(&entries)?;
        state
            .events
            .dispatcher
            .recorded(&sequence_numbers(&entries));
        state.events.dispatcher.wake();
        queued += entries.len();
        match (page.is_truncated, page.entries.last()) {
            (true, Some(last)) => after = Some(last.name().to_owned()),
            _ => break,
        }
    }
    Ok(queued)
}

/// The sequence numbers of `events`: how the dispatcher is told of them.
pub fn sequence_numbers(events: &[OutboxEntry]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

/// After a commit that recorded events (`recorded`, their sequence numbers; maybe none):
/// makes it durable, has the events delivered, and in synchronous mode waits until they are,
/// so the handler has run before the client gets its 2xx. The dispatcher learns of them
/// before the flush, so the writer that runs the flush starts delivering every event it
/// covered, not just its own, while the others are still being woken.
pub async fn after_commit(state: &AppState, recorded: &[u64]) -> S3Result<()> {
    state.events.dispatcher.recorded(recorded);
    state.store.make_durable().await?;
    deliver(state, recorded).await;
    Ok(())
}

/// [`after_commit`] for a commit that is durable already (`Store::commit_logged`).
pub async fn after_durable_commit(state: &AppState, recorded: &[u64]) {
    state.events.dispatcher.recorded(recorded);
    deliver(state, recorded).await;
}

async fn deliver(state: &AppState, recorded: &[u64]) {
    if recorded.is_empty() {
        return;
    }
    state.events.dispatcher.wake();
    if state.config.deliver_before_response {
        state.events.dispatcher.drain().await;
    }
}
