//! Event triggers, the way S3 triggers Lambda: notification rules (`config`), the AWS event
//! JSON (`record`), handlers by function name (`handlers`), and the dispatcher that delivers
//! outbox records with Lambda's retry semantics (`dispatcher`). Depends on storage's outbox
//! API only; never on http, s3 or xml.

mod candidates;
pub mod config;
pub mod dispatcher;
pub mod handlers;
pub mod record;

use std::sync::Arc;
use std::time::Duration;

pub use dispatcher::Dispatcher;
pub use handlers::{Handler, Invocation, Registry};

/// Delivery settings (Lambda's asynchronous-invocation defaults).
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// The account in function ARNs (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`).
    pub account: String,
    /// Retries after a failed attempt, 0–2 (Lambda's MaximumRetryAttempts).
    pub max_retry_attempts: u32,
    /// Events older than this go to the dead letters instead of another attempt.
    pub max_event_age: Duration,
    /// Multiplies every wait (retry backoff); tests use a small value.
    pub time_scale: f64,
    /// Deliveries running at once.
    pub concurrency: usize,
    /// A handler that runs longer than this has failed.
    pub handler_timeout: Duration,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            account: "000000000000".into(),
            max_retry_attempts: 2,
            max_event_age: Duration::from_secs(6 * 3600),
            time_scale: 1.0,
            concurrency: 8,
            handler_timeout: Duration::from_secs(30),
        }
    }
}

/// The trigger system of one server: its handlers and its dispatcher.
pub struct Events {
    pub registry: Arc<Registry>,
    pub dispatcher: Arc<Dispatcher>,
}
