//! `config/gitlab_oauth.json` (the project's two OAuth applications, server and client),
//! read from the project directory and checked before anything starts: every error names
//! the file, the line and the key.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::GitLabError;

/// One OAuth application to ensure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSpec {
    pub name: String,
    pub redirect_uri: String,
    pub confidential: bool,
    /// Space-separated.
    pub scopes: String,
    /// Whether users skip the consent screen. `POST /applications` ignores it (gitlabhq
    /// v18.10.1 lib/api/applications.rb declares name, redirect_uri, scopes, confidential),
    /// so the install sets it on the model through `gitlab-rails runner`.
    pub trusted: bool,
}

/// The "server" and "client" applications of the file: the first whose name contains
/// "server" (case-insensitive) and the first containing "client"; others are ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthApps {
    pub server: AppSpec,
    pub client: AppSpec,
}

/// The keys an application may have.
const KEYS: [&str; 5] = ["name", "redirect_uri", "confidential", "scopes", "trusted"];

/// The 1-based line of `part`, a slice of `text`.
fn line_of(text: &str, part: &str) -> usize {
    let offset = (part.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    text.get(..offset.min(text.len()))
        .map_or(1, |before| before.matches('\n').count() + 1)
}

struct Reader<'t> {
    path: &'t Path,
    text: &'t str,
}

impl<'t> Reader<'t> {
    fn err(&self, line: usize, detail: impl std::fmt::Display) -> GitLabError {
        GitLabError::OAuthFile {
            path: format!("{}:{line}", self.path.display()),
            detail: detail.to_string(),
        }
    }

    fn field<T: DeserializeOwned>(
        &self,
        obj: &BTreeMap<String, &'t RawValue>,
        key: &str,
        what: &str,
        default: Option<T>,
        at: usize,
    ) -> Result<T, GitLabError> {
        match obj.get(key) {
            Some(raw) => serde_json::from_str(raw.get()).map_err(|_| {
                self.err(
                    line_of(self.text, raw.get()),
                    format!("key {key:?} must be {what}, found {}", raw.get()),
                )
            }),
            None => default.ok_or_else(|| self.err(at, format!("key {key:?} is missing"))),
        }
    }

    fn app(&self, i: usize, raw: &'t RawValue) -> Result<AppSpec, GitLabError> {
        let at = line_of(self.text, raw.get());
        let obj: BTreeMap<String, &RawValue> = serde_json::from_str(raw.get())
            .map_err(|_| self.err(at, format!("application #{} is not a JSON object", i + 1)))?;
        if let Some((k, v)) = obj.iter().find(|(k, _)| !KEYS.contains(&k.as_str())) {
            return Err(self.err(
                line_of(self.text, v.get()),
                format!(
                    "unknown key {k:?} in application #{} (known: {})",
                    i + 1,
                    KEYS.join(", ")
                ),
            ));
        }
        let text = |key: &str| -> Result<String, GitLabError> {
            let v: String = self.field(&obj, key, "a string", None, at)?;
            if v.trim().is_empty() {
                let line = obj.get(key).map_or(at, |r| line_of(self.text, r.get()));
                return Err(self.err(line, format!("key {key:?} is empty")));
            }
            Ok(v)
        };
        let app = AppSpec {
            name: text("name")?,
            redirect_uri: text("redirect_uri")?,
            scopes: text("scopes")?,
            confidential: self.field(&obj, "confidential", "true or false", Some(false), at)?,
            trusted: self.field(&obj, "trusted", "true or false", Some(false), at)?,
        };
        for uri in app.redirect_uri.split_whitespace() {
            let ok = reqwest::Url::parse(uri).is_ok_and(|u| u.has_host() && u.fragment().is_none());
            if !ok {
                let line = obj
                    .get("redirect_uri")
                    .map_or(at, |r| line_of(self.text, r.get()));
                return Err(self.err(
                    line,
                    format!(
                        "key \"redirect_uri\": {uri:?} is not an absolute URL without a fragment"
                    ),
                ));
            }
        }
        Ok(app)
    }
}

/// Read and validate the OAuth applications file.
///
/// # Errors
/// [`GitLabError::OAuthFile`] naming the file and line (and the key when one is at fault):
/// unreadable, not a JSON array of objects, an unknown key, a missing or empty `name`,
/// `redirect_uri` or `scopes` (GitLab requires them), a redirect URI that is not an absolute
/// URL, a non-boolean flag, or no server/client app.
pub fn read_oauth_apps(path: &Path) -> Result<OAuthApps, GitLabError> {
    let text = std::fs::read_to_string(path).map_err(|e| GitLabError::OAuthFile {
        path: path.display().to_string(),
        detail: e.to_string(),
    })?;
    let r = Reader { path, text: &text };
    let items: Vec<&RawValue> = serde_json::from_str(&text).map_err(|e| {
        let detail = if e.is_data() {
            "expected a JSON array of applications".to_owned()
        } else {
            format!("invalid JSON: {e}")
        };
        r.err(e.line().max(1), detail)
    })?;
    let apps = items
        .iter()
        .enumerate()
        .map(|(i, raw)| r.app(i, raw))
        .collect::<Result<Vec<_>, _>>()?;
    let pick = |word: &str| {
        apps.iter()
            .find(|a| a.name.to_ascii_lowercase().contains(word))
            .cloned()
            .ok_or_else(|| r.err(1, format!("no application whose name contains {word:?}")))
    };
    Ok(OAuthApps {
        server: pick("server")?,
        client: pick("client")?,
    })
}

#[cfg(test)]
#[path = "oauth_tests.rs"]
mod tests;
