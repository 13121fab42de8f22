//! Byte layouts of tree keys. Object keys are `bucket ‖ 0x00 ‖ key`: bucket names never hold
//! 0x00, so within one bucket byte order is S3's list order (UTF-8 binary order).

pub fn bucket_prefix(bucket: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.len() + 1);
    k.extend_from_slice(bucket.as_bytes());
    k.push(0);
    k
}

pub fn object_key(bucket: &str, key: &str) -> Vec<u8> {
    let mut k = bucket_prefix(bucket);
    k.extend_from_slice(key.as_bytes());
    k
}

/// The first object key after every key that starts with `prefix` (0xFF never occurs in UTF-8).
pub fn after_prefix(bucket: &str, prefix: &str) -> Vec<u8> {
    let mut k = object_key(bucket, prefix);
    k.push(0xFF);
    k
}

pub fn blob_key(blob_id: u64) -> [u8; 8] {
    blob_id.to_be_bytes()
}

pub fn blob_id_of(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(..8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_sort_like_s3_within_a_bucket() {
        let mut keys = ["b", "a/b", "a", "é", "z", "a b", "A", "ab"];
        let mut encoded: Vec<_> = keys.iter().map(|k| object_key("bkt", k)).collect();
        encoded.sort();
        keys.sort_by(|x, y| x.as_bytes().cmp(y.as_bytes()));
        let expected: Vec<_> = keys.iter().map(|k| object_key("bkt", k)).collect();
        assert_eq!(encoded, expected);
    }

    #[test]
    fn buckets_never_interleave() {
        // "ab" in bucket "a" must not sort among keys of bucket "a" + something else.
        let a_last = object_key("a", "\u{10FFFF}");
        let ab_first = object_key("ab", "");
        assert!(a_last < ab_first);
        assert!(after_prefix("a", "") < ab_first);
    }

    #[test]
    fn after_prefix_skips_everything_under_the_prefix() {
        let end = after_prefix("b", "photos/");
        assert!(object_key("b", "photos/zzz/\u{10FFFF}") < end);
        assert!(object_key("b", "photos0") > end);
    }

    #[test]
    fn blob_keys_round_trip() {
        assert_eq!(blob_id_of(&blob_key(7)), Some(7));
        assert!(blob_key(1) < blob_key(256));
    }
}
