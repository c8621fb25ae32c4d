//! `config/gitlab_oauth.json` (reference §4.3).

use std::path::Path;

use serde::Deserialize;

use crate::GitLabError;

/// One OAuth application to ensure.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct AppSpec {
    pub name: String,
    pub redirect_uri: String,
    #[serde(default)]
    pub confidential: bool,
    /// Space-separated.
    #[serde(default)]
    pub scopes: String,
    #[serde(default)]
    pub trusted: bool,
}

/// The "server" and "client" applications of the file: the first whose name contains
/// "server" (case-insensitive) and the first containing "client"; others are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthApps {
    pub server: AppSpec,
    pub client: AppSpec,
}

/// Read and validate the OAuth applications file.
///
/// # Errors
/// [`GitLabError::OAuthFile`] naming the file: unreadable, not a JSON array of apps, an
/// empty `redirect_uri`, or no server/client app.
pub fn read_oauth_apps(path: &Path) -> Result<OAuthApps, GitLabError> {
    let err = |detail: String| GitLabError::OAuthFile {
        path: path.display().to_string(),
        detail,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let apps: Vec<AppSpec> = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    for (i, a) in apps.iter().enumerate() {
        if a.redirect_uri.trim().is_empty() {
            return Err(err(format!(
                "app #{} ({:?}) has an empty redirect_uri",
                i + 1,
                a.name
            )));
        }
        if a.name.trim().is_empty() {
            return Err(err(format!("app #{} has an empty name", i + 1)));
        }
    }
    let pick = |word: &str| {
        apps.iter()
            .find(|a| a.name.to_ascii_lowercase().contains(word))
            .cloned()
            .ok_or_else(|| err(format!("no application whose name contains {word:?}")))
    };
    Ok(OAuthApps {
        server: pick("server")?,
        client: pick("client")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_server_and_client_and_validates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("apps.json");
        std::fs::write(
            &p,
            r#"[{"name":"Other","redirect_uri":"x"},
                {"name":"DTaaS Client Authorization","redirect_uri":"https://h/Library","scopes":"api"},
                {"name":"DTaaS Server Authorization","redirect_uri":"https://h/_oauth","confidential":true,"trusted":true}]"#,
        )
        .unwrap();
        let apps = read_oauth_apps(&p).unwrap();
        assert_eq!(apps.server.name, "DTaaS Server Authorization");
        assert!(apps.server.confidential && apps.server.trusted);
        assert_eq!(apps.client.scopes, "api");
        assert!(!apps.client.confidential);

        std::fs::write(&p, r#"[{"name":"a server","redirect_uri":""}]"#).unwrap();
        let e = read_oauth_apps(&p).unwrap_err().to_string();
        assert!(e.contains("empty redirect_uri"), "{e}");
        std::fs::write(&p, r#"[{"name":"a server","redirect_uri":"u"}]"#).unwrap();
        let e = read_oauth_apps(&p).unwrap_err().to_string();
        assert!(e.contains("\"client\""), "{e}");
    }
}
