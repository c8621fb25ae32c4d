use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `v` `%XX`-encoded (UTF-8 bytes, uppercase hex) except RFC 3986's unreserved characters,
/// so it is one path segment, one query value or one form value whatever it holds: a `/`,
/// `?`, `#`, `&`, `=`, `%` or space can never end the segment or start another part (a
/// whole value `.` or `..` is still a dot segment in a path: names are validated first).
#[must_use]
pub fn encode(v: &str) -> String {
    utf8_percent_encode(v, NOT_UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn only_unreserved_characters_stay_as_they_are() {
        assert_eq!(encode("user.1-a_b~"), "user.1-a_b~");
        assert_eq!(encode("a/b"), "a%2Fb");
        assert_eq!(encode("100%"), "100%25");
        assert_eq!(encode("a b"), "a%20b");
        assert_eq!(encode("a#b"), "a%23b");
        assert_eq!(encode("a?b=c&d"), "a%3Fb%3Dc%26d");
        assert_eq!(encode("me@example.com"), "me%40example.com");
        assert_eq!(encode("é"), "%C3%A9");
        assert_eq!(encode(""), "");
    }

    #[test]
    fn an_encoded_value_decodes_to_itself_as_one_segment() {
        let name = "../a/b%2F c#d?e";
        let encoded = encode(name);
        assert!(!encoded.contains(['/', '?', '#', ' ']), "{encoded}");
        let decoded = percent_encoding::percent_decode_str(&encoded)
            .decode_utf8()
            .unwrap();
        assert_eq!(decoded, name);
    }
}
