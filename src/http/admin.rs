//! The admin endpoint (JSON, under `/_lambucket/`, which no bucket name can start with): see
//! recent events and every delivery attempt, list and re-drive dead letters, replay an event,
//! backfill a prefix for a new handler. Authenticated with HTTP Basic `ACCESS_KEY:SECRET_KEY`.

use base64::Engine;
use http::{HeaderValue, Method, Request, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::query::Query;
use super::response::{ResponseBody, S3Response};
use crate::events::dispatcher::OutboxRecord;
use crate::AppState;

pub const PREFIX: &str = "/_lambucket/";
/// Records listed per call.
const LIST_LIMIT: usize = 1000;

fn reply(status: StatusCode, body: Value) -> S3Response {
    let mut resp = http::Response::new(ResponseBody::full(
        serde_json::to_vec_pretty(&body).unwrap_or_default(),
    ));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn error(status: StatusCode, message: &str) -> S3Response {
    reply(status, json!({ "error": message }))
}

fn authorized(state: &AppState, req: &Request<Incoming>) -> bool {
    let Some(encoded) = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let decoded = String::from_utf8_lossy(&decoded);
    let Some((access, secret)) = decoded.split_once(':') else {
        return false;
    };
    state
        .credentials
        .secret_for(access)
        .is_some_and(|s| s == secret)
}

fn record_json(seq: u64, r: &OutboxRecord) -> Value {
    json!({
        "seq": seq,
        "target": r.target,
        "event_name": r.event_name,
        "request_id": r.request_id,
        "attempts": r.attempts,
        "created": crate::time_fmt::iso8601_ms(r.created_ms),
        "next_attempt": crate::time_fmt::iso8601_ms(r.next_attempt_ms),
        "last_error": r.last_error,
        "event": serde_json::from_str::<Value>(&r.json).unwrap_or(Value::Null),
    })
}

fn list(records: Vec<(u64, OutboxRecord)>) -> Value {
    Value::Array(
        records
            .iter()
            .map(|(seq, r)| record_json(*seq, r))
            .collect(),
    )
}

pub async fn handle(state: &AppState, req: Request<Incoming>) -> S3Response {
    if !authorized(state, &req) {
        let mut resp = error(
            StatusCode::UNAUTHORIZED,
            "HTTP Basic credentials ACCESS_KEY:SECRET_KEY required",
        );
        resp.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"lambucket\""),
        );
        return resp;
    }
    let route = req
        .uri()
        .path()
        .strip_prefix(PREFIX)
        .unwrap_or("")
        .to_owned();
    let query = Query::parse(req.uri().query().unwrap_or(""));
    let dispatcher = &state.events.dispatcher;
    let seq = query.get("seq").and_then(|s| s.parse::<u64>().ok());
    let result = match (req.method(), route.as_str()) {
        (&Method::GET, "functions") => Ok(json!(state.events.registry.names())),
        (&Method::GET, "events") => dispatcher.pending(LIST_LIMIT).map(|pending| {
            json!({ "pending": list(pending), "recent_attempts": dispatcher.recent_attempts() })
        }),
        (&Method::GET, "dead-letters") => dispatcher.dead_letters(LIST_LIMIT).map(list),
        (&Method::POST, "dead-letters/redrive") => dispatcher.redrive(seq).map(|n| json!({ "redriven": n })),
        (&Method::POST, "replay") => match seq {
            None => return error(StatusCode::BAD_REQUEST, "replay needs ?seq=N"),
            Some(seq) => match dispatcher.replay(seq) {
                Ok(Some(new_seq)) => Ok(json!({ "replayed": seq, "as": new_seq })),
                Ok(None) => return error(StatusCode::NOT_FOUND, "no such event among recent, pending or dead ones"),
                Err(e) => Err(e),
            },
        },
        (&Method::POST, "backfill") => {
            let (Some(bucket), Some(function)) = (query.get("bucket"), query.get("function")) else {
                return error(StatusCode::BAD_REQUEST, "backfill needs ?bucket=B&function=NAME[&prefix=P]");
            };
            if state.events.registry.resolve(function).is_none() {
                return error(StatusCode::BAD_REQUEST, &format!("no handler is registered for {function}"));
            }
            let prefix = query.get("prefix").unwrap_or("");
            return match crate::s3::notification::backfill(state, bucket, prefix, function) {
                Ok(n) => reply(StatusCode::OK, json!({ "queued": n })),
                Err(e) => error(e.code.status(), &e.message),
            };
        }
        _ => return error(StatusCode::NOT_FOUND, "unknown admin route"),
    };
    match result {
        Ok(body) => reply(StatusCode::OK, body),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}
