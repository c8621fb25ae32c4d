use std::fmt;
use std::time::Duration;

use secrecy::SecretString;

use crate::ThingsBoardError;

/// ThingsBoard's factory sysadmin login.
pub const DEFAULT_SYSADMIN_EMAIL: &str = "sysadmin@thingsboard.org";
/// ThingsBoard's factory sysadmin password (replaced at install).
pub const DEFAULT_SYSADMIN_PASSWORD: &str = "sysadmin";
/// The public password the Python CLI gave the tenant admin; only ever tried to log in an
/// old installation, never set.
pub const LEGACY_TENANT_ADMIN_PASSWORD: &str = "tenant";

/// What the ThingsBoard flows need from the project settings.
#[derive(Clone)]
pub struct TbConfig {
    /// `${THINGSBOARD_SCHEME}://${HOSTNAME}:${THINGSBOARD_PORT}`, no trailing slash.
    pub base_url: String,
    /// `TB_SYSADMIN_EMAIL`.
    pub sysadmin_email: String,
    /// `TB_SYSADMIN_NEW_PASSWORD`: the final sysadmin password.
    pub sysadmin_password: Option<SecretString>,
    /// `TB_TENANT_TITLE`.
    pub tenant_title: String,
    /// `TB_TENANT_ADMIN_EMAIL`.
    pub tenant_admin_email: String,
    /// `TB_TENANT_ADMIN_PASSWORD`: the final tenant admin password.
    pub tenant_admin_password: Option<SecretString>,
    /// `THINGSBOARD_INSTALL_TIMEOUT`.
    pub install_timeout: Duration,
}

impl fmt::Debug for TbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TbConfig")
            .field("base_url", &self.base_url)
            .field("sysadmin_email", &self.sysadmin_email)
            .field("tenant_title", &self.tenant_title)
            .field("tenant_admin_email", &self.tenant_admin_email)
            .finish_non_exhaustive()
    }
}

fn non_empty(s: Option<SecretString>) -> Option<SecretString> {
    use secrecy::ExposeSecret as _;
    s.filter(|v| !v.expose_secret().is_empty())
}

impl TbConfig {
    /// From the project settings.
    ///
    /// # Errors
    /// [`ThingsBoardError::Config`] when HOSTNAME or THINGSBOARD_PORT is not set.
    pub fn from_settings(settings: &config::Settings) -> Result<Self, ThingsBoardError> {
        let host = settings.hostname();
        if host.trim().is_empty() {
            return Err(ThingsBoardError::Config("HOSTNAME is not set".into()));
        }
        let port = settings.port("THINGSBOARD_PORT");
        if port == 0 {
            return Err(ThingsBoardError::Config(
                "THINGSBOARD_PORT is not set".into(),
            ));
        }
        let scheme = settings.text("THINGSBOARD_SCHEME");
        let text = |k: &str, d: &str| {
            settings
                .get(k)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .unwrap_or(d)
                .to_owned()
        };
        Ok(Self {
            base_url: format!("{scheme}://{host}:{port}"),
            sysadmin_email: text("TB_SYSADMIN_EMAIL", DEFAULT_SYSADMIN_EMAIL),
            sysadmin_password: non_empty(settings.secret("TB_SYSADMIN_NEW_PASSWORD")),
            tenant_title: text("TB_TENANT_TITLE", "DTaaS"),
            tenant_admin_email: text("TB_TENANT_ADMIN_EMAIL", ""),
            tenant_admin_password: non_empty(settings.secret("TB_TENANT_ADMIN_PASSWORD")),
            install_timeout: settings.seconds("THINGSBOARD_INSTALL_TIMEOUT"),
        })
    }

    pub(crate) fn final_sysadmin_password(&self) -> Result<&SecretString, ThingsBoardError> {
        self.sysadmin_password.as_ref().ok_or_else(|| {
            ThingsBoardError::Config(
                "TB_SYSADMIN_NEW_PASSWORD is not set in services.env; cannot set the sysadmin password"
                    .into(),
            )
        })
    }

    pub(crate) fn final_tenant_admin_password(&self) -> Result<&SecretString, ThingsBoardError> {
        self.tenant_admin_password.as_ref().ok_or_else(|| {
            ThingsBoardError::Config(
                "TB_TENANT_ADMIN_PASSWORD is not set in services.env; cannot create the tenant admin"
                    .into(),
            )
        })
    }

    pub(crate) fn tenant_admin_email(&self) -> Result<&str, ThingsBoardError> {
        if self.tenant_admin_email.is_empty() {
            Err(ThingsBoardError::Config(
                "TB_TENANT_ADMIN_EMAIL is not set in services.env".into(),
            ))
        } else {
            Ok(&self.tenant_admin_email)
        }
    }
}
