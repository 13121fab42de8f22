//! The aws-chunked body decoder: `hex-size[;chunk-signature=…]\r\n data \r\n` repeated, a
//! zero-size chunk, then optional trailing headers. Yields exactly the decoded payload,
//! verifying each chunk signature (and the trailer signature) as it goes. Framing errors are
//! 400s, never a hang: every line is length-capped and truncation is reported at EOF.

use bytes::{Buf, Bytes, BytesMut};
use sha2::{Digest, Sha256};

use crate::auth::ChunkSigning;
use crate::error::{S3Error, S3ErrorCode, S3Result};

/// Chunk headers and trailer lines are short; anything longer is not aws-chunked.
const MAX_LINE: usize = 4096;
/// At most this many trailing headers.
const MAX_TRAILERS: usize = 16;

#[derive(Debug, PartialEq, Eq)]
enum State {
    ChunkHeader,
    ChunkData { remaining: u64 },
    ChunkEnd,
    Trailers,
    Done,
}

/// What the decoder can give next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Data(Bytes),
    NeedMore,
    Done,
}

pub struct AwsChunkedDecoder {
    buf: BytesMut,
    state: State,
    expect_trailers: bool,
    signing: Option<ChunkSigning>,
    previous_signature: String,
    chunk_signature: Option<String>,
    chunk_hash: Sha256,
    last_chunk: bool,
    trailers: Vec<(String, String)>,
}

fn malformed(what: &str) -> S3Error {
    S3Error::invalid_request(format!("Malformed aws-chunked body: {what}"))
}

impl AwsChunkedDecoder {
    pub fn new(signing: Option<ChunkSigning>, expect_trailers: bool) -> AwsChunkedDecoder {
        let previous_signature = signing
            .as_ref()
            .map(|s| s.seed_signature.clone())
            .unwrap_or_default();
        AwsChunkedDecoder {
            buf: BytesMut::new(),
            state: State::ChunkHeader,
            expect_trailers,
            signing,
            previous_signature,
            chunk_signature: None,
            chunk_hash: Sha256::new(),
            last_chunk: false,
            trailers: Vec::new(),
        }
    }

    pub fn push(&mut self, input: &[u8]) {
        self.buf.extend_from_slice(input);
    }

    /// Trailing headers, once the body is done (names lower-case).
    pub fn trailers(&self) -> &[(String, String)] {
        &self.trailers
    }

    /// The input ended: fine only if the body was complete (a final blank line may be absent).
    pub fn finish(&mut self) -> S3Result<()> {
        match self.state {
            State::Done => Ok(()),
            State::Trailers if self.buf.is_empty() => self.end_of_trailers(),
            State::ChunkHeader if self.last_chunk && self.buf.is_empty() => self.end_of_trailers(),
            _ => Err(S3Error::new(S3ErrorCode::IncompleteBody)),
        }
    }

    fn take_line(&mut self) -> S3Result<Option<String>> {
        match self.buf.windows(2).position(|w| w == b"\r\n") {
            Some(pos) => {
                let line = self.buf.split_to(pos);
                self.buf.advance(2);
                String::from_utf8(line.to_vec())
                    .map(Some)
                    .map_err(|_| malformed("line is not UTF-8"))
            }
            None if self.buf.len() > MAX_LINE => Err(malformed("line too long")),
            None => Ok(None),
        }
    }

    pub fn next(&mut self) -> S3Result<Step> {
        loop {
            match self.state {
                State::Done => return Ok(Step::Done),
                State::ChunkHeader => {
                    let Some(line) = self.take_line()? else {
                        return Ok(Step::NeedMore);
                    };
                    self.start_chunk(&line)?;
                }
                State::ChunkData { remaining } => {
                    if self.buf.is_empty() {
                        return Ok(Step::NeedMore);
                    }
                    let n = remaining.min(self.buf.len() as u64) as usize;
                    let data = self.buf.split_to(n).freeze();
                    if self.signing.is_some() {
                        self.chunk_hash.update(&data);
                    }
                    let remaining = remaining - n as u64;
                    self.state = if remaining == 0 {
                        State::ChunkEnd
                    } else {
                        State::ChunkData { remaining }
                    };
                    return Ok(Step::Data(data));
                }
                State::ChunkEnd => {
                    if self.buf.len() < 2 {
                        return Ok(Step::NeedMore);
                    }
                    if &self.buf[..2] != b"\r\n" {
                        return Err(malformed("chunk data not followed by CRLF"));
                    }
                    self.buf.advance(2);
                    self.verify_chunk()?;
                    self.state = State::ChunkHeader;
                }
                State::Trailers => {
                    let Some(line) = self.take_line()? else {
                        return Ok(Step::NeedMore);
                    };
                    if line.is_empty() {
                        self.end_of_trailers()?;
                        continue;
                    }
                    let (name, value) = line
                        .split_once(':')
                        .ok_or_else(|| malformed("trailer without ':'"))?;
                    if self.trailers.len() == MAX_TRAILERS {
                        return Err(malformed("too many trailers"));
                    }
                    self.trailers
                        .push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
                }
            }
        }
    }

    fn start_chunk(&mut self, line: &str) -> S3Result<()> {
        if self.last_chunk {
            // After the zero-size chunk of a body without trailers only a blank line may follow.
            if line.is_empty() {
                self.state = State::Done;
                return Ok(());
            }
            return Err(malformed("data after the final chunk"));
        }
        let mut fields = line.split(';');
        let size_hex = fields.next().unwrap_or("").trim();
        let size =
            u64::from_str_radix(size_hex, 16).map_err(|_| malformed("chunk size is not hex"))?;
        self.chunk_signature = fields
            .filter_map(|f| f.trim().strip_prefix("chunk-signature="))
            .map(str::to_owned)
            .next();
        if self.signing.is_some() && self.chunk_signature.is_none() {
            return Err(S3Error::with_message(
                S3ErrorCode::SignatureDoesNotMatch,
                "Chunk signature missing",
            ));
        }
        if size == 0 {
            self.last_chunk = true;
            self.verify_chunk()?;
            self.state = if self.expect_trailers {
                State::Trailers
            } else {
                State::ChunkHeader
            };
        } else {
            self.state = State::ChunkData { remaining: size };
        }
        Ok(())
    }

    fn verify_chunk(&mut self) -> S3Result<()> {
        let hash = std::mem::take(&mut self.chunk_hash);
        let Some(signing) = &self.signing else {
            return Ok(());
        };
        let given = self.chunk_signature.take().unwrap_or_default();
        let expected =
            signing.chunk_signature(&self.previous_signature, &hex::encode(hash.finalize()));
        if given != expected {
            return Err(S3Error::with_message(
                S3ErrorCode::SignatureDoesNotMatch,
                "The chunk signature we calculated does not match the signature you provided.",
            ));
        }
        self.previous_signature = expected;
        Ok(())
    }

    /// Checks the trailer signature (signed form) and finishes.
    fn end_of_trailers(&mut self) -> S3Result<()> {
        if let Some(signing) = &self.signing {
            if self.expect_trailers {
                let given = self
                    .trailers
                    .iter()
                    .find(|(n, _)| n == "x-amz-trailer-signature")
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| {
                        S3Error::with_message(
                            S3ErrorCode::SignatureDoesNotMatch,
                            "Trailer signature missing",
                        )
                    })?;
                let canonical: String = self
                    .trailers
                    .iter()
                    .filter(|(n, _)| n != "x-amz-trailer-signature")
                    .map(|(n, v)| format!("{n}:{v}\n"))
                    .collect();
                let expected = signing.trailer_signature(
                    &self.previous_signature,
                    &hex::encode(Sha256::digest(canonical)),
                );
                if given != expected {
                    return Err(S3Error::with_message(
                        S3ErrorCode::SignatureDoesNotMatch,
                        "The trailer signature we calculated does not match the signature you provided.",
                    ));
                }
            }
        }
        self.state = State::Done;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Decoded = (Vec<u8>, Vec<(String, String)>);

    /// Decodes `wire` fed in pieces of `split` bytes; returns the payload and trailers.
    fn decode(
        wire: &[u8],
        split: usize,
        signing: Option<ChunkSigning>,
        trailers: bool,
    ) -> S3Result<Decoded> {
        let mut d = AwsChunkedDecoder::new(signing, trailers);
        let mut out = Vec::new();
        let mut pieces = wire.chunks(split.max(1));
        loop {
            match d.next()? {
                Step::Data(b) => out.extend_from_slice(&b),
                Step::Done => return Ok((out, d.trailers().to_vec())),
                Step::NeedMore => match pieces.next() {
                    Some(p) => d.push(p),
                    None => {
                        d.finish()?;
                        return Ok((out, d.trailers().to_vec()));
                    }
                },
            }
        }
    }

    fn unsigned_wire(payload: &[u8], chunk: usize, trailer: &str) -> Vec<u8> {
        let mut w = Vec::new();
        for c in payload.chunks(chunk) {
            w.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            w.extend_from_slice(c);
            w.extend_from_slice(b"\r\n");
        }
        w.extend_from_slice(format!("0\r\n{trailer}\r\n").as_bytes());
        w
    }

    #[test]
    fn unsigned_trailer_form_at_every_split() {
        let payload: Vec<u8> = (0..70_000u32).map(|i| (i * 7) as u8).collect();
        let wire = unsigned_wire(&payload, 65536, "x-amz-checksum-crc32:AAAAAA==\r\n");
        for split in [1, 2, 3, 7, 64, 1000, 65536, 65539, wire.len()] {
            let (out, trailers) = decode(&wire, split, None, true).unwrap();
            assert_eq!(out, payload, "split {split}");
            assert_eq!(
                trailers,
                [("x-amz-checksum-crc32".to_string(), "AAAAAA==".to_string())]
            );
        }
    }

    #[test]
    fn odd_chunk_sizes_and_empty_payload() {
        for chunk in [1, 3, 8191, 100_000] {
            let payload = vec![42u8; 20_000];
            let wire = unsigned_wire(&payload, chunk, "");
            assert_eq!(decode(&wire, 5, None, true).unwrap().0, payload);
        }
        let (out, _) = decode(b"0\r\n\r\n", 1, None, true).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn final_blank_line_may_be_missing() {
        let (out, trailers) = decode(
            b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n",
            4,
            None,
            true,
        )
        .unwrap();
        assert_eq!(out, b"abc");
        assert_eq!(trailers.len(), 1);
        assert_eq!(
            decode(b"3\r\nabc\r\n0\r\n", 4, None, false).unwrap().0,
            b"abc"
        );
    }

    #[test]
    fn malformed_framing_is_an_error_not_a_hang() {
        let code = |wire: &[u8]| decode(wire, 3, None, true).unwrap_err().code;
        assert_eq!(code(b"zz\r\nabc\r\n0\r\n\r\n"), S3ErrorCode::InvalidRequest);
        assert_eq!(code(b"3\r\nabcX\r\n0\r\n\r\n"), S3ErrorCode::InvalidRequest);
        assert_eq!(code(b"5\r\nabc"), S3ErrorCode::IncompleteBody);
        assert_eq!(code(b"3\r\nabc\r\n"), S3ErrorCode::IncompleteBody);
        assert_eq!(code(&[b'1'; 5000]), S3ErrorCode::InvalidRequest);
        assert_eq!(
            code(b"3\r\nabc\r\n0\r\nno-colon\r\n\r\n"),
            S3ErrorCode::InvalidRequest
        );
    }

    fn test_signing() -> ChunkSigning {
        ChunkSigning {
            signing_key: vec![1u8; 32],
            amz_date: "20130524T000000Z".into(),
            scope: "20130524/us-east-1/s3/aws4_request".into(),
            seed_signature: "seed".into(),
        }
    }

    fn signed_wire(payload: &[u8], chunk: usize, signing: &ChunkSigning, tamper: bool) -> Vec<u8> {
        let mut w = Vec::new();
        let mut prev = signing.seed_signature.clone();
        let mut chunks: Vec<&[u8]> = payload.chunks(chunk).collect();
        chunks.push(&[]);
        for (i, c) in chunks.iter().enumerate() {
            let mut sig = signing.chunk_signature(&prev, &hex::encode(Sha256::digest(c)));
            prev = sig.clone();
            if tamper && i == 1 {
                let flipped = if sig.starts_with('0') { "1" } else { "0" };
                sig.replace_range(..1, flipped);
            }
            w.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", c.len()).as_bytes());
            w.extend_from_slice(c);
            w.extend_from_slice(b"\r\n");
        }
        w
    }

    #[test]
    fn signed_chunks_verify_in_order() {
        let signing = test_signing();
        let payload = vec![9u8; 150_000];
        let wire = signed_wire(&payload, 65536, &signing, false);
        for split in [1, 100, 65536, 70_000] {
            assert_eq!(
                decode(&wire, split, Some(signing.clone()), false)
                    .unwrap()
                    .0,
                payload
            );
        }
        let bad = signed_wire(&payload, 65536, &signing, true);
        assert_eq!(
            decode(&bad, 1000, Some(signing), false).unwrap_err().code,
            S3ErrorCode::SignatureDoesNotMatch
        );
    }

    #[test]
    fn signed_trailer_is_verified() {
        let signing = test_signing();
        let mut wire = signed_wire(b"hello", 5, &signing, false);
        // Replace the final CRLF of the zero chunk with trailers.
        wire.truncate(wire.len() - 2);
        let last_sig = {
            let first = signing.chunk_signature(
                &signing.seed_signature,
                &hex::encode(Sha256::digest(b"hello")),
            );
            signing.chunk_signature(&first, &hex::encode(Sha256::digest(b"")))
        };
        let canonical = "x-amz-checksum-crc32:NhCmhg==\n";
        let trailer_sig =
            signing.trailer_signature(&last_sig, &hex::encode(Sha256::digest(canonical)));
        let mut good = wire.clone();
        good.extend_from_slice(
            format!(
                "x-amz-checksum-crc32:NhCmhg==\r\nx-amz-trailer-signature:{trailer_sig}\r\n\r\n"
            )
            .as_bytes(),
        );
        let (out, trailers) = decode(&good, 7, Some(signing.clone()), true).unwrap();
        assert_eq!(out, b"hello");
        assert_eq!(
            trailers[0],
            ("x-amz-checksum-crc32".to_string(), "NhCmhg==".to_string())
        );
        let mut bad = wire;
        bad.extend_from_slice(
            format!(
                "x-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:{trailer_sig}\r\n\r\n"
            )
            .as_bytes(),
        );
        assert_eq!(
            decode(&bad, 7, Some(signing), true).unwrap_err().code,
            S3ErrorCode::SignatureDoesNotMatch
        );
    }
}
