//! services_gitlab: the GitLab CE flows — `service install -s gitlab` (readiness with an
//! optional wait, an admin token bootstrapped through `gitlab-rails runner` in the container
//! with the script on STDIN, the password grant only as a fallback, OAuth applications
//! from the project's `gitlab_oauth.json` reused or updated by name and never duplicated,
//! the root password set), `user add -s gitlab` as a [`Provisioner`] (users and their
//! tokens, merged into the password store) and `user reset-password -s gitlab` — over the
//! REST API through the shared client of services_common.
//!
//! It never prints (progress goes to a callback), never reads environment variables, and
//! never puts a password or token in an error, a log, Debug output or an exec's argv. The
//! initial root password is read only as a last login candidate and never stored.
//!
//! [`Provisioner`]: services_common::Provisioner

mod admin;
mod client;
mod config;
mod error;
mod oauth;
mod provisioner;

pub use admin::{
    AppAction, EngineContainer, GitLab, GitLabContainer, InstallOptions, InstallReport,
    ROOT_TOKEN_NAME, RUNNER_SCRIPT, Readiness, TokenSource, install, setup, wait_ready,
};
pub use client::{AppWithSecret, Application, Auth, GitLabClient, Grant, ROOT_ID, TokenInfo, User};
pub use config::GitLabConfig;
pub use error::{GitLabError, NOT_READY_HINT};
pub use oauth::{AppSpec, OAuthApps, read_oauth_apps};
pub use provisioner::{GitLabProvisioner, USER_TOKEN_NAME, USER_TOKEN_SCOPES};
