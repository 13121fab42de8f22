//! The five S3 checksums (CRC32, CRC32C, CRC64NVME, SHA1, SHA256): which one a request asks
//! for, computing it, and checking it against the client's value.

use base64::Engine;
use crc_fast::CrcAlgorithm;
use http::HeaderMap;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::error::{S3Error, S3ErrorCode, S3Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

pub const ALL: [ChecksumAlgorithm; 5] = [
    ChecksumAlgorithm::Crc32,
    ChecksumAlgorithm::Crc32c,
    ChecksumAlgorithm::Crc64Nvme,
    ChecksumAlgorithm::Sha1,
    ChecksumAlgorithm::Sha256,
];

impl ChecksumAlgorithm {
    /// The S3 name, as in x-amz-checksum-algorithm and in stored records.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "CRC32",
            ChecksumAlgorithm::Crc32c => "CRC32C",
            ChecksumAlgorithm::Crc64Nvme => "CRC64NVME",
            ChecksumAlgorithm::Sha1 => "SHA1",
            ChecksumAlgorithm::Sha256 => "SHA256",
        }
    }

    pub fn header(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Crc32 => "x-amz-checksum-crc32",
            ChecksumAlgorithm::Crc32c => "x-amz-checksum-crc32c",
            ChecksumAlgorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            ChecksumAlgorithm::Sha1 => "x-amz-checksum-sha1",
            ChecksumAlgorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    pub fn from_name(name: &str) -> Option<ChecksumAlgorithm> {
        ALL.into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// The CRC parameters, for the CRC algorithms.
    pub fn crc(self) -> Option<CrcAlgorithm> {
        match self {
            ChecksumAlgorithm::Crc32 => Some(CrcAlgorithm::Crc32IsoHdlc),
            ChecksumAlgorithm::Crc32c => Some(CrcAlgorithm::Crc32Iscsi),
            ChecksumAlgorithm::Crc64Nvme => Some(CrcAlgorithm::Crc64Nvme),
            ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => None,
        }
    }

    fn digest_len(self) -> usize {
        match self {
            ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c => 4,
            ChecksumAlgorithm::Crc64Nvme => 8,
            ChecksumAlgorithm::Sha1 => 20,
            ChecksumAlgorithm::Sha256 => 32,
        }
    }
}

/// A running checksum.
pub enum Checksummer {
    Crc {
        digest: crc_fast::Digest,
        bytes: usize,
    },
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Checksummer {
    pub fn new(algorithm: ChecksumAlgorithm) -> Checksummer {
        let crc = |alg, bytes| Checksummer::Crc {
            digest: crc_fast::Digest::new(alg),
            bytes,
        };
        match algorithm {
            ChecksumAlgorithm::Crc32 => crc(CrcAlgorithm::Crc32IsoHdlc, 4),
            ChecksumAlgorithm::Crc32c => crc(CrcAlgorithm::Crc32Iscsi, 4),
            ChecksumAlgorithm::Crc64Nvme => crc(CrcAlgorithm::Crc64Nvme, 8),
            ChecksumAlgorithm::Sha1 => Checksummer::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => Checksummer::Sha256(Sha256::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Checksummer::Crc { digest, .. } => digest.update(data),
            Checksummer::Sha1(h) => h.update(data),
            Checksummer::Sha256(h) => h.update(data),
        }
    }

    /// The digest bytes, big-endian for CRCs (as S3 encodes them).
    pub fn finish(self) -> Vec<u8> {
        match self {
            Checksummer::Crc { digest, bytes } => {
                digest.finalize().to_be_bytes()[8 - bytes..].to_vec()
            }
            Checksummer::Sha1(h) => h.finalize().to_vec(),
            Checksummer::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

/// What S3 computes and stores when a request names no checksum.
pub const DEFAULT_ALGORITHM: ChecksumAlgorithm = ChecksumAlgorithm::Crc64Nvme;

/// A checksum the client asked for: the algorithm and its value, from a header or (for
/// aws-chunked bodies) from a trailer once the body has been read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedChecksum {
    pub algorithm: ChecksumAlgorithm,
    pub expected: Option<Vec<u8>>,
    pub in_trailer: bool,
}

impl RequestedChecksum {
    /// Takes the value from the body's trailer, when that is where the client put it.
    pub fn resolve_trailer(&mut self, body: &crate::http::body::RequestBody) -> S3Result<()> {
        if !self.in_trailer {
            return Ok(());
        }
        if let Some(value) = body.trailer(self.algorithm.header()) {
            self.expected = Some(decode_value(self.algorithm, value)?);
        }
        Ok(())
    }

    /// Compares with what was computed; S3 answers BadDigest naming the algorithm.
    pub fn verify(&self, computed: &[u8]) -> S3Result<()> {
        match &self.expected {
            Some(expected) if expected.as_slice() != computed => Err(S3Error::with_message(
                S3ErrorCode::BadDigest,
                format!(
                    "The {} you specified did not match the calculated checksum.",
                    self.algorithm.name()
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// Reads `x-amz-checksum-<alg>` (one at most) or, without a value, `x-amz-sdk-checksum-algorithm`
/// / `x-amz-checksum-algorithm`, which ask the server to compute and store that checksum.
pub fn requested(headers: &HeaderMap) -> S3Result<Option<RequestedChecksum>> {
    let mut found = None;
    for algorithm in ALL {
        let Some(value) = headers.get(algorithm.header()) else {
            continue;
        };
        if found.is_some() {
            return Err(S3Error::invalid_request(
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
            ));
        }
        let value = value.to_str().map_err(|_| invalid_value(algorithm))?;
        let expected = Some(decode_value(algorithm, value)?);
        found = Some(RequestedChecksum {
            algorithm,
            expected,
            in_trailer: false,
        });
    }
    if found.is_some() {
        return Ok(found);
    }
    if let Some(trailer) = headers.get("x-amz-trailer").and_then(|v| v.to_str().ok()) {
        let trailer = trailer.trim().to_ascii_lowercase();
        let algorithm = ALL
            .into_iter()
            .find(|a| a.header() == trailer)
            .ok_or_else(|| {
                S3Error::invalid_argument(
                    "The value specified in the x-amz-trailer header is not supported",
                    "x-amz-trailer",
                    &trailer,
                )
            })?;
        return Ok(Some(RequestedChecksum {
            algorithm,
            expected: None,
            in_trailer: true,
        }));
    }
    for name in ["x-amz-sdk-checksum-algorithm", "x-amz-checksum-algorithm"] {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            return Ok(Some(RequestedChecksum {
                algorithm: algorithm_named(name, value)?,
                expected: None,
                in_trailer: false,
            }));
        }
    }
    Ok(None)
}

/// Parses an algorithm name given in header `name`.
pub fn algorithm_named(name: &str, value: &str) -> S3Result<ChecksumAlgorithm> {
    ChecksumAlgorithm::from_name(value.trim()).ok_or_else(|| {
        S3Error::invalid_argument(
            "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]",
            name,
            value,
        )
    })
}

fn invalid_value(algorithm: ChecksumAlgorithm) -> S3Error {
    S3Error::invalid_request(format!(
        "Value for {} header is invalid.",
        algorithm.header()
    ))
}

/// Decodes a base64 checksum value and checks its length for the algorithm.
pub fn decode_value(algorithm: ChecksumAlgorithm, value: &str) -> S3Result<Vec<u8>> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value.trim().as_bytes())
        .map_err(|_| invalid_value(algorithm))?;
    if decoded.len() != algorithm.digest_len() {
        return Err(invalid_value(algorithm));
    }
    Ok(decoded)
}

/// The checksum of a multipart object made of parts with these digests, as S3 defines it:
/// COMPOSITE is the digest of the concatenated part digests; FULL_OBJECT (CRCs only) is the
/// CRC of the whole object, combined from the parts' CRCs and lengths without re-reading.
pub fn multipart_checksum(
    algorithm: ChecksumAlgorithm,
    full_object: bool,
    parts: &[(Vec<u8>, u64)],
) -> Option<Vec<u8>> {
    if !full_object {
        let mut c = Checksummer::new(algorithm);
        for (digest, _) in parts {
            c.update(digest);
        }
        return Some(c.finish());
    }
    let crc = algorithm.crc()?;
    let width = algorithm.digest_len();
    let value = |d: &[u8]| d.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    let mut total = parts.first().map(|(d, _)| value(d))?;
    for (digest, len) in &parts[1..] {
        total = crc_fast::checksum_combine(crc, total, value(digest), *len);
    }
    Some(total.to_be_bytes()[8 - width..].to_vec())
}

pub fn to_base64(digest: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(alg: ChecksumAlgorithm, data: &[u8]) -> String {
        let mut c = Checksummer::new(alg);
        c.update(data);
        to_base64(&c.finish())
    }

    #[test]
    fn known_values_of_hello_world() {
        // Values as the AWS SDKs compute them for "Hello world".
        assert_eq!(b64(ChecksumAlgorithm::Crc32, b"Hello world"), "i9aeUg==");
        assert_eq!(b64(ChecksumAlgorithm::Crc32c, b"Hello world"), "crUfeA==");
        assert_eq!(
            b64(ChecksumAlgorithm::Sha1, b"Hello world"),
            "e1AsOh9IyGCa4hLN+2Od7jlnP14="
        );
        assert_eq!(
            b64(ChecksumAlgorithm::Sha256, b"Hello world"),
            "ZOyIygCyaOW6GjVnihtTFtIS9PNmskdyMlNKiuyjfzw="
        );
    }

    #[test]
    fn crc64nvme_check_value() {
        // The CRC-64/NVME check value (digest of "123456789") is 0xAE8B14860A799888.
        let mut c = Checksummer::new(ChecksumAlgorithm::Crc64Nvme);
        c.update(b"123456789");
        assert_eq!(c.finish(), 0xAE8B14860A799888u64.to_be_bytes().to_vec());
    }

    #[test]
    fn full_object_crc_combines_like_one_pass() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
        for alg in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32c,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let whole = {
                let mut c = Checksummer::new(alg);
                c.update(&data);
                c.finish()
            };
            let parts: Vec<(Vec<u8>, u64)> = data
                .chunks(100_003)
                .map(|p| {
                    let mut c = Checksummer::new(alg);
                    c.update(p);
                    (c.finish(), p.len() as u64)
                })
                .collect();
            assert_eq!(
                multipart_checksum(alg, true, &parts).unwrap(),
                whole,
                "{}",
                alg.name()
            );
        }
        assert!(multipart_checksum(ChecksumAlgorithm::Sha256, true, &[(vec![0; 32], 1)]).is_none());
    }

    #[test]
    fn trailer_names_the_algorithm() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-trailer", "x-amz-checksum-crc64nvme".parse().unwrap());
        let r = requested(&h).unwrap().unwrap();
        assert_eq!(
            (r.algorithm, r.in_trailer),
            (ChecksumAlgorithm::Crc64Nvme, true)
        );
        h.insert("x-amz-trailer", "x-amz-meta-nope".parse().unwrap());
        assert_eq!(
            requested(&h).unwrap_err().code,
            S3ErrorCode::InvalidArgument
        );
    }

    #[test]
    fn parses_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-checksum-crc32", "i9aeUg==".parse().unwrap());
        let r = requested(&h).unwrap().unwrap();
        assert_eq!(r.algorithm, ChecksumAlgorithm::Crc32);
        assert!(r.verify(&[0x8b, 0xd6, 0x9e, 0x52]).is_ok());
        assert_eq!(
            r.verify(&[0, 0, 0, 0]).unwrap_err().code,
            S3ErrorCode::BadDigest
        );
        h.insert("x-amz-checksum-sha1", "AAAA".parse().unwrap());
        assert_eq!(requested(&h).unwrap_err().code, S3ErrorCode::InvalidRequest);
        let mut h = HeaderMap::new();
        h.insert("x-amz-checksum-crc32", "not base64!".parse().unwrap());
        assert_eq!(requested(&h).unwrap_err().code, S3ErrorCode::InvalidRequest);
    }
}
