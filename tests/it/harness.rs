//! TestServer (serve() in-process) and a small signing S3 client.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest,
    SignatureLocation, SigningSettings, UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client as HyperClient};
use hyper_util::rt::TokioExecutor;
use lambucket::storage::Durability;
use lambucket::{AppState, Config};
use tokio::sync::oneshot;

pub const ACCESS_KEY: &str = "test-access";
pub const SECRET_KEY: &str = "test-secret";

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    _temp: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub fn test_config(data_dir: &Path) -> Config {
    let mut config = Config {
        data_dir: data_dir.to_owned(),
        credentials: vec![lambucket::auth::Credential {
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.into(),
        }],
        ..Config::default()
    }
    .durability(Durability::Relaxed);
    config.store.gc_delay = Duration::ZERO;
    config
}

/// Opens the store, waiting briefly for a stopped server's last background pass (gc, a
/// delivery) to let go of the previous store's file lock.
async fn open_when_released(config: Config) -> Arc<AppState> {
    for _ in 0..100 {
        match lambucket::open(config.clone()) {
            Ok(state) => return state,
            Err(e) if e.to_string().contains("could not acquire lock") => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("open store: {e}"),
        }
    }
    panic!("the previous store was never released");
}

impl TestServer {
    pub async fn start() -> TestServer {
        let temp = tempfile::tempdir().expect("temp dir");
        let config = test_config(temp.path());
        let mut server = TestServer::start_with(config).await;
        server._temp = Some(temp);
        server
    }

    pub async fn start_with(config: Config) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut config = config;
        config.listen = addr;
        let state = open_when_released(config).await;
        let (stop, stopped) = oneshot::channel::<()>();
        let serve_state = state.clone();
        let task = tokio::spawn(async move {
            lambucket::serve(listener, serve_state, async {
                let _ = stopped.await;
            })
            .await
            .expect("serve");
        });
        TestServer {
            addr,
            state,
            _temp: None,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn client(&self) -> S3Client {
        S3Client::new(self.addr)
    }

    /// Stops the server and releases the store, keeping the temp dir (returned) alive.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self._temp.take()
    }
}

pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `<Code>` of an S3 error body.
    pub fn code(&self) -> String {
        xml_values(&self.text(), "Code")
            .into_iter()
            .next()
            .unwrap_or_default()
    }

    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "body: {}",
            self.text()
        );
    }

    #[track_caller]
    pub fn assert_ok(&self) {
        assert!(
            (200..300).contains(&self.status),
            "status {} body {}",
            self.status,
            self.text()
        );
    }
}

/// Every text value of `<tag>` in a document (good enough for S3's flat responses).
pub fn xml_values(doc: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(
            after[..end]
                .replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\""),
        );
        rest = &after[end + close.len()..];
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// x-amz-content-sha256 carries the body's SHA-256.
    Signed,
    /// x-amz-content-sha256: UNSIGNED-PAYLOAD.
    Unsigned,
    /// x-amz-content-sha256 carries this value (the STREAMING-* forms).
    Declared(&'static str),
}

#[derive(Clone)]
pub struct S3Client {
    pub addr: SocketAddr,
    http: HyperClient<HttpConnector, Full<Bytes>>,
    pub access_key: String,
    pub secret_key: String,
    pub time: Option<SystemTime>,
}

impl S3Client {
    pub fn new(addr: SocketAddr) -> S3Client {
        S3Client {
            addr,
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.into(),
            time: None,
        }
    }

    /// S3 signing: single URI encoding, no path normalisation, x-amz-content-sha256 sent.
    fn settings() -> SigningSettings {
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings
    }

    fn identity(&self) -> Identity {
        Credentials::new(&self.access_key, &self.secret_key, None, None, "tests").into()
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.addr, path_and_query)
    }

    /// A signed request. `path_and_query` must already be percent-encoded.
    pub async fn request(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Response {
        self.request_with(method, path_and_query, headers, body, Payload::Signed)
            .await
    }

    pub async fn request_with(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
        payload: Payload,
    ) -> Response {
        let req = self.signed(method, path_and_query, headers, body.into(), payload);
        self.send(req).await
    }

    /// Builds a SigV4-signed request without sending it (tests may tamper with it).
    pub fn signed(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        payload: Payload,
    ) -> Request<Full<Bytes>> {
        let url = self.url(path_and_query);
        let host = self.addr.to_string();
        let mut sign_headers: Vec<(&str, &str)> = Vec::new();
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            sign_headers.push(("host", host.as_str()));
        }
        sign_headers.extend_from_slice(headers);
        let signable_body = match payload {
            Payload::Signed => SignableBody::Bytes(&body),
            Payload::Unsigned => SignableBody::UnsignedPayload,
            Payload::Declared(value) => SignableBody::Precomputed(value.to_string()),
        };
        let identity = self.identity();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("s3")
            .time(self.time.unwrap_or_else(SystemTime::now))
            .settings(Self::settings())
            .build()
            .expect("signing params")
            .into();
        let signable = SignableRequest::new(
            method.as_str(),
            url.clone(),
            sign_headers.iter().copied(),
            signable_body,
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        let mut req = Request::builder().method(method).uri(&url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        // Real SDKs always send Content-Length on uploads, even for empty bodies.
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        {
            req = req.header("content-length", body.len());
        }
        let mut req = req.body(Full::new(body.clone())).expect("request");
        instructions.apply_to_request_http1x(&mut req);
        req
    }

    /// A presigned URL (SigV4 query form) valid for `expires`.
    pub fn presign(&self, method: &str, path: &str, expires: Duration) -> String {
        let url = self.url(path);
        let host = self.addr.to_string();
        let mut settings = Self::settings();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
        let identity = self.identity();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("s3")
            .time(self.time.unwrap_or_else(SystemTime::now))
            .settings(settings)
            .build()
            .expect("params")
            .into();
        let headers = [("host", host.as_str())];
        let signable = SignableRequest::new(
            method,
            url.clone(),
            headers.into_iter(),
            SignableBody::UnsignedPayload,
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
        let mut req = Request::builder().uri(&url).body(()).expect("req");
        instructions.apply_to_request_http1x(&mut req);
        req.uri().to_string()
    }

    /// Sends a request exactly as given (no signing).
    pub async fn send(&self, req: Request<Full<Bytes>>) -> Response {
        let resp = self.http.request(req).await.expect("http request");
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.expect("body").to_bytes();
        Response {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }

    pub async fn get_url(&self, url: &str) -> Response {
        let req = Request::builder()
            .uri(url)
            .body(Full::new(Bytes::new()))
            .expect("req");
        self.send(req).await
    }

    // Conveniences for the common calls.
    pub async fn create_bucket(&self, bucket: &str) {
        self.request(Method::PUT, &format!("/{bucket}"), &[], Bytes::new())
            .await
            .assert_ok();
    }

    pub async fn put(&self, bucket: &str, key: &str, body: impl Into<Bytes>) -> Response {
        self.request(
            Method::PUT,
            &format!("/{bucket}/{}", encode_key(key)),
            &[],
            body,
        )
        .await
    }

    pub async fn get(&self, bucket: &str, key: &str) -> Response {
        self.request(
            Method::GET,
            &format!("/{bucket}/{}", encode_key(key)),
            &[],
            Bytes::new(),
        )
        .await
    }
}

/// Percent-encodes a key for a path the way SDKs do.
pub fn encode_key(key: &str) -> String {
    lambucket::urlenc::uri_encode(key, true)
}

/// Deterministic pseudo-random bytes (no two chunks alike).
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
