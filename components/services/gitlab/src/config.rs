use std::fmt;
use std::path::PathBuf;

use secrecy::{ExposeSecret as _, SecretString};

use crate::GitLabError;

/// What the GitLab flows need from the project settings.
#[derive(Clone)]
pub struct GitLabConfig {
    /// `https://<HOSTNAME>:<GITLAB_PORT>/gitlab`, no trailing slash.
    pub base_url: String,
    /// `GITLAB_ROOT_NEW_PASSWORD`.
    pub root_password: Option<SecretString>,
    /// Where `GITLAB_ROOT_NEW_PASSWORD` was set (`config/services.env:12`), for messages.
    pub root_password_source: Option<String>,
    /// `<project>/config/<OAUTH_APPS>`.
    pub oauth_file: PathBuf,
}

impl fmt::Debug for GitLabConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitLabConfig")
            .field("base_url", &self.base_url)
            .field("oauth_file", &self.oauth_file)
            .finish_non_exhaustive()
    }
}

impl GitLabConfig {
    /// From the project settings (the OAuth file is read from the PROJECT's config dir,
    /// never the current directory).
    ///
    /// # Errors
    /// [`GitLabError::Config`] when HOSTNAME or GITLAB_PORT is missing or invalid.
    pub fn from_settings(settings: &config::Settings) -> Result<Self, GitLabError> {
        let host = settings.hostname().trim();
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(GitLabError::Config(
                "HOSTNAME must be set and contain no whitespace".into(),
            ));
        }
        let port = settings.port("GITLAB_PORT");
        if port == 0 {
            return Err(GitLabError::Config(
                "GITLAB_PORT must be a port number in 1..65535".into(),
            ));
        }
        let file = settings.text("OAUTH_APPS");
        Ok(Self {
            base_url: format!("https://{host}:{port}/gitlab"),
            root_password: settings
                .secret("GITLAB_ROOT_NEW_PASSWORD")
                .filter(|s| !s.expose_secret().is_empty()),
            root_password_source: settings
                .source("GITLAB_ROOT_NEW_PASSWORD")
                .map(ToString::to_string),
            oauth_file: settings.project_dir().join("config").join(file),
        })
    }

    /// The OAuth applications file read and checked, and GITLAB_ROOT_NEW_PASSWORD set.
    pub(crate) fn install_inputs(&self) -> Result<crate::OAuthApps, GitLabError> {
        let apps = crate::read_oauth_apps(&self.oauth_file)?;
        self.final_root_password()?;
        Ok(apps)
    }

    pub(crate) fn final_root_password(&self) -> Result<&SecretString, GitLabError> {
        self.root_password.as_ref().ok_or_else(|| {
            GitLabError::Config(match &self.root_password_source {
                Some(at) => format!(
                    "GITLAB_ROOT_NEW_PASSWORD is empty ({at}); cannot set the root password"
                ),
                None => "GITLAB_ROOT_NEW_PASSWORD is not set in config/services.env; cannot set the root password".into(),
            })
        })
    }
}
