//! The music-preferences trigger as a Rust handler, embedded in a Lambucket server.
//!
//! Listening events `events/<user>/<timestamp>.json` (`{"user", "track", "artist", "action"}`,
//! action `like | skip | playlist_add`) written to any bucket whose notification configuration
//! names the function `update-prefs` update `prefs/<user>.json` in the `music-prefs` bucket:
//! liked tracks, skip counts per track, per-artist scores. The handler gets the same typed
//! `S3Event` a lambda_runtime handler gets; it is idempotent (the document records which event
//! objects it applied) and serialises concurrent updates with conditional writes.
//!
//! Run: `cargo run --release --example music_prefs -- [--listen ADDR] [--data-dir DIR]
//! [--access-key K --secret-key S]`, then configure and use it with aws-cli as in
//! examples/music-prefs/README.md.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use aws_lambda_events::event::s3::S3Event;
use bytes::Bytes;
use lambucket::s3::library::{get_object, put_object, WriteCondition};
use lambucket::{AppState, Config, S3ErrorCode};
use serde::{Deserialize, Serialize};

const PREFS_BUCKET: &str = "music-prefs";

#[derive(Deserialize)]
struct Listen {
    user: String,
    track: String,
    artist: String,
    action: String,
}

/// Field order matches the Python handler's sorted JSON, so both produce the same document.
#[derive(Default, Serialize, Deserialize)]
struct Prefs {
    applied: Vec<String>,
    artist_scores: BTreeMap<String, i64>,
    liked_tracks: Vec<String>,
    skips: BTreeMap<String, u64>,
}

impl Prefs {
    /// Applies one listen once; false when this event was applied before.
    fn apply(&mut self, event_id: &str, listen: &Listen) -> bool {
        if self.applied.iter().any(|a| a == event_id) {
            return false;
        }
        let liked = matches!(listen.action.as_str(), "like" | "playlist_add");
        if liked && !self.liked_tracks.contains(&listen.track) {
            self.liked_tracks.push(listen.track.clone());
        }
        if listen.action == "skip" {
            *self.skips.entry(listen.track.clone()).or_default() += 1;
        }
        let score = match listen.action.as_str() {
            "like" => 2,
            "playlist_add" => 3,
            "skip" => -1,
            _ => 0,
        };
        *self.artist_scores.entry(listen.artist.clone()).or_default() += score;
        self.applied.push(event_id.to_owned());
        true
    }
}

/// S3 event keys are form-encoded.
fn decode_key(key: &str) -> String {
    percent_encoding::percent_decode_str(&key.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

async fn update_prefs(state: Weak<AppState>, event: S3Event) -> Result<(), String> {
    let state = state.upgrade().ok_or("server is shutting down")?;
    for record in event.records {
        if !record
            .event_name
            .as_deref()
            .unwrap_or("")
            .starts_with("ObjectCreated:")
        {
            continue;
        }
        let bucket = record.s3.bucket.name.clone().unwrap_or_default();
        let key = decode_key(record.s3.object.key.as_deref().unwrap_or(""));
        let event_id = format!(
            "{key}#{}",
            record.s3.object.e_tag.clone().unwrap_or_default()
        );
        let Some(object) = get_object(&state, &bucket, &key)
            .await
            .map_err(|e| e.to_string())?
        else {
            continue; // deleted since: nothing to learn from it
        };
        let listen: Listen =
            serde_json::from_slice(&object.data).map_err(|e| format!("{key}: {e}"))?;
        let prefs_key = format!("prefs/{}.json", listen.user);
        for _ in 0..20 {
            let current = get_object(&state, PREFS_BUCKET, &prefs_key)
                .await
                .map_err(|e| e.to_string())?;
            let (mut prefs, condition) = match current {
                Some(o) => (
                    serde_json::from_slice(&o.data).map_err(|e| e.to_string())?,
                    WriteCondition::IfEtag(o.etag),
                ),
                None => (Prefs::default(), WriteCondition::IfAbsent),
            };
            if !prefs.apply(&event_id, &listen) {
                break;
            }
            let body = Bytes::from(serde_json::to_vec(&prefs).map_err(|e| e.to_string())?);
            match put_object(
                &state,
                PREFS_BUCKET,
                &prefs_key,
                body,
                Some("application/json"),
                condition,
            )
            .await
            {
                Ok(_) => break,
                // Another delivery updated this user meanwhile: read again and re-apply.
                Err(e) if e.code == S3ErrorCode::PreconditionFailed => continue,
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    Ok(())
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().collect();
    let mut config = Config::default();
    if let Some(listen) = arg(&args, "--listen") {
        config.listen = listen.parse()?;
    }
    if let Some(dir) = arg(&args, "--data-dir") {
        config.data_dir = dir.into();
    }
    if let (Some(access_key), Some(secret_key)) =
        (arg(&args, "--access-key"), arg(&args, "--secret-key"))
    {
        config.credentials = vec![lambucket::auth::Credential {
            access_key,
            secret_key,
        }];
    }
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    config.listen = listener.local_addr()?;
    let state = lambucket::open(config)?;
    let weak = Arc::downgrade(&state);
    state
        .events
        .registry
        .register_fn("update-prefs", move |event: S3Event| {
            update_prefs(weak.clone(), event)
        });
    println!(
        "music_prefs: Lambucket with the Rust update-prefs trigger on http://{}",
        state.config.listen
    );
    lambucket::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
