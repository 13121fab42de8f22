//! Chunk and trailer signatures of STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER) bodies: each
//! chunk's signature chains from the previous one, starting at the request's signature.

use aws_sigv4::sign::v4::calculate_signature;

/// SHA-256 of the empty string, part of every chunk's string to sign.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What a decoder needs to check chunk signatures of one request.
#[derive(Clone)]
pub struct ChunkSigning {
    pub signing_key: Vec<u8>,
    pub amz_date: String,
    pub scope: String,
    /// The request's own signature: the "previous signature" of the first chunk.
    pub seed_signature: String,
}

impl std::fmt::Debug for ChunkSigning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkSigning")
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl PartialEq for ChunkSigning {
    fn eq(&self, other: &Self) -> bool {
        self.seed_signature == other.seed_signature && self.scope == other.scope
    }
}

impl Eq for ChunkSigning {}

impl ChunkSigning {
    /// The signature a chunk with this data hash must carry after `previous`.
    pub fn chunk_signature(&self, previous: &str, data_sha256_hex: &str) -> String {
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{previous}\n{EMPTY_SHA256}\n{data_sha256_hex}",
            self.amz_date, self.scope
        );
        calculate_signature(&self.signing_key, string_to_sign.as_bytes())
    }

    /// The signature of the trailing headers (`name:value\n` each, as sent) after `previous`.
    pub fn trailer_signature(&self, previous: &str, canonical_trailers_sha256_hex: &str) -> String {
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{previous}\n{canonical_trailers_sha256_hex}",
            self.amz_date, self.scope
        );
        calculate_signature(&self.signing_key, string_to_sign.as_bytes())
    }
}
