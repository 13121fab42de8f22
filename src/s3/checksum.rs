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

/// A checksum the client asked for: the algorithm and, when sent as a header, its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedChecksum {
    pub algorithm: ChecksumAlgorithm,
    pub expected: Option<Vec<u8>>,
}

impl RequestedChecksum {
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
            return Err(S3Error::invalid_request("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."));
        }
        let invalid = || {
            S3Error::invalid_request(format!(
                "Value for {} header is invalid.",
                algorithm.header()
            ))
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value.as_bytes())
            .map_err(|_| invalid())?;
        if decoded.len() != algorithm.digest_len() {
            return Err(invalid());
        }
        found = Some(RequestedChecksum {
            algorithm,
            expected: Some(decoded),
        });
    }
    if found.is_some() {
        return Ok(found);
    }
    for name in ["x-amz-sdk-checksum-algorithm", "x-amz-checksum-algorithm"] {
        if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
            let algorithm = ChecksumAlgorithm::from_name(value).ok_or_else(|| {
                S3Error::invalid_argument("Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]", name, value)
            })?;
            return Ok(Some(RequestedChecksum {
                algorithm,
                expected: None,
            }));
        }
    }
    Ok(None)
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
