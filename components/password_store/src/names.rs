//! The names of the stored secrets: the admin passwords the Python CLI kept in
//! `password.env.current` (same names, so the legacy import is one to one) plus the GitLab
//! tokens it kept in `gitlab_tokens.json`.

use crate::error::PasswordStoreError;

pub const TB_SYSADMIN_CURRENT_PASSWORD: &str = "TB_SYSADMIN_CURRENT_PASSWORD";
pub const TB_TENANT_ADMIN_CURRENT_PASSWORD: &str = "TB_TENANT_ADMIN_CURRENT_PASSWORD";
pub const GITLAB_ROOT_CURRENT_PASSWORD: &str = "GITLAB_ROOT_CURRENT_PASSWORD";
/// The root personal access token (`personal_access_token` of gitlab_tokens.json).
pub const GITLAB_ROOT_PAT: &str = "GITLAB_ROOT_PAT";
/// The "server" OAuth application (client id + secret), see [`crate::OAuthApp`].
pub const GITLAB_SERVER_APP: &str = "GITLAB_SERVER_APP";
/// The "client" OAuth application.
pub const GITLAB_CLIENT_APP: &str = "GITLAB_CLIENT_APP";
pub const INFLUXDB_OPERATOR_TOKEN: &str = "INFLUXDB_OPERATOR_TOKEN";
/// Prefix of a GitLab user's PAT: `GITLAB_USER_PAT:<username>`.
pub const GITLAB_USER_PAT_PREFIX: &str = "GITLAB_USER_PAT:";

/// The name of a GitLab user's personal access token.
pub fn gitlab_user_pat(username: &str) -> String {
    format!("{GITLAB_USER_PAT_PREFIX}{username}")
}

/// Accept `UPPER_SNAKE` names, optionally followed by `:<qualifier>` (a username with
/// letters, digits, `_`, `.`, `-`).
pub fn validate_name(name: &str) -> Result<(), PasswordStoreError> {
    let (base, qualifier) = match name.split_once(':') {
        Some((b, q)) => (b, Some(q)),
        None => (name, None),
    };
    let base_ok = !base.is_empty()
        && base.len() <= 64
        && base.starts_with(|c: char| c.is_ascii_uppercase())
        && base
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    let qualifier_ok = qualifier.is_none_or(|q| {
        !q.is_empty()
            && q.len() <= 255
            && q.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    });
    if base_ok && qualifier_ok {
        Ok(())
    } else {
        Err(PasswordStoreError::InvalidName {
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for ok in [
            TB_SYSADMIN_CURRENT_PASSWORD,
            GITLAB_ROOT_PAT,
            &gitlab_user_pat("user.one-2"),
        ] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "lower", "A B", "GITLAB_USER_PAT:", "X:a/b", "1ABC"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }
}
