//! Server configuration and its defaults: loopback, a data dir under the working directory,
//! dev credentials, durable writes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::Credential;
use crate::events::handlers::BuiltinSpec;
use crate::events::EventsConfig;
use crate::storage::{Durability, StoreOptions};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9000";
pub const DEFAULT_DATA_DIR: &str = "lambucket-data";
pub const DEFAULT_REGION: &str = "us-east-1";
pub const DEV_ACCESS_KEY: &str = "lambucket";
pub const DEV_SECRET_KEY: &str = "lambucket-dev-secret";
/// The owner every bucket and object reports (one account per server).
pub const OWNER_ID: &str = "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a";
pub const OWNER_NAME: &str = "lambucket";

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub region: String,
    pub credentials: Vec<Credential>,
    /// Virtual-hosted-style requests use `bucket.<base_domain>`.
    pub base_domain: String,
    pub store: StoreOptions,
    /// A connection must send a request's headers within this time.
    pub header_timeout: Duration,
    /// A request body that sends nothing for this long is cut off (RequestTimeout).
    pub body_idle_timeout: Duration,
    /// Trigger delivery settings.
    pub events: EventsConfig,
    /// Built-in handlers declared by `--function NAME=KIND:SPEC`.
    pub functions: Vec<(String, BuiltinSpec)>,
    /// Deterministic test mode: a write that fires events answers only after they were delivered.
    pub deliver_before_response: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            region: DEFAULT_REGION.into(),
            credentials: vec![Credential {
                access_key: DEV_ACCESS_KEY.into(),
                secret_key: DEV_SECRET_KEY.into(),
            }],
            base_domain: "localhost".into(),
            store: StoreOptions::default(),
            header_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(60),
            events: EventsConfig::default(),
            functions: Vec::new(),
            deliver_before_response: false,
        }
    }
}

impl Config {
    /// The URL handlers use to call back into this server.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.listen)
    }

    pub fn durability(mut self, durability: Durability) -> Self {
        self.store.durability = durability;
        self
    }
}
