//! HTTP: the accept loop, per-request ids and spans, routing and authentication, and the
//! rendering of every S3Error into its XML response. Only this module knows hyper's types.

mod admin;
pub mod body;
mod chunked;
pub mod query;
pub mod response;
pub mod router;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, SystemTime};

use base64::Engine;
use http::{Method, Request};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::auth::{self, SignedParts};
use crate::error::{S3Error, S3Result};
use crate::s3::{self, RequestContext, S3Request};
use crate::AppState;
use body::RequestBody;
use query::Query;
use response::S3Response;

/// How long in-flight requests may take to finish after shutdown was asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves S3 on `listener` until `shutdown` completes, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(v) => v,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let conn_state = state.clone();
                let service = service_fn(move |req| {
                    let state = conn_state.clone();
                    async move { Ok::<_, Infallible>(handle(state, req, peer).await) }
                });
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(state.config.header_timeout)
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, %peer, "connection ended with an error");
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(SHUTDOWN_GRACE) => tracing::warn!("shutdown grace period over; dropping open connections"),
    }
    Ok(())
}

async fn handle(state: Arc<AppState>, req: Request<Incoming>, peer: SocketAddr) -> S3Response {
    if req.uri().path().starts_with(admin::PREFIX) {
        return admin::handle(&state, req).await;
    }
    let request_id = new_request_id();
    let host_id = new_host_id();
    let is_head = req.method() == Method::HEAD;
    let reads_only = is_read(req.method());
    let resource = req.uri().path().to_owned();
    // Debug level: at the default level, building and entering a span per request cost GETs
    // and HEADs 7-14% of their rate. The few warnings raised inside a request (an abandoned
    // blob gc could not take) carry the request id only at LAMBUCKET_LOG=debug.
    let span =
        tracing::debug_span!("request", id = %request_id, method = %req.method(), path = %resource);
    let ctx_ids = (request_id.clone(), host_id.clone());
    let handler = dispatch(state, req, peer, ctx_ids).instrument(span.clone());
    // A handler that panics becomes a 500 instead of a dropped connection. One that may
    // write runs as a task of its own, so that it finishes (its commit, its events) even if
    // the client leaves half-way; reads lose nothing when dropped, and run in place.
    let finished = if reads_only {
        catch_panic(handler).await
    } else {
        tokio::spawn(handler).await.map_err(|e| e.to_string())
    };
    let result = match finished {
        Ok(result) => result,
        Err(e) => Err(S3Error::internal(format!("request handler failed: {e}"))),
    };
    let mut resp = match result {
        Ok(resp) => resp,
        Err(err) => {
            span.in_scope(|| tracing::debug!(code = err.code.as_str(), message = %err.message, "request failed"));
            response::error(&err, &resource, &request_id, &host_id, is_head)
        }
    };
    response::set_header(&mut resp, "x-amz-request-id", &request_id);
    response::set_header(&mut resp, "x-amz-id-2", &host_id);
    response::set_header(&mut resp, "server", "Lambucket");
    resp
}

fn is_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

/// Runs `future` on this task, turning a panic inside it into an error.
async fn catch_panic<F: Future>(future: F) -> Result<F::Output, String> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(Err("panicked".to_owned())),
        }
    })
    .await
}

async fn dispatch(
    state: Arc<AppState>,
    req: Request<Incoming>,
    peer: SocketAddr,
    (request_id, host_id): (String, String),
) -> S3Result<S3Response> {
    let (parts, body) = req.into_parts();
    let raw_path = parts.uri.path();
    let raw_query = parts.uri.query().unwrap_or("");
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()));
    let host_bucket = router::host_bucket(host, &state.config.base_domain);
    let query = Query::parse(raw_query);
    let has_copy_source = parts.headers.contains_key("x-amz-copy-source");
    let route = router::route(
        &parts.method,
        raw_path,
        &query,
        host_bucket.as_deref(),
        has_copy_source,
    );
    let signed = SignedParts {
        method: &parts.method,
        raw_path,
        raw_query,
        headers: &parts.headers,
        host_bucket: host_bucket.as_deref(),
    };
    let auth = auth::authenticate(&state.credentials, &signed, SystemTime::now())?;
    let route = route?;
    let body = RequestBody::new(
        body,
        state.config.body_idle_timeout,
        auth.payload,
        &parts.headers,
    )?;
    let request = S3Request {
        bucket: route.bucket,
        key: route.key,
        headers: parts.headers,
        query,
        body,
        ctx: RequestContext {
            request_id,
            host_id,
            source_ip: peer.ip(),
            principal: auth.principal,
        },
    };
    s3::handle(&state, route.op, request).await
}

/// AWS-style request id: 16 upper-case hex characters.
fn new_request_id() -> String {
    format!("{:016X}", rand::random::<u64>())
}

fn new_host_id() -> String {
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 48]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_handler_run_in_place_gives_its_output_or_an_error_when_it_panics() {
        let finished = catch_panic(async {
            tokio::task::yield_now().await;
            7
        })
        .await;
        assert_eq!(finished, Ok(7));
        let panicked = catch_panic(async {
            tokio::task::yield_now().await;
            panic!("a handler bug");
        })
        .await;
        assert_eq!(panicked, Err("panicked".to_owned()));
    }
}
