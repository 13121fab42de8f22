//! The event JSON exactly as S3 sends it to Lambda (`{"Records":[…]}`), field by field, and the
//! test event sent to queue and topic destinations when a configuration is stored.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;

/// S3 form-encodes keys in events: space → `+`, and everything but A-Z a-z 0-9 `-_.*` and
/// `/` percent-encoded (so a literal `+` is `%2B`).
const EVENT_KEY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'*')
    .remove(b'/')
    .remove(b' ');

pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, EVENT_KEY)
        .to_string()
        .replace(' ', "+")
}

/// What changed, as the S3 layer knows it at commit time.
#[derive(Debug, Clone)]
pub struct ObjectChange {
    /// Without the `s3:` prefix: `ObjectCreated:Put`, `ObjectRemoved:Delete`, …
    pub event_name: String,
    pub bucket: String,
    pub region: String,
    pub key: String,
    /// Size and ETag (hex, unquoted) for created objects; None for removals.
    pub size: Option<u64>,
    pub etag: Option<String>,
    pub sequence: u64,
    pub event_time: String,
    pub principal_id: String,
    pub source_ip: String,
    pub request_id: String,
    pub host_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    event_version: &'static str,
    event_source: &'static str,
    aws_region: &'a str,
    event_time: &'a str,
    event_name: &'a str,
    user_identity: PrincipalId<'a>,
    request_parameters: RequestParameters<'a>,
    response_elements: ResponseElements<'a>,
    s3: S3Entity<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PrincipalId<'a> {
    principal_id: &'a str,
}

#[derive(Serialize)]
struct RequestParameters<'a> {
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: &'a str,
}

#[derive(Serialize)]
struct ResponseElements<'a> {
    #[serde(rename = "x-amz-request-id")]
    request_id: &'a str,
    #[serde(rename = "x-amz-id-2")]
    host_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct S3Entity<'a> {
    s3_schema_version: &'static str,
    configuration_id: &'a str,
    bucket: Bucket<'a>,
    object: Object<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bucket<'a> {
    name: &'a str,
    owner_identity: PrincipalId<'a>,
    arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Object<'a> {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(rename = "eTag", skip_serializing_if = "Option::is_none")]
    e_tag: Option<&'a str>,
    sequencer: String,
}

#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "Records")]
    records: [Record<'a>; 1],
}

/// The principal S3 reports as the bucket owner.
pub const OWNER_PRINCIPAL: &str = "A3LAMBUCKETOWNER";

/// S3's sequencer: hex, compared per key after left-padding; later changes compare greater.
pub fn sequencer(sequence: u64) -> String {
    format!("{sequence:018X}")
}

/// `{"Records":[…]}` for one change and the configuration (rule Id) it matched.
pub fn event_json(change: &ObjectChange, configuration_id: &str) -> String {
    let envelope = Envelope {
        records: [Record {
            event_version: "2.1",
            event_source: "aws:s3",
            aws_region: &change.region,
            event_time: &change.event_time,
            event_name: &change.event_name,
            user_identity: PrincipalId {
                principal_id: &change.principal_id,
            },
            request_parameters: RequestParameters {
                source_ip_address: &change.source_ip,
            },
            response_elements: ResponseElements {
                request_id: &change.request_id,
                host_id: &change.host_id,
            },
            s3: S3Entity {
                s3_schema_version: "1.0",
                configuration_id,
                bucket: Bucket {
                    name: &change.bucket,
                    owner_identity: PrincipalId {
                        principal_id: OWNER_PRINCIPAL,
                    },
                    arn: format!("arn:aws:s3:::{}", change.bucket),
                },
                object: Object {
                    key: encode_key(&change.key),
                    size: change.size,
                    e_tag: change.etag.as_deref(),
                    sequencer: sequencer(change.sequence),
                },
            },
        }],
    };
    serde_json::to_string(&envelope).expect("event records serialize")
}

/// The `s3:TestEvent` S3 sends to queue and topic destinations when a configuration is stored.
pub fn test_event_json(bucket: &str, time: &str, request_id: &str, host_id: &str) -> String {
    serde_json::json!({
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": time,
        "Bucket": bucket,
        "RequestId": request_id,
        "HostId": host_id,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_form_encoded_keeping_slashes() {
        assert_eq!(encode_key("red flower.jpg"), "red+flower.jpg");
        assert_eq!(encode_key("a+b"), "a%2Bb");
        assert_eq!(encode_key("users/ABC/é.json"), "users/ABC/%C3%A9.json");
        assert_eq!(encode_key("x&y=z%"), "x%26y%3Dz%25");
    }

    fn change(event_name: &str, size: Option<u64>, etag: Option<&str>) -> ObjectChange {
        ObjectChange {
            event_name: event_name.into(),
            bucket: "music-events".into(),
            region: "us-east-1".into(),
            key: "events/alice/1 2.json".into(),
            size,
            etag: etag.map(str::to_owned),
            sequence: 0x5E,
            event_time: "2026-12-04T10:00:00.123Z".into(),
            principal_id: "AWS:lambucket".into(),
            source_ip: "127.0.0.1".into(),
            request_id: "REQ123".into(),
            host_id: "HOST456".into(),
        }
    }

    #[test]
    fn golden_object_created_put() {
        let json = event_json(
            &change(
                "ObjectCreated:Put",
                Some(42),
                Some("0cc175b9c0f1b6a831c399e269772661"),
            ),
            "likes",
        );
        assert_eq!(
            json,
            concat!(
                r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","#,
                r#""eventTime":"2026-12-04T10:00:00.123Z","eventName":"ObjectCreated:Put","#,
                r#""userIdentity":{"principalId":"AWS:lambucket"},"requestParameters":{"sourceIPAddress":"127.0.0.1"},"#,
                r#""responseElements":{"x-amz-request-id":"REQ123","x-amz-id-2":"HOST456"},"#,
                r#""s3":{"s3SchemaVersion":"1.0","configurationId":"likes","#,
                r#""bucket":{"name":"music-events","ownerIdentity":{"principalId":"A3LAMBUCKETOWNER"},"arn":"arn:aws:s3:::music-events"},"#,
                r#""object":{"key":"events/alice/1+2.json","size":42,"eTag":"0cc175b9c0f1b6a831c399e269772661","sequencer":"00000000000000005E"}}}]}"#
            )
        );
    }

    #[test]
    fn golden_object_removed_has_no_size_or_etag() {
        let json = event_json(&change("ObjectRemoved:Delete", None, None), "gone");
        assert!(json.contains(r#""eventName":"ObjectRemoved:Delete""#));
        assert!(
            json.contains(
                r#""object":{"key":"events/alice/1+2.json","sequencer":"00000000000000005E"}"#
            ),
            "{json}"
        );
    }

    #[test]
    fn parses_as_the_lambda_runtime_type() {
        let json = event_json(
            &change(
                "ObjectCreated:CompleteMultipartUpload",
                Some(7),
                Some("abc-2"),
            ),
            "c",
        );
        let event: aws_lambda_events::event::s3::S3Event = serde_json::from_str(&json).unwrap();
        let record = &event.records[0];
        assert_eq!(
            record.event_name.as_deref(),
            Some("ObjectCreated:CompleteMultipartUpload")
        );
        assert_eq!(
            record.s3.object.key.as_deref(),
            Some("events/alice/1+2.json")
        );
        assert_eq!(record.s3.object.size, Some(7));
        assert_eq!(record.s3.configuration_id.as_deref(), Some("c"));
        assert_eq!(
            record
                .response_elements
                .get("x-amz-request-id")
                .map(String::as_str),
            Some("REQ123")
        );
        assert_eq!(record.event_time.timestamp_subsec_millis(), 123);
    }

    #[test]
    fn sequencers_grow_with_the_sequence() {
        assert!(sequencer(9) < sequencer(10));
        assert!(sequencer(0xFFFF) < sequencer(0x10000));
    }
}
