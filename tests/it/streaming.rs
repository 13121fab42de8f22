//! aws-chunked request bodies in each STREAMING-* form, built by hand: chunk signatures and
//! trailers computed here independently of the server's code.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Method, Request};
use http_body_util::Full;
use sha2::{Digest, Sha256};

use crate::harness::{pattern, Payload, S3Client, TestServer, SECRET_KEY};

const EMPTY_SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Chunk-signature chain of one request.
struct Chain {
    key: Vec<u8>,
    date: String,
    scope: String,
    previous: String,
}

impl Chain {
    fn from_request<B>(req: &Request<B>) -> Chain {
        let auth = req.headers()["authorization"].to_str().unwrap().to_owned();
        let date = req.headers()["x-amz-date"].to_str().unwrap().to_owned();
        let seed = auth.rsplit("Signature=").next().unwrap().to_owned();
        let day = &date[..8];
        let k = hmac(format!("AWS4{SECRET_KEY}").as_bytes(), day);
        let k = hmac(&k, "us-east-1");
        let k = hmac(&k, "s3");
        let key = hmac(&k, "aws4_request");
        Chain {
            key,
            scope: format!("{day}/us-east-1/s3/aws4_request"),
            date,
            previous: seed,
        }
    }

    fn chunk(&mut self, data: &[u8]) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{}\n{EMPTY_SHA}\n{}",
            self.date,
            self.scope,
            self.previous,
            hex::encode(Sha256::digest(data))
        );
        self.previous = hex::encode(hmac(&self.key, &sts));
        self.previous.clone()
    }

    fn trailer(&mut self, canonical: &str) -> String {
        let sts = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{}\n{}",
            self.date,
            self.scope,
            self.previous,
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        hex::encode(hmac(&self.key, &sts))
    }
}

fn crc32_b64(data: &[u8]) -> String {
    use base64::Engine;
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    base64::engine::general_purpose::STANDARD.encode((!crc).to_be_bytes())
}

/// Signs the headers of a streaming PUT, then lets `frame` build the body from the chain.
fn streaming_put(
    c: &S3Client,
    path: &str,
    form: &'static str,
    decoded_len: usize,
    trailer: Option<&str>,
    frame: impl FnOnce(Option<&mut Chain>) -> Vec<u8>,
) -> Request<Full<Bytes>> {
    let decoded = decoded_len.to_string();
    let mut headers: Vec<(&str, &str)> = vec![
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", &decoded),
    ];
    if let Some(t) = trailer {
        headers.push(("x-amz-trailer", t));
    }
    let mut req = c.signed(
        Method::PUT,
        path,
        &headers,
        Bytes::new(),
        Payload::Declared(form),
    );
    let mut chain = Chain::from_request(&req);
    let signed = form != "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
    let body = frame(if signed { Some(&mut chain) } else { None });
    req.headers_mut()
        .insert("content-length", body.len().into());
    *req.body_mut() = Full::new(Bytes::from(body));
    req
}

fn frame_chunks(
    payload: &[u8],
    chunk: usize,
    mut chain: Option<&mut Chain>,
    tamper_second: bool,
) -> Vec<u8> {
    let mut w = Vec::new();
    let mut pieces: Vec<&[u8]> = payload.chunks(chunk).collect();
    pieces.push(&[]);
    for (i, p) in pieces.iter().enumerate() {
        match chain.as_deref_mut() {
            Some(chain) => {
                let sig = chain.chunk(p);
                w.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", p.len()).as_bytes());
            }
            None => w.extend_from_slice(format!("{:x}\r\n", p.len()).as_bytes()),
        }
        if tamper_second && i == 1 {
            let mut bad = p.to_vec();
            bad[0] ^= 1;
            w.extend_from_slice(&bad);
        } else {
            w.extend_from_slice(p);
        }
        if !p.is_empty() {
            w.extend_from_slice(b"\r\n");
        }
    }
    w
}

#[tokio::test]
async fn unsigned_payload_with_checksum_trailer() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("stream").await;
    let payload = pattern(200_001, 1);
    let crc = crc32_b64(&payload);
    let req = streaming_put(
        &c,
        "/stream/js-sdk",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        payload.len(),
        Some("x-amz-checksum-crc32"),
        |_| {
            let mut w = frame_chunks(&payload, 65536, None, false);
            w.extend_from_slice(format!("x-amz-checksum-crc32:{crc}\r\n\r\n").as_bytes());
            w
        },
    );
    let resp = c.send(req).await;
    resp.assert_ok();
    assert_eq!(resp.header("x-amz-checksum-crc32"), Some(crc.as_str()));
    let got = c.get("stream", "js-sdk").await;
    assert!(
        got.body == payload,
        "stored bytes are exactly the decoded payload"
    );
    assert_eq!(
        got.header("content-encoding"),
        None,
        "aws-chunked is not stored"
    );

    let req = streaming_put(
        &c,
        "/stream/bad-trailer",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        payload.len(),
        Some("x-amz-checksum-crc32"),
        |_| {
            let mut w = frame_chunks(&payload, 8192, None, false);
            w.extend_from_slice(b"x-amz-checksum-crc32:AAAAAA==\r\n\r\n");
            w
        },
    );
    c.send(req).await.assert_error(400, "BadDigest");
    c.get("stream", "bad-trailer")
        .await
        .assert_error(404, "NoSuchKey");
}

#[tokio::test]
async fn signed_chunks_are_verified_in_order() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("stream").await;
    let payload = pattern(150_000, 2);
    let form = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
    let req = streaming_put(&c, "/stream/signed", form, payload.len(), None, |chain| {
        let mut w = frame_chunks(&payload, 65536, chain, false);
        w.extend_from_slice(b"\r\n");
        w
    });
    c.send(req).await.assert_ok();
    assert!(c.get("stream", "signed").await.body == payload);

    let req = streaming_put(&c, "/stream/tampered", form, payload.len(), None, |chain| {
        let mut w = frame_chunks(&payload, 65536, chain, true);
        w.extend_from_slice(b"\r\n");
        w
    });
    c.send(req).await.assert_error(403, "SignatureDoesNotMatch");
    c.get("stream", "tampered")
        .await
        .assert_error(404, "NoSuchKey");
}

#[tokio::test]
async fn signed_chunks_with_signed_trailer() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("stream").await;
    let payload = pattern(70_000, 3);
    let crc = crc32_b64(&payload);
    let form = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
    for (key, trailer_value, expect_ok) in [
        ("good", crc.clone(), true),
        ("forged", "AAAAAA==".to_string(), false),
    ] {
        let req = streaming_put(
            &c,
            &format!("/stream/{key}"),
            form,
            payload.len(),
            Some("x-amz-checksum-crc32"),
            |chain| {
                let chain = chain.unwrap();
                let mut w = frame_chunks(&payload, 65536, Some(chain), false);
                // The trailer signature covers the real checksum; a forged value must not pass.
                let sig = chain.trailer(&format!("x-amz-checksum-crc32:{crc}\n"));
                w.extend_from_slice(format!("x-amz-checksum-crc32:{trailer_value}\r\nx-amz-trailer-signature:{sig}\r\n\r\n").as_bytes());
                w
            },
        );
        let resp = c.send(req).await;
        if expect_ok {
            resp.assert_ok();
            assert!(c.get("stream", key).await.body == payload);
        } else {
            resp.assert_error(403, "SignatureDoesNotMatch");
            c.get("stream", key).await.assert_error(404, "NoSuchKey");
        }
    }
}

#[tokio::test]
async fn malformed_framing_and_wrong_decoded_length_are_400() {
    let server = TestServer::start().await;
    let c = server.client();
    c.create_bucket("stream").await;
    let form = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
    let req = streaming_put(&c, "/stream/bad", form, 3, None, |_| {
        b"zz\r\nabc\r\n0\r\n\r\n".to_vec()
    });
    c.send(req).await.assert_error(400, "InvalidRequest");
    let req = streaming_put(&c, "/stream/short", form, 10, None, |_| {
        b"3\r\nabc\r\n0\r\n\r\n".to_vec()
    });
    c.send(req).await.assert_error(400, "IncompleteBody");
    let req = streaming_put(&c, "/stream/cut", form, 10, None, |_| b"a\r\nabc".to_vec());
    c.send(req).await.assert_error(400, "IncompleteBody");
    c.get("stream", "bad").await.assert_error(404, "NoSuchKey");
}
