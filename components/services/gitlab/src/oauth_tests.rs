use super::*;

fn read(text: &str) -> Result<OAuthApps, String> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gitlab_oauth.json");
    std::fs::write(&p, text).unwrap();
    read_oauth_apps(&p).map_err(|e| {
        e.to_string()
            .replace(&dir.path().display().to_string(), "<dir>")
    })
}

#[test]
fn picks_server_and_client() {
    let apps = read(
        r#"[{"name":"Other","redirect_uri":"https://x/cb","scopes":"api"},
            {"name":"DTaaS Client Authorization","redirect_uri":"https://h/Library","scopes":"api"},
            {"name":"DTaaS Server Authorization","redirect_uri":"https://h/_oauth","scopes":"read_user","confidential":true,"trusted":true}]"#,
    )
    .unwrap();
    assert_eq!(apps.server.name, "DTaaS Server Authorization");
    assert!(apps.server.confidential && apps.server.trusted);
    assert_eq!(apps.client.scopes, "api");
    assert!(!apps.client.confidential && !apps.client.trusted);
}

#[test]
fn the_project_template_is_valid() {
    let apps = read(include_str!(
        "../../../project/templates/config/gitlab_oauth.json.template"
    ))
    .unwrap();
    assert!(apps.server.trusted && apps.client.trusted);
}

#[test]
fn every_error_names_file_line_and_key() {
    let cases = [
        (
            "[\n {\"name\": \"a server\",\n  \"redirect_uri\": \"\",\n  \"scopes\": \"api\"}\n]",
            "GitLab OAuth apps file <dir>/gitlab_oauth.json:3: key \"redirect_uri\" is empty",
        ),
        (
            "[\n {\"name\": \"a server\",\n  \"redirect_uri\": \"https://h/cb\",\n  \"scopes\": \"api\",\n  \"trusted\": \"yes\"}\n]",
            "GitLab OAuth apps file <dir>/gitlab_oauth.json:5: key \"trusted\" must be true or false, found \"yes\"",
        ),
        (
            "[\n {\"name\": \"a server\",\n  \"redirect_uri\": \"https://h/cb\"}\n]",
            "GitLab OAuth apps file <dir>/gitlab_oauth.json:2: key \"scopes\" is missing",
        ),
        (
            "[\n {\"name\": \"a server\",\n  \"redirect_uri\": \"https://h/cb\",\n  \"scopes\": \"api\",\n  \"trustd\": true}\n]",
            "GitLab OAuth apps file <dir>/gitlab_oauth.json:5: unknown key \"trustd\" in application #1 (known: name, redirect_uri, confidential, scopes, trusted)",
        ),
        (
            "[\n {\"name\": \"a server\",\n  \"redirect_uri\": \"/relative\",\n  \"scopes\": \"api\"}\n]",
            "GitLab OAuth apps file <dir>/gitlab_oauth.json:3: key \"redirect_uri\": \"/relative\" is not an absolute URL without a fragment",
        ),
        (
            "[\n {\"name\": \"a server\",\n  \"redirect_uri\": \"https://h/cb\",\n  \"scopes\": \"api\"},\n]",
            "GitLab OAuth apps file <dir>/gitlab_oauth.json:5: invalid JSON: trailing comma at line 5 column 1",
        ),
        (
            "{\"name\": \"a server\"}",
            "GitLab OAuth apps file <dir>/gitlab_oauth.json:1: expected a JSON array of applications",
        ),
        (
            "[\n {\"name\": \"a server\",\n  \"redirect_uri\": \"https://h/cb\",\n  \"scopes\": \"api\"}\n]",
            "GitLab OAuth apps file <dir>/gitlab_oauth.json:1: no application whose name contains \"client\"",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(read(text).unwrap_err(), want, "{text}");
    }
}
