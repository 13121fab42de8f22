//! Bucket notification rules as S3 defines them: destinations, event names with wildcards,
//! prefix/suffix filters, and the validation S3 applies (with its error texts), including the
//! overlap rules that users find opaque — here the log names the two rules and the overlap.

use serde::{Deserialize, Serialize};

/// Every event type a configuration may name (the S3 model's `Event` enum).
pub const EVENT_TYPES: &[&str] = &[
    "s3:ReducedRedundancyLostObject",
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:Replication:*",
    "s3:Replication:OperationFailedReplication",
    "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ObjectAcl:Put",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
];

const MAX_FILTER_VALUE: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DestinationKind {
    /// CloudFunctionConfiguration (LambdaFunctionConfigurations in the SDKs).
    Lambda,
    Queue,
    Topic,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub kind: DestinationKind,
    pub arn: String,
    /// As configured, with the `s3:` prefix (`s3:ObjectCreated:*`).
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationConfig {
    pub rules: Vec<Rule>,
    pub event_bridge: bool,
}

/// A rule as it arrives from the S3 XML, before validation.
#[derive(Debug, Clone, Default)]
pub struct RawRule {
    pub id: Option<String>,
    pub kind: Option<DestinationKind>,
    pub arn: String,
    pub events: Vec<String>,
    /// (name, value) filter rules as sent.
    pub filters: Vec<(String, String)>,
}

/// A configuration S3 would refuse: InvalidArgument with these details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub message: String,
    pub argument_name: String,
    pub argument_value: String,
}

fn invalid(message: &str, name: &str, value: &str) -> ConfigError {
    ConfigError {
        message: message.into(),
        argument_name: name.into(),
        argument_value: value.into(),
    }
}

/// Whether `pattern` (`s3:ObjectCreated:*` or an exact type) covers `event` (`s3:ObjectCreated:Put`).
pub fn event_matches(pattern: &str, event: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(family) => event.starts_with(family),
        None => pattern == event,
    }
}

fn events_overlap(a: &str, b: &str) -> bool {
    event_matches(a, b) || event_matches(b, a)
}

impl Rule {
    /// Whether this rule fires for `event` (`s3:ObjectCreated:Put`) on `encoded_key` (filters
    /// compare against the key as events carry it, form-URL-encoded, as S3 does).
    pub fn matches(&self, event: &str, encoded_key: &str) -> bool {
        self.events.iter().any(|p| event_matches(p, event))
            && self
                .prefix
                .as_deref()
                .is_none_or(|p| encoded_key.starts_with(p))
            && self
                .suffix
                .as_deref()
                .is_none_or(|s| encoded_key.ends_with(s))
    }

    /// The handler name a destination ARN points at: the function, queue or topic name.
    pub fn target_name(&self) -> String {
        target_name(&self.arn).unwrap_or_else(|| self.arn.clone())
    }
}

/// `arn:aws:lambda:R:A:function:NAME[:QUALIFIER]`, `arn:aws:sqs:R:A:NAME`, `arn:aws:sns:R:A:NAME`.
pub fn parse_arn(arn: &str) -> Option<(DestinationKind, &str, &str)> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", region, _account, "function", name, ..] if !name.is_empty() => {
            Some((DestinationKind::Lambda, region, name))
        }
        ["arn", _, "sqs", region, _account, name] if !name.is_empty() => {
            Some((DestinationKind::Queue, region, name))
        }
        ["arn", _, "sns", region, _account, name] if !name.is_empty() => {
            Some((DestinationKind::Topic, region, name))
        }
        _ => None,
    }
}

pub fn target_name(arn: &str) -> Option<String> {
    parse_arn(arn).map(|(_, _, name)| name.to_owned())
}

/// Validates raw rules into a configuration; `destination_exists` says whether a handler is
/// registered for an ARN (skipped with `x-amz-skip-destination-validation`).
pub fn build(
    raw: Vec<RawRule>,
    event_bridge: bool,
    region: &str,
    destination_exists: impl Fn(&str) -> bool,
    skip_destination_validation: bool,
) -> Result<NotificationConfig, ConfigError> {
    let mut rules = Vec::with_capacity(raw.len());
    for (index, r) in raw.into_iter().enumerate() {
        let (kind, arn_region, _) = parse_arn(&r.arn).ok_or_else(|| {
            invalid(
                "A specified destination ARN does not exist or is not well-formed. Verify the destination ARN.",
                "ARN",
                &r.arn,
            )
        })?;
        if r.kind.is_some_and(|k| k != kind) {
            return Err(invalid(
                "The ARN is not of the kind its configuration element requires.",
                "ARN",
                &r.arn,
            ));
        }
        if arn_region != region {
            return Err(invalid(
                "A specified destination is in a different region than the bucket. You must use a destination that resides in the same region as the bucket.",
                "ARN",
                &r.arn,
            ));
        }
        if r.events.is_empty() {
            return Err(invalid(
                "At least one event must be specified.",
                "Event",
                "",
            ));
        }
        for event in &r.events {
            if !EVENT_TYPES.contains(&event.as_str()) {
                return Err(invalid(
                    "A specified event is not supported for notifications.",
                    "Event",
                    event,
                ));
            }
        }
        let (mut prefix, mut suffix) = (None, None);
        for (name, value) in &r.filters {
            if value.len() > MAX_FILTER_VALUE {
                return Err(invalid(
                    "Size of filter rule value cannot exceed 1024 bytes in UTF-8 representation",
                    "FilterRule",
                    value,
                ));
            }
            let slot = match name.to_ascii_lowercase().as_str() {
                "prefix" => &mut prefix,
                "suffix" => &mut suffix,
                _ => {
                    return Err(invalid(
                        "filter rule name must be either prefix or suffix",
                        "FilterRule",
                        name,
                    ))
                }
            };
            if slot.replace(value.clone()).is_some() {
                let which = name.to_ascii_lowercase();
                return Err(invalid(
                    &format!("Cannot specify more than one {which} rule in a filter."),
                    "FilterRule",
                    &which,
                ));
            }
        }
        if !skip_destination_validation && !destination_exists(&r.arn) {
            let reason = match kind {
                DestinationKind::Lambda => format!("Not authorized to invoke function [{}]", r.arn),
                DestinationKind::Queue => "The destination queue does not exist".into(),
                DestinationKind::Topic => "The destination topic does not exist".into(),
            };
            return Err(invalid(
                "Unable to validate the following destination configurations",
                &r.arn,
                &reason,
            ));
        }
        let id =
            r.id.filter(|i| !i.is_empty())
                .unwrap_or_else(|| generated_id(index));
        rules.push(Rule {
            id,
            kind,
            arn: r.arn,
            events: r.events,
            prefix,
            suffix,
        });
    }
    check_overlaps(&rules)?;
    Ok(NotificationConfig {
        rules,
        event_bridge,
    })
}

/// AWS generates an opaque Id for configurations sent without one.
fn generated_id(index: usize) -> String {
    let random: u64 = rand::random();
    format!("lambucket-{index}-{random:016x}")
}

fn prefixes_overlap(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.starts_with(b) || b.starts_with(a),
        _ => true,
    }
}

fn suffixes_overlap(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.ends_with(b) || b.ends_with(a),
        _ => true,
    }
}

/// S3's rule: two configurations conflict when they share an event type (after wildcard
/// expansion) and both their prefixes and their suffixes overlap.
fn check_overlaps(rules: &[Rule]) -> Result<(), ConfigError> {
    for (i, a) in rules.iter().enumerate() {
        for b in &rules[i + 1..] {
            let Some((ea, eb)) = a
                .events
                .iter()
                .flat_map(|ea| b.events.iter().map(move |eb| (ea, eb)))
                .find(|(ea, eb)| events_overlap(ea, eb))
            else {
                continue;
            };
            if !prefixes_overlap(a.prefix.as_deref(), b.prefix.as_deref())
                || !suffixes_overlap(a.suffix.as_deref(), b.suffix.as_deref())
            {
                continue;
            }
            tracing::warn!(
                first = %a.id, second = %b.id, first_event = %ea, second_event = %eb,
                first_prefix = ?a.prefix, second_prefix = ?b.prefix,
                first_suffix = ?a.suffix, second_suffix = ?b.suffix,
                "notification configurations overlap: same event type, overlapping prefixes and suffixes"
            );
            let unfiltered = a.prefix.is_none()
                && a.suffix.is_none()
                && b.prefix.is_none()
                && b.suffix.is_none();
            return Err(if unfiltered {
                invalid(
                    "Configurations overlap. Configurations on the same bucket cannot share a common event type.",
                    "Event",
                    &format!("{ea}, {eb}"),
                )
            } else {
                invalid(
                    "Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if the prefixes are overlapping for the same event type.",
                    "Event",
                    &format!("{ea}, {eb}"),
                )
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FN: &str = "arn:aws:lambda:us-east-1:000000000000:function:update-prefs";

    fn raw(arn: &str, events: &[&str], filters: &[(&str, &str)]) -> RawRule {
        RawRule {
            id: None,
            kind: None,
            arn: arn.into(),
            events: events.iter().map(|e| e.to_string()).collect(),
            filters: filters
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn build_all(rules: Vec<RawRule>) -> Result<NotificationConfig, ConfigError> {
        build(rules, false, "us-east-1", |_| true, false)
    }

    #[test]
    fn wildcards_and_filters_match() {
        let cfg = build_all(vec![raw(
            FN,
            &["s3:ObjectCreated:*"],
            &[("Prefix", "events/"), ("suffix", ".json")],
        )])
        .unwrap();
        let rule = &cfg.rules[0];
        assert_eq!(rule.prefix.as_deref(), Some("events/"));
        assert!(rule.matches("s3:ObjectCreated:Put", "events/alice/1.json"));
        assert!(rule.matches("s3:ObjectCreated:CompleteMultipartUpload", "events/x.json"));
        assert!(!rule.matches("s3:ObjectRemoved:Delete", "events/alice/1.json"));
        assert!(!rule.matches("s3:ObjectCreated:Put", "prefs/alice.json"));
        assert!(!rule.matches("s3:ObjectCreated:Put", "events/a.txt"));
        assert!(rule.id.starts_with("lambucket-"), "an Id is generated");
        assert_eq!(rule.target_name(), "update-prefs");
    }

    #[test]
    fn overlap_rules() {
        let q = "arn:aws:sqs:us-east-1:000000000000:audit";
        let err = build_all(vec![
            raw(FN, &["s3:ObjectCreated:*"], &[]),
            raw(q, &["s3:ObjectCreated:Put"], &[]),
        ])
        .unwrap_err();
        assert!(
            err.message.starts_with("Configurations overlap."),
            "{err:?}"
        );
        let err = build_all(vec![
            raw(
                FN,
                &["s3:ObjectCreated:*"],
                &[("prefix", "a/"), ("suffix", "jpg")],
            ),
            raw(
                q,
                &["s3:ObjectCreated:*"],
                &[("prefix", "a/b/"), ("suffix", "pg")],
            ),
        ])
        .unwrap_err();
        assert!(
            err.message
                .starts_with("Configuration is ambiguously defined."),
            "{err:?}"
        );
        // Same prefix, distinct suffixes; or different event families: both fine.
        build_all(vec![
            raw(
                FN,
                &["s3:ObjectCreated:*"],
                &[("prefix", "a/"), ("suffix", ".jpg")],
            ),
            raw(
                q,
                &["s3:ObjectCreated:*"],
                &[("prefix", "a/"), ("suffix", ".png")],
            ),
        ])
        .unwrap();
        build_all(vec![
            raw(FN, &["s3:ObjectCreated:*"], &[]),
            raw(q, &["s3:ObjectRemoved:*"], &[]),
        ])
        .unwrap();
    }

    #[test]
    fn validation_errors_use_s3_texts() {
        let e = build_all(vec![raw(FN, &["s3:ObjectCreated:Nope"], &[])]).unwrap_err();
        assert_eq!(
            e.message,
            "A specified event is not supported for notifications."
        );
        let e = build_all(vec![raw(
            "arn:aws:lambda:broken",
            &["s3:ObjectCreated:*"],
            &[],
        )])
        .unwrap_err();
        assert!(e.message.contains("not well-formed"));
        let e = build_all(vec![raw(
            FN,
            &["s3:ObjectCreated:*"],
            &[("prefix", "a"), ("Prefix", "b")],
        )])
        .unwrap_err();
        assert_eq!(
            e.message,
            "Cannot specify more than one prefix rule in a filter."
        );
        let e = build_all(vec![raw(FN, &["s3:ObjectCreated:*"], &[("middle", "a")])]).unwrap_err();
        assert_eq!(
            e.message,
            "filter rule name must be either prefix or suffix"
        );
        let e = build(
            vec![raw(FN, &["s3:ObjectCreated:*"], &[])],
            false,
            "us-east-1",
            |_| false,
            false,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "Unable to validate the following destination configurations"
        );
        assert_eq!(
            e.argument_value,
            format!("Not authorized to invoke function [{FN}]")
        );
        build(
            vec![raw(FN, &["s3:ObjectCreated:*"], &[])],
            false,
            "us-east-1",
            |_| false,
            true,
        )
        .unwrap();
        let e = build(
            vec![raw(FN, &["s3:ObjectCreated:*"], &[])],
            false,
            "eu-west-1",
            |_| true,
            false,
        )
        .unwrap_err();
        assert!(e.message.contains("different region"));
    }
}
