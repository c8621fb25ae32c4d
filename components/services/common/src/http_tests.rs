use super::*;

#[test]
fn backoff_is_bounded() {
    let r = Retry::default();
    assert_eq!(r.delay(0), Duration::from_millis(250));
    assert_eq!(r.delay(1), Duration::from_millis(500));
    assert_eq!(r.delay(10), Duration::from_secs(2));
}

#[test]
fn ca_file_prefers_ca_pem() {
    let dir = std::env::temp_dir().join(format!("svc-common-ca-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("certs")).unwrap();
    assert_eq!(project_ca_file(&dir), None);
    std::fs::write(dir.join("certs/fullchain.pem"), "x").unwrap();
    assert_eq!(project_ca_file(&dir), Some(dir.join("certs/fullchain.pem")));
    std::fs::write(dir.join("certs/ca.pem"), "x").unwrap();
    assert_eq!(project_ca_file(&dir), Some(dir.join("certs/ca.pem")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn debug_shows_the_base_url_without_secrets() {
    let api = HttpApi::new(
        Client::new(),
        "https://admin:Sup3r-Secret@gitlab.example.org:8090/gitlab?private_token=glpat-XYZ&page=2",
        "GitLab",
    );
    let shown = format!("{api:?}");
    assert!(!shown.contains("Sup3r-Secret"), "{shown}");
    assert!(!shown.contains("glpat-XYZ"), "{shown}");
    assert!(shown.contains("gitlab.example.org:8090/gitlab"), "{shown}");
    assert!(shown.contains("page=2"), "{shown}");
    assert!(shown.contains("\"GitLab\""), "{shown}");
}
