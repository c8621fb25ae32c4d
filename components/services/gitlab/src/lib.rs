//! services_gitlab: the GitLab CE flows — `service install -s gitlab` (readiness with an
//! optional wait, its inputs checked before GitLab starts, an admin token bootstrapped
//! through `gitlab-rails runner` in the container with the script on STDIN, the password
//! grant only as a fallback, OAuth applications from the project's `gitlab_oauth.json`
//! reused or updated by name and never duplicated and their `trusted` flag set and read
//! back through the runner (the API ignores it), the root password set), `user add -s
//! gitlab` as a [`Provisioner`] (users and their tokens, merged into the password store; a
//! changed password's expiry, which GitLab sets when an admin changes another user's
//! password, cleared for all of a run's users by one runner after the run's rows) and `user
//! reset-password -s gitlab` — over the REST API through the shared client of
//! services_common. A refused request names whose credential was refused: the admin's, or
//! a user's own token.
//!
//! It never prints (progress goes to a callback), never reads environment variables, and
//! never puts a password or token in an error, a log, Debug output or an exec's argv. The
//! initial root password is read only as a last login candidate and never stored.
//!
//! [`Provisioner`]: services_common::Provisioner

mod admin;
mod client;
mod config;
mod container;
mod error;
mod oauth;
mod provisioner;
mod runner;

pub use admin::{
    AppAction, GitLab, InstallOptions, InstallReport, ROOT_TOKEN_NAME, RUNNER_SCRIPT, TokenSource,
    check_install_inputs, install, setup, wait_ready,
};
pub use client::{AppWithSecret, Application, Auth, GitLabClient, Grant, ROOT_ID, TokenInfo, User};
pub use config::GitLabConfig;
pub use container::{EngineContainer, GitLabContainer, ProjectContainer, Readiness};
pub use error::{GitLabError, NOT_READY_HINT};
pub use oauth::{AppSpec, OAuthApps, read_oauth_apps};
pub use provisioner::{GitLabProvisioner, USER_TOKEN_NAME, USER_TOKEN_SCOPES};
pub use runner::{CLEAR_EXPIRY_SCRIPT, TRUST_SCRIPT};
