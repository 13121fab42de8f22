//! Shared pieces of the canonical forms both signature versions build: URI encoding as AWS
//! defines it, query parsing, header value folding.

pub use crate::urlenc::{decode, uri_encode};

/// Splits a raw query into decoded (name, value) pairs, in order.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

/// The value of the first `name` parameter.
pub fn query_param<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The canonical URI candidates for a raw path: AWS's encoding of the decoded path (what SDKs
/// compute), then the path exactly as sent (for clients that encode differently).
pub fn uri_candidates(raw_path: &str) -> Vec<String> {
    let reencoded = uri_encode(&decode(raw_path), true);
    if reencoded == raw_path {
        vec![reencoded]
    } else {
        vec![reencoded, raw_path.to_owned()]
    }
}

/// Header value as signed: trimmed, inner runs of spaces folded to one.
pub fn fold_header_value(v: &[u8]) -> String {
    let mut out = String::new();
    push_folded(&mut out, v);
    out
}

/// Appends the header value `v` as signed (see [`fold_header_value`]) to `out`.
pub fn push_folded(out: &mut String, v: &[u8]) {
    for (i, word) in String::from_utf8_lossy(v).split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// Appends the values of header `name` as signed, comma-separated, to `out`.
pub fn push_header_values(out: &mut String, headers: &http::HeaderMap, name: &str) {
    for (i, value) in headers.get_all(name).iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_folded(out, value.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_are_decoded_without_plus_rule() {
        let q = parse_query("prefix=a%20b+c&delimiter=%2F&list-type=2&acl");
        assert_eq!(
            q,
            vec![
                ("prefix".into(), "a b+c".into()),
                ("delimiter".into(), "/".into()),
                ("list-type".into(), "2".into()),
                ("acl".into(), String::new())
            ]
        );
    }

    #[test]
    fn header_values_fold() {
        assert_eq!(fold_header_value(b"  a   b  c "), "a b c");
    }

    #[test]
    fn a_repeated_header_signs_as_its_folded_values_joined_by_commas() {
        let mut headers = http::HeaderMap::new();
        headers.append("x-amz-meta-a", " one  two ".parse().unwrap());
        headers.append("x-amz-meta-a", "three".parse().unwrap());
        let mut out = String::from("x-amz-meta-a:");
        push_header_values(&mut out, &headers, "x-amz-meta-a");
        assert_eq!(out, "x-amz-meta-a:one two,three");
        push_header_values(&mut out, &headers, "absent");
        assert_eq!(out, "x-amz-meta-a:one two,three", "no value adds nothing");
    }
}
