//! A small SigV4-signing S3 client over hyper: keep-alive, TCP_NODELAY, signed payloads.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

pub struct S3 {
    endpoint: String,
    host: String,
    identity: Identity,
    region: String,
    http: Client<HttpConnector, Full<Bytes>>,
}

/// How a request's body is covered by its signature.
#[derive(Clone, Copy)]
pub enum Payload<'a> {
    /// Hash the body now (what an SDK does over plain HTTP).
    Signed,
    /// UNSIGNED-PAYLOAD (what SDKs do over TLS), so a huge body is not hashed by the client.
    Unsigned,
    /// The body's SHA-256 in hex, computed once by the caller for a body it sends many times,
    /// so the generator's own hashing stays out of the measured time.
    Hashed(&'a str),
}

pub struct Reply {
    pub status: u16,
    pub content_length: Option<u64>,
    pub body: Bytes,
}

impl S3 {
    pub fn new(endpoint: &str, access_key: &str, secret_key: &str, region: &str) -> S3 {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(256)
            .build(connector);
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let host = endpoint.trim_start_matches("http://").to_owned();
        let identity = Credentials::new(access_key, secret_key, None, None, "bench").into();
        S3 {
            endpoint,
            host,
            identity,
            region: region.to_owned(),
            http,
        }
    }

    /// Sends a signed request, payload hash included; `path_and_query` is already
    /// percent-encoded.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Reply, String> {
        self.send_signed(method, path_and_query, headers, body, Payload::Signed)
            .await
    }

    /// Like [`S3::send`], with the body's signature coverage chosen by the caller.
    pub async fn send_signed(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        payload: Payload<'_>,
    ) -> Result<Reply, String> {
        let resp = self
            .execute(method, path_and_query, headers, body, payload)
            .await?;
        let status = resp.status().as_u16();
        let content_length = resp
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(Reply {
            status,
            content_length,
            body,
        })
    }

    /// GETs an object and compares it with `expected` frame by frame as it arrives (no copy
    /// into one buffer: the load generator must not be what limits a fast server). Returns
    /// the status and, for a 200, the bytes received; a differing byte is an error.
    pub async fn get_verified(&self, path: &str, expected: &[u8]) -> Result<(u16, u64), String> {
        let resp = self
            .execute(Method::GET, path, &[], Bytes::new(), Payload::Signed)
            .await?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        let mut pos = 0usize;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| e.to_string())?;
            if let Some(data) = frame.data_ref() {
                if status == 200 && expected.get(pos..pos + data.len()) != Some(&data[..]) {
                    return Err(format!("{path}: body differs at or after byte {pos}"));
                }
                pos += data.len();
            }
        }
        if status == 200 && pos != expected.len() {
            return Err(format!("{path}: {pos} bytes, expected {}", expected.len()));
        }
        Ok((status, pos as u64))
    }

    async fn execute(
        &self,
        method: Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        payload: Payload<'_>,
    ) -> Result<http::Response<hyper::body::Incoming>, String> {
        let url = format!("{}{}", self.endpoint, path_and_query);
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let len = body.len().to_string();
        let mut all: Vec<(&str, &str)> = vec![
            ("host", self.host.as_str()),
            ("content-length", len.as_str()),
        ];
        all.extend_from_slice(headers);
        let signable = SignableRequest::new(
            method.as_str(),
            url.clone(),
            all.iter().copied(),
            match payload {
                Payload::Signed => SignableBody::Bytes(&body),
                Payload::Unsigned => SignableBody::UnsignedPayload,
                Payload::Hashed(hex) => SignableBody::Precomputed(hex.to_owned()),
            },
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        let mut builder = Request::builder().method(method).uri(&url);
        for (k, v) in &all[1..] {
            builder = builder.header(*k, *v);
        }
        let mut req = builder.body(Full::new(body)).map_err(|e| e.to_string())?;
        instructions.apply_to_request_http1x(&mut req);
        self.http.request(req).await.map_err(|e| e.to_string())
    }
}
