//! `lambucket.toml`: trigger functions, buckets and their notification rules declared in one
//! file, so a dev environment comes up the same way on every start and every machine.
//!
//! ```toml
//! [functions]
//! update-prefs = "command:python3 prefs.py"
//!
//! [[buckets]]
//! name = "listening-events"
//!
//! [[buckets.notifications]]
//! id = "prefs"
//! function = "update-prefs"          # or queue = / topic = ; a name or a full ARN
//! events = ["s3:ObjectCreated:*"]
//! prefix = "events/"
//! suffix = ".json"
//! ```
//!
//! Declared buckets are created when missing. A bucket that lists `notifications` gets exactly
//! those rules (validated as PutBucketNotificationConfiguration validates them) on every
//! start; one that does not keeps whatever the S3 API configured.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::events::config::{DestinationKind, RawRule};
use crate::events::handlers::{parse_function, BuiltinSpec};
use crate::s3::notification::replace_configuration;
use crate::storage::BucketRecord;
use crate::time_fmt::now_ms;
use crate::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// NAME = "KIND:SPEC", as `--function NAME=KIND:SPEC`.
    #[serde(default)]
    functions: BTreeMap<String, String>,
    #[serde(default)]
    pub buckets: Vec<DeclaredBucket>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredBucket {
    pub name: String,
    /// Absent: leave the bucket's configuration alone. Present (even empty): replace it.
    pub notifications: Option<Vec<DeclaredRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredRule {
    pub id: Option<String>,
    pub function: Option<String>,
    pub queue: Option<String>,
    pub topic: Option<String>,
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

impl Environment {
    pub fn load(path: &Path) -> Result<Environment, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Environment::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Environment, String> {
        let env: Environment = toml::from_str(text).map_err(|e| e.to_string())?;
        env.builtins()?;
        Ok(env)
    }

    /// The declared functions, as `--function` flags would give them.
    pub fn builtins(&self) -> Result<Vec<(String, BuiltinSpec)>, String> {
        self.functions
            .iter()
            .map(|(name, spec)| parse_function(&format!("{name}={spec}")))
            .collect()
    }
}

impl DeclaredRule {
    /// The rule as the S3 XML would carry it: names become ARNs in this region and account.
    fn raw(&self, region: &str, account: &str) -> Result<RawRule, String> {
        let (kind, target) = match (&self.function, &self.queue, &self.topic) {
            (Some(f), None, None) => (DestinationKind::Lambda, f),
            (None, Some(q), None) => (DestinationKind::Queue, q),
            (None, None, Some(t)) => (DestinationKind::Topic, t),
            _ => return Err("a notification needs exactly one of function, queue, topic".into()),
        };
        let arn = if target.starts_with("arn:") {
            target.clone()
        } else {
            match kind {
                DestinationKind::Lambda => {
                    format!("arn:aws:lambda:{region}:{account}:function:{target}")
                }
                DestinationKind::Queue => format!("arn:aws:sqs:{region}:{account}:{target}"),
                DestinationKind::Topic => format!("arn:aws:sns:{region}:{account}:{target}"),
            }
        };
        let filters = [("prefix", &self.prefix), ("suffix", &self.suffix)]
            .into_iter()
            .filter_map(|(name, value)| value.as_ref().map(|v| (name.to_owned(), v.clone())))
            .collect();
        Ok(RawRule {
            id: self.id.clone(),
            kind: Some(kind),
            arn,
            events: self.events.clone(),
            filters,
        })
    }
}

/// Creates the declared buckets that are missing and installs their notification rules.
pub fn apply(state: &AppState, env: &Environment) -> Result<(), String> {
    for declared in &env.buckets {
        let name = &declared.name;
        if !crate::s3::valid_bucket_name(name) {
            return Err(format!("bucket {name:?}: not a valid S3 bucket name"));
        }
        let record = BucketRecord {
            created_ms: now_ms(),
            region: state.config.region.clone(),
            notification: None,
        };
        let store = &state.store;
        if store
            .create_bucket(name, &record)
            .map_err(|e| e.to_string())?
        {
            tracing::info!(bucket = %name, "created bucket declared in the config file");
        }
        let Some(rules) = &declared.notifications else {
            continue;
        };
        let region = store
            .bucket(name)
            .map_err(|e| e.to_string())?
            .map_or(record.region, |b| b.region);
        let account = &state.config.events.account;
        let raw = rules
            .iter()
            .map(|r| r.raw(&region, account))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("bucket {name:?}: {e}"))?;
        replace_configuration(state, name, &region, raw, false, false).map_err(|e| {
            let details: Vec<String> = e.details.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            format!("bucket {name:?}: {} ({})", e.message, details.join(", "))
        })?;
    }
    state.store.flush().map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_are_checked_when_read() {
        assert!(
            Environment::parse("[functions]\nhook = \"webhook:http://127.0.0.1:1/\"\n").is_ok()
        );
        let bad_kind = Environment::parse("[functions]\nx = \"carrier-pigeon:coo\"\n");
        assert!(bad_kind.is_err());
        let typo = Environment::parse("[[buckets]]\nname = \"b\"\nnotification = []\n");
        assert!(typo.unwrap_err().contains("unknown field"));
    }

    #[test]
    fn destinations_by_name_become_arns() {
        let rule = |function: Option<&str>, queue: Option<&str>| DeclaredRule {
            id: None,
            function: function.map(str::to_owned),
            queue: queue.map(str::to_owned),
            topic: None,
            events: vec!["s3:ObjectCreated:*".into()],
            prefix: Some("events/".into()),
            suffix: None,
        };
        let raw = rule(Some("prefs"), None).raw("eu-west-1", "123").unwrap();
        assert_eq!(raw.arn, "arn:aws:lambda:eu-west-1:123:function:prefs");
        assert_eq!(
            raw.filters,
            vec![("prefix".to_owned(), "events/".to_owned())]
        );
        let raw = rule(None, Some("arn:aws:sqs:us-east-1:1:q"))
            .raw("x", "y")
            .unwrap();
        assert_eq!(
            (raw.kind, raw.arn.as_str()),
            (Some(DestinationKind::Queue), "arn:aws:sqs:us-east-1:1:q")
        );
        assert!(rule(Some("a"), Some("b")).raw("r", "a").is_err());
        assert!(rule(None, None).raw("r", "a").is_err());
    }
}
