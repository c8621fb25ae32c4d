use super::leaf::dns_matches;

#[test]
fn wildcard_matching() {
    assert!(dns_matches("example.org", "EXAMPLE.org"));
    assert!(dns_matches("*.example.org", "a.example.org"));
    assert!(!dns_matches("*.example.org", "example.org"));
    assert!(!dns_matches("*.example.org", "a.b.example.org"));
    assert!(!dns_matches("*.org", "example.org"));
    assert!(!dns_matches("a.example.org", "b.example.org"));
    assert!(dns_matches("example.org.", "example.org"));
}
