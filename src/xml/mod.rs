//! S3 XML bodies: serde structs for every document we read or write, and the only place that
//! names quick_xml. Input is size-capped by the caller; anything unparsable is MalformedXML.

mod types;

pub use types::*;

use serde::{de::DeserializeOwned, Serialize};

use crate::error::{S3Error, S3ErrorCode, S3Result};

pub const S3_NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";
const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Serializes a response document (the struct's serde name is the root element).
pub fn to_xml<T: Serialize>(value: &T) -> S3Result<String> {
    let body = quick_xml::se::to_string(value).map_err(S3Error::internal)?;
    Ok(format!("{DECLARATION}{body}"))
}

/// Parses a request document.
pub fn from_xml<T: DeserializeOwned>(bytes: &[u8]) -> S3Result<T> {
    let text = std::str::from_utf8(bytes).map_err(|_| S3Error::new(S3ErrorCode::MalformedXML))?;
    quick_xml::de::from_str(text).map_err(|e| {
        tracing::debug!(error = %e, "malformed XML body");
        S3Error::new(S3ErrorCode::MalformedXML)
    })
}

/// The `<Error>` document. Written by hand because its detail elements vary per error.
pub fn error_document(err: &S3Error, resource: &str, request_id: &str, host_id: &str) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(DECLARATION);
    out.push_str("<Error>");
    element(&mut out, "Code", err.code.as_str());
    element(&mut out, "Message", &err.message);
    for (name, value) in &err.details {
        element(&mut out, name, value);
    }
    element(&mut out, "Resource", resource);
    element(&mut out, "RequestId", request_id);
    element(&mut out, "HostId", host_id);
    out.push_str("</Error>");
    out
}

fn element(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&quick_xml::escape::escape(value));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_document_escapes_and_orders_elements() {
        let err = S3Error::no_such_key("a<b&c");
        let xml = error_document(&err, "/bkt/a<b&c", "REQ", "HOST");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
             <Message>The specified key does not exist.</Message><Key>a&lt;b&amp;c</Key>\
             <Resource>/bkt/a&lt;b&amp;c</Resource><RequestId>REQ</RequestId><HostId>HOST</HostId></Error>"
        );
    }

    #[test]
    fn delete_request_parses_with_namespace_and_quiet() {
        let body = br#"<?xml version="1.0"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
            <Object><Key>a b</Key></Object><Object><Key>c&amp;d</Key><VersionId>null</VersionId></Object>
            <Quiet>true</Quiet></Delete>"#;
        let parsed: DeleteRequest = from_xml(body).unwrap();
        assert!(parsed.quiet);
        let keys: Vec<_> = parsed.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["a b", "c&d"]);
    }

    #[test]
    fn garbage_is_malformed_xml() {
        let err = from_xml::<DeleteRequest>(b"<Delete><Object>").unwrap_err();
        assert_eq!(err.code, S3ErrorCode::MalformedXML);
    }

    #[test]
    fn list_v2_document_shape() {
        let doc = ListBucketResultV2 {
            xmlns: S3_NAMESPACE,
            name: "bkt".into(),
            prefix: "p/".into(),
            delimiter: Some("/".into()),
            max_keys: 2,
            key_count: 1,
            is_truncated: false,
            contents: vec![ObjectEntry {
                key: "p/a".into(),
                last_modified: "2026-01-01T00:00:00.000Z".into(),
                etag: "\"e\"".into(),
                size: 3,
                storage_class: "STANDARD",
                owner: None,
            }],
            common_prefixes: vec![CommonPrefix {
                prefix: "p/d/".into(),
            }],
            ..Default::default()
        };
        let xml = to_xml(&doc).unwrap();
        assert!(xml.contains("<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>bkt</Name><Prefix>p/</Prefix>"), "{xml}");
        assert!(xml.contains("<Contents><Key>p/a</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>\"e\"</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass></Contents>"), "{xml}");
        assert!(
            xml.contains("<CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes>"),
            "{xml}"
        );
        assert!(xml.contains("<KeyCount>1</KeyCount>"));
        assert!(!xml.contains("ContinuationToken"));
    }
}

#[cfg(test)]
mod multipart_tests {
    use super::*;

    #[test]
    fn complete_request_with_checksums_parses() {
        let body = br#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
            <Part><ETag>"a"</ETag><PartNumber>1</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>
            <Part><PartNumber>2</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>"#;
        let parsed: CompleteMultipartUpload = from_xml(body).unwrap();
        assert_eq!(parsed.parts.len(), 2);
        assert_eq!(parsed.parts[0].checksums().get("CRC32"), Some("AAAAAA=="));
        assert_eq!(parsed.parts[1].part_number, 2);
        assert!(parsed.parts[1].checksums().present().is_empty());
    }

    #[test]
    fn complete_result_carries_checksum_and_type() {
        let mut doc = CompleteMultipartUploadResult {
            xmlns: S3_NAMESPACE,
            location: "http://h/b/k".into(),
            bucket: "b".into(),
            key: "k".into(),
            etag: "\"e-2\"".into(),
            checksum_type: Some("COMPOSITE".into()),
            ..Default::default()
        };
        doc.set_checksums(ChecksumFields::of("CRC32", "AAAAAA==-2"));
        let xml = to_xml(&doc).unwrap();
        assert!(
            xml.contains(
                "<ChecksumCRC32>AAAAAA==-2</ChecksumCRC32><ChecksumType>COMPOSITE</ChecksumType>"
            ),
            "{xml}"
        );
    }
}

#[cfg(test)]
mod notification_tests {
    use super::*;

    #[test]
    fn notification_configuration_round_trips() {
        let body = br#"<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
            <CloudFunctionConfiguration><Id>likes</Id><CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:f</CloudFunction>
              <Event>s3:ObjectCreated:*</Event><Event>s3:ObjectRemoved:Delete</Event>
              <Filter><S3Key><FilterRule><Name>prefix</Name><Value>events/</Value></FilterRule></S3Key></Filter>
            </CloudFunctionConfiguration>
            <QueueConfiguration><Queue>arn:aws:sqs:us-east-1:000000000000:q</Queue><Event>s3:ObjectCreated:Put</Event></QueueConfiguration>
            <EventBridgeConfiguration/></NotificationConfiguration>"#;
        let parsed: NotificationConfiguration = from_xml(body).unwrap();
        assert_eq!(parsed.functions.len(), 1);
        assert_eq!(
            parsed.functions[0].events,
            ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"]
        );
        assert_eq!(
            parsed.functions[0].filter.as_ref().unwrap().key.rules[0].value,
            "events/"
        );
        assert_eq!(
            parsed.queues[0].queue.as_deref(),
            Some("arn:aws:sqs:us-east-1:000000000000:q")
        );
        assert!(parsed.event_bridge.is_some());
        let empty: NotificationConfiguration = from_xml(b"<NotificationConfiguration/>").unwrap();
        assert!(empty.functions.is_empty() && empty.event_bridge.is_none());
        let mut out = parsed;
        out.xmlns = S3_NAMESPACE;
        let xml = to_xml(&out).unwrap();
        assert!(xml.contains("<CloudFunctionConfiguration><Id>likes</Id><CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:f</CloudFunction><Event>s3:ObjectCreated:*</Event>"), "{xml}");
        assert!(
            xml.contains("<EventBridgeConfiguration/>")
                || xml.contains("<EventBridgeConfiguration></EventBridgeConfiguration>"),
            "{xml}"
        );
    }
}
