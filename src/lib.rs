//! Lambucket: an S3-compatible object store on sled, with Lambda-style event triggers.
//!
//! # Layout
//! - `config`: [`Config`] and defaults.
//! - `error`: [`S3Error`], the only error the S3 layer returns.
//! - `http`: accept loop, router, request body, responses (the one place errors become XML).
//! - `auth`: SigV4 / SigV2 verification.
//! - `s3`: one function per S3 operation, grouped by area.
//! - `xml`: every S3 XML document.
//! - `storage`: sled trees, records, chunked bodies, commit protocol, gc.
//! - `md5`: the MD5 behind ETags and Content-MD5.
//! - `time_fmt`: the date formats S3 uses.

pub mod auth;
pub mod config;
pub mod environment;
pub mod error;
pub mod events;
pub mod http;
pub mod md5;
pub mod s3;
pub mod storage;
pub mod time_fmt;
pub mod urlenc;
pub mod xml;

use std::future::Future;
use std::sync::Arc;

pub use config::Config;
pub use error::{S3Error, S3ErrorCode};

use auth::Credentials;
use storage::Store;

/// Everything a request handler needs.
pub struct AppState {
    pub config: Config,
    pub store: Store,
    pub credentials: Credentials,
    pub events: events::Events,
}

/// Opens the store of `config` (with start-up recovery and the gc task), registers the
/// configured built-in handlers and starts the event dispatcher (which redelivers whatever
/// the outbox still holds). Call it inside a tokio runtime, with `config.listen` set to the
/// address actually bound (handlers call back there).
pub fn open(config: Config) -> Result<Arc<AppState>, storage::StorageError> {
    let store = Store::open(&config.data_dir, config.store.clone())?;
    store.spawn_gc();
    let registry = Arc::new(events::Registry::new());
    let first = config.credentials.first();
    let callback = events::handlers::CallbackEnv {
        endpoint: config.endpoint(),
        access_key: first.map(|c| c.access_key.clone()).unwrap_or_default(),
        secret_key: first.map(|c| c.secret_key.clone()).unwrap_or_default(),
        region: config.region.clone(),
    };
    for (name, spec) in &config.functions {
        registry.register(name, events::handlers::builtin(spec, &callback));
    }
    let dispatcher =
        events::Dispatcher::new(store.clone(), registry.clone(), config.events.clone());
    dispatcher.spawn();
    let credentials = Credentials::new(&config.credentials);
    let events = events::Events {
        registry,
        dispatcher,
    };
    Ok(Arc::new(AppState {
        config,
        store,
        credentials,
        events,
    }))
}

/// Serves S3 on `listener` until `shutdown` resolves, then flushes the store.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    http::serve(listener, state.clone(), shutdown).await?;
    state.store.flush().map_err(std::io::Error::other)
}
