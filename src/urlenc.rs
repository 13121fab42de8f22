//! Percent-encoding as AWS defines it (everything but A-Z a-z 0-9 - . _ ~ is escaped), used by
//! signatures and by `encoding-type=url` listings.

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
const STRICT_KEEP_SLASH: &AsciiSet = &STRICT.remove(b'/');

pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let set = if keep_slash {
        STRICT_KEEP_SLASH
    } else {
        STRICT
    };
    utf8_percent_encode(s, set).to_string()
}

/// Percent-decodes; '+' stays '+' (paths and SigV4 query components are not form-encoded).
pub fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_aws() {
        assert_eq!(uri_encode("a b+c/d~e*é", true), "a%20b%2Bc/d~e%2A%C3%A9");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
        assert_eq!(decode("a%20b+c%2F"), "a b+c/");
    }
}
