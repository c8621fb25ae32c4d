//! password_store component: the current admin passwords and tokens of the platform
//! services (ThingsBoard sysadmin and tenant admin, GitLab root password, PATs and OAuth
//! applications, the InfluxDB operator token), encrypted at rest with XChaCha20-Poly1305 in
//! the state database of the store component.
//!
//! Values are `SecretString`s: they never appear in Debug output, errors or the journal. The
//! 32-byte key comes from a [`KeySource`] (a value the cli read from the environment, or a key
//! file created 0600 on first use); a key that does not match the database is
//! [`PasswordStoreError::WrongKey`], never data loss. It imports the legacy Python files
//! (`config/password.env.current`, `config/gitlab_tokens.json`,
//! `config/gitlab_user_tokens.json`) once, and can export the legacy `gitlab_tokens.json`
//! shape for tools that read it. It also computes the keyed account fingerprints stored by
//! the store. It knows nothing of HTTP, Docker or the command line, never prints and never
//! reads environment variables.

mod crypto;
mod error;
mod fingerprint;
mod forget;
mod key;
mod legacy;
mod names;
mod store;

pub use ::store::SecretInfo;
pub use error::PasswordStoreError;
pub use fingerprint::fingerprint;
pub use forget::{Forgotten, HeldState, forget_data_of, held_in_data_of};
pub use key::{DEFAULT_KEY_FILE_RELATIVE_PATH, KeySource};
pub use legacy::{LEGACY_IMPORT_MARKER, LegacyImport};
pub use names::{
    GITLAB_CLIENT_APP, GITLAB_ROOT_CURRENT_PASSWORD, GITLAB_ROOT_PAT, GITLAB_SERVER_APP,
    GITLAB_USER_PAT_PREFIX, INFLUXDB_OPERATOR_TOKEN, TB_SYSADMIN_CURRENT_PASSWORD,
    TB_TENANT_ADMIN_CURRENT_PASSWORD, gitlab_user_pat, validate_name,
};
pub use store::{OAuthApp, PasswordStore};
