use super::*;

#[test]
fn stamps_are_compact_utc() {
    let s = stamp_now();
    assert_eq!(s.len(), 16, "{s}");
    assert!(s.ends_with('Z') && s.as_bytes()[8] == b'T', "{s}");
    assert!(rfc3339_now().ends_with('Z'));
}
