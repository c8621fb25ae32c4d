//! The admin flows: sysadmin login and password, the tenant and its admin, and
//! `user reset-password`. Final passwords are set when an account is created: no account
//! ever has a well-known password (the public "tenant" password is never set).

use password_store::{
    PasswordStore, TB_SYSADMIN_CURRENT_PASSWORD, TB_TENANT_ADMIN_CURRENT_PASSWORD,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use services_common::{Outcome, ProvisionError};

use crate::ThingsBoardError;
use crate::client::{Created, Owner, TbClient, Token};
use crate::config::{
    DEFAULT_SYSADMIN_EMAIL, DEFAULT_SYSADMIN_PASSWORD, LEGACY_TENANT_ADMIN_PASSWORD, TbConfig,
};

const SERVICE: &str = "ThingsBoard";

/// Which login candidate worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Stored,
    Final,
    Default,
}

/// What happened to an admin password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PasswordChange {
    /// The final password already worked (and is now stored).
    AlreadySet,
    /// The password was changed to the final one (and stored).
    Changed,
}

/// What happened to the sysadmin email.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmailChange {
    Unchanged,
    Changed,
}

/// The outcome of `user reset-password -s thingsboard`.
#[derive(Debug, Clone, Serialize)]
pub struct ResetReport {
    pub sysadmin_email: EmailChange,
    pub sysadmin_password: PasswordChange,
    /// `None` when TB_TENANT_ADMIN_PASSWORD is not set (skipped).
    pub tenant_admin: Option<Result<PasswordChange, String>>,
}

impl ResetReport {
    /// One line for the user.
    #[must_use]
    pub fn message(&self) -> String {
        match &self.tenant_admin {
            Some(Err(e)) => format!(
                "Sysadmin password reset successfully. Tenant admin password was not reset: {e} (Re-run this command once the tenant admin account has been created.)"
            ),
            _ => "ThingsBoard credentials updated successfully".to_owned(),
        }
    }
}

/// The tenant and its admin after [`ThingsBoard::ensure_tenant`].
#[derive(Debug, Clone)]
pub struct TenantSetup {
    pub tenant_id: String,
    pub tenant: Outcome,
    pub tenant_admin: Outcome,
    /// A session of the tenant admin.
    pub token: Token,
}

/// A logged-in session and the password that opened it.
struct Session {
    token: Token,
    email: String,
    password: SecretString,
    kind: Kind,
}

/// The ThingsBoard flows of one installation: its API, settings and the password store.
#[derive(Debug, Clone)]
pub struct ThingsBoard {
    pub(crate) client: TbClient,
    pub(crate) cfg: TbConfig,
    pub(crate) store: PasswordStore,
}

fn same(a: &SecretString, b: &SecretString) -> bool {
    a.expose_secret() == b.expose_secret()
}

/// Map ThingsBoard's password-change refusal to the reference's messages. The wording is
/// upstream's (thingsboard/thingsboard v4.2.1): `AuthController.changePassword` answers 400
/// "New password should be different from existing!"; `DefaultSystemSecurityService
/// .validatePassword` answers 400 with Passay's policy messages ("Password must be 6 or more
/// characters in length.", ...) or "Password was already used for the last N days".
fn password_error(e: ProvisionError) -> ThingsBoardError {
    if let ProvisionError::Api { detail, .. } = &e {
        let lower = detail.to_ascii_lowercase();
        let msg = if lower.contains("should be different from existing") {
            Some("New password is the same as the current password.".to_owned())
        } else if lower.starts_with("password must") || lower.contains("was already used") {
            Some(format!("Password rejected: {detail}"))
        } else {
            None
        };
        if let Some(msg) = msg {
            return ThingsBoardError::Api(ProvisionError::Failed {
                service: SERVICE.into(),
                detail: msg,
            });
        }
    }
    ThingsBoardError::Api(e)
}

impl ThingsBoard {
    #[must_use]
    pub fn new(client: TbClient, cfg: TbConfig, store: PasswordStore) -> Self {
        Self { client, cfg, store }
    }

    /// From the project settings: the shared HTTP client (SSL_VERIFY, the project's CA)
    /// on `${THINGSBOARD_SCHEME}://${HOSTNAME}:${THINGSBOARD_PORT}`.
    ///
    /// # Errors
    /// Missing settings, an unreadable CA file.
    pub fn from_settings(
        settings: &config::Settings,
        store: PasswordStore,
    ) -> Result<Self, ThingsBoardError> {
        let cfg = TbConfig::from_settings(settings)?;
        let http =
            services_common::http_client(&services_common::HttpOptions::from_settings(settings))?;
        let api = services_common::HttpApi::new(http, &cfg.base_url, SERVICE);
        Ok(Self::new(TbClient::new(api), cfg, store))
    }

    /// The API client.
    #[must_use]
    pub fn client(&self) -> &TbClient {
        &self.client
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &TbConfig {
        &self.cfg
    }

    /// Login candidates, in order, without duplicates.
    async fn candidates(
        &self,
        stored_key: &str,
        fin: Option<&SecretString>,
        default: &str,
    ) -> Result<Vec<(Kind, SecretString)>, ThingsBoardError> {
        let mut out: Vec<(Kind, SecretString)> = Vec::new();
        let mut push = |k: Kind, p: SecretString| {
            if !p.expose_secret().is_empty() && !out.iter().any(|(_, q)| same(q, &p)) {
                out.push((k, p));
            }
        };
        // The final password first when it equals the stored one (so it reports Final).
        let stored = self.store.get(stored_key).await?;
        if let (Some(s), Some(f)) = (&stored, fin)
            && same(s, f)
        {
            push(Kind::Final, f.clone());
        }
        if let Some(s) = stored {
            push(Kind::Stored, s);
        }
        if let Some(f) = fin {
            push(Kind::Final, f.clone());
        }
        push(Kind::Default, SecretString::from(default.to_owned()));
        Ok(out)
    }

    async fn login_any(
        &self,
        emails: &[&str],
        cands: &[(Kind, SecretString)],
    ) -> Result<Option<Session>, ThingsBoardError> {
        for email in emails {
            for (kind, pw) in cands {
                if let Some(token) = self.client.login(email, pw).await? {
                    return Ok(Some(Session {
                        token,
                        email: (*email).to_owned(),
                        password: pw.clone(),
                        kind: *kind,
                    }));
                }
            }
        }
        Ok(None)
    }

    async fn sysadmin_session(&self) -> Result<Session, ThingsBoardError> {
        let fin = self.cfg.sysadmin_password.as_ref();
        let cands = self
            .candidates(TB_SYSADMIN_CURRENT_PASSWORD, fin, DEFAULT_SYSADMIN_PASSWORD)
            .await?;
        let mut emails = vec![self.cfg.sysadmin_email.as_str()];
        if !self
            .cfg
            .sysadmin_email
            .eq_ignore_ascii_case(DEFAULT_SYSADMIN_EMAIL)
        {
            emails.push(DEFAULT_SYSADMIN_EMAIL);
        }
        self.login_any(&emails, &cands).await?.ok_or_else(|| {
            ThingsBoardError::Api(ProvisionError::Unauthorized {
                service: SERVICE.into(),
                detail: format!(
                    "failed to authenticate as the sysadmin ({}) with the stored password, TB_SYSADMIN_NEW_PASSWORD or the default; check that ThingsBoard is running and TB_SYSADMIN_EMAIL / TB_SYSADMIN_NEW_PASSWORD are correct",
                    self.cfg.sysadmin_email
                ),
            })
        })
    }

    /// Bring a logged-in admin to its final password: store it when it already works,
    /// else change it and store it at once. Returns a session opened with the final password.
    async fn finish_password(
        &self,
        s: Session,
        fin: &SecretString,
        stored_key: &str,
    ) -> Result<(Token, PasswordChange), ThingsBoardError> {
        if s.kind == Kind::Final {
            let stored = self.store.get(stored_key).await?;
            if !stored.is_some_and(|v| same(&v, fin)) {
                self.store.set(stored_key, fin).await?;
            }
            return Ok((s.token, PasswordChange::AlreadySet));
        }
        self.client
            .change_password(&s.token, &s.password, fin)
            .await
            .map_err(password_error)?;
        self.store.set(stored_key, fin).await?;
        // Sessions opened before a password change may be revoked: log in again.
        let token = self.client.login(&s.email, fin).await?.ok_or_else(|| {
            ThingsBoardError::Api(ProvisionError::Unauthorized {
                service: SERVICE.into(),
                detail: "the new password was not accepted right after the change".into(),
            })
        })?;
        Ok((token, PasswordChange::Changed))
    }

    /// Record `fin` as the sysadmin's current password (after it was set outside the API).
    ///
    /// # Errors
    /// The password store could not be written.
    pub async fn remember_sysadmin_password(
        &self,
        fin: &SecretString,
    ) -> Result<(), ThingsBoardError> {
        self.store.set(TB_SYSADMIN_CURRENT_PASSWORD, fin).await?;
        Ok(())
    }

    /// Log in as the sysadmin and make sure its password is TB_SYSADMIN_NEW_PASSWORD
    /// (stored in the password store). Returns a sysadmin session.
    ///
    /// # Errors
    /// Missing setting, refused login, HTTP or store failures.
    pub async fn ensure_sysadmin_password(
        &self,
    ) -> Result<(Token, PasswordChange), ThingsBoardError> {
        let fin = self.cfg.final_sysadmin_password()?.clone();
        let s = self.sysadmin_session().await?;
        self.finish_password(s, &fin, TB_SYSADMIN_CURRENT_PASSWORD)
            .await
    }

    /// Set the sysadmin's email to TB_SYSADMIN_EMAIL through the API when it differs.
    async fn ensure_sysadmin_email(&self, token: &Token) -> Result<EmailChange, ThingsBoardError> {
        let mut user = self.client.current_user(token).await?;
        let current = user.get("email").and_then(|e| e.as_str()).unwrap_or("");
        if current.eq_ignore_ascii_case(&self.cfg.sysadmin_email) {
            return Ok(EmailChange::Unchanged);
        }
        user["email"] = serde_json::Value::from(self.cfg.sysadmin_email.clone());
        self.client.save_user(token, &user).await?;
        Ok(EmailChange::Changed)
    }

    /// Ensure the tenant TB_TENANT_TITLE and its admin TB_TENANT_ADMIN_EMAIL with the final
    /// password TB_TENANT_ADMIN_PASSWORD (created and activated with it; an existing admin is
    /// brought to it), using a sysadmin session.
    ///
    /// # Errors
    /// Missing settings, refused logins, HTTP or store failures.
    pub async fn ensure_tenant(&self, sys: &Token) -> Result<TenantSetup, ThingsBoardError> {
        let email = self.cfg.tenant_admin_email()?.to_owned();
        let fin = self.cfg.final_tenant_admin_password()?.clone();
        let title = self.cfg.tenant_title.clone();
        let (tenant_id, tenant) = match self.client.find_tenant(sys, &title).await? {
            Some(t) => (t.id, Outcome::Unchanged),
            None => (
                self.client.create_tenant(sys, &title).await?,
                Outcome::Created,
            ),
        };
        let owner = Owner::Tenant(&tenant_id);
        let existing = self.client.find_users(sys, owner, &email).await?;
        let (token, tenant_admin) = match existing.first() {
            None => {
                let id = match self.client.create_user(sys, owner, &email).await? {
                    Created::Id(id) => id,
                    Created::AlreadyExists => {
                        return Err(ThingsBoardError::Api(ProvisionError::Failed {
                            service: SERVICE.into(),
                            detail: format!(
                                "a user with the email {email} exists outside the tenant {title:?}; choose another TB_TENANT_ADMIN_EMAIL"
                            ),
                        }));
                    }
                };
                let token = self.activate_admin(sys, &id, &email, &fin).await?;
                (token, Outcome::Created)
            }
            Some(user) => match self.tenant_admin_login(&email, &fin).await? {
                Some(s) => {
                    let (token, change) = self
                        .finish_password(s, &fin, TB_TENANT_ADMIN_CURRENT_PASSWORD)
                        .await?;
                    let o = match change {
                        PasswordChange::AlreadySet => Outcome::Unchanged,
                        PasswordChange::Changed => Outcome::Updated,
                    };
                    (token, o)
                }
                // Created by an interrupted run, not activated yet: finish the job.
                None => {
                    let token = self.activate_admin(sys, &user.id, &email, &fin).await?;
                    (token, Outcome::Updated)
                }
            },
        };
        Ok(TenantSetup {
            tenant_id,
            tenant,
            tenant_admin,
            token,
        })
    }

    /// A tenant admin session that changes nothing (for listing, dry runs and removals):
    /// `Ok(None)` when the tenant TB_TENANT_TITLE does not exist yet.
    ///
    /// # Errors
    /// A refused sysadmin login; a tenant admin that logs in with neither the stored
    /// password nor TB_TENANT_ADMIN_PASSWORD (run `service install -s thingsboard`); HTTP or
    /// store failures.
    pub async fn tenant_session_readonly(
        &self,
        sys: &Token,
    ) -> Result<Option<Token>, ThingsBoardError> {
        let email = self.cfg.tenant_admin_email()?.to_owned();
        let fin = self.cfg.final_tenant_admin_password()?.clone();
        if self
            .client
            .find_tenant(sys, &self.cfg.tenant_title)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        match self.tenant_admin_login(&email, &fin).await? {
            Some(s) => Ok(Some(s.token)),
            None => Err(ThingsBoardError::Api(ProvisionError::Unauthorized {
                service: SERVICE.into(),
                detail: format!(
                    "the tenant admin {email} logs in with neither the stored password nor TB_TENANT_ADMIN_PASSWORD; run: dtaas-services service install -s thingsboard"
                ),
            })),
        }
    }

    async fn tenant_admin_login(
        &self,
        email: &str,
        fin: &SecretString,
    ) -> Result<Option<Session>, ThingsBoardError> {
        let cands = self
            .candidates(
                TB_TENANT_ADMIN_CURRENT_PASSWORD,
                Some(fin),
                LEGACY_TENANT_ADMIN_PASSWORD,
            )
            .await?;
        self.login_any(&[email], &cands).await
    }

    /// Activate a new (or never activated) tenant admin with the final password, store it,
    /// and log in with it.
    async fn activate_admin(
        &self,
        sys: &Token,
        user_id: &str,
        email: &str,
        fin: &SecretString,
    ) -> Result<Token, ThingsBoardError> {
        let act = self
            .client
            .activation_token(sys, user_id)
            .await?
            .ok_or_else(|| {
                ThingsBoardError::Api(ProvisionError::Unauthorized {
                    service: SERVICE.into(),
                    detail: format!(
                        "the tenant admin {email} is activated but refuses the stored password and TB_TENANT_ADMIN_PASSWORD"
                    ),
                })
            })?;
        self.client
            .activate(&act, fin)
            .await
            .map_err(password_error)?;
        self.store
            .set(TB_TENANT_ADMIN_CURRENT_PASSWORD, fin)
            .await?;
        self.client.login(email, fin).await?.ok_or_else(|| {
            ThingsBoardError::Api(ProvisionError::Unauthorized {
                service: SERVICE.into(),
                detail: format!("the tenant admin {email} cannot log in after activation"),
            })
        })
    }

    /// Log in as the sysadmin with the stored password, TB_SYSADMIN_NEW_PASSWORD or the
    /// default (no change made).
    ///
    /// # Errors
    /// Refused login, HTTP or store failures.
    pub async fn sysadmin_token(&self) -> Result<Token, ThingsBoardError> {
        Ok(self.sysadmin_session().await?.token)
    }

    /// `user reset-password -s thingsboard`: the sysadmin email, the sysadmin
    /// password, then the tenant admin password (a failure there is reported, not fatal).
    ///
    /// # Errors
    /// A failure of the sysadmin steps.
    pub async fn reset_passwords(&self) -> Result<ResetReport, ThingsBoardError> {
        let fin = self.cfg.final_sysadmin_password()?.clone();
        let s = self.sysadmin_session().await?;
        let sysadmin_email = self.ensure_sysadmin_email(&s.token).await?;
        let s = Session {
            email: self.cfg.sysadmin_email.clone(),
            ..s
        };
        let (_, sysadmin_password) = self
            .finish_password(s, &fin, TB_SYSADMIN_CURRENT_PASSWORD)
            .await?;
        let tenant_admin = match (
            &self.cfg.tenant_admin_password,
            self.cfg.tenant_admin_email(),
        ) {
            (None, _) => None,
            (Some(_), Err(e)) => Some(Err(e.to_string())),
            (Some(tfin), Ok(email)) => Some(self.reset_tenant_admin(email, tfin).await),
        };
        Ok(ResetReport {
            sysadmin_email,
            sysadmin_password,
            tenant_admin,
        })
    }

    async fn reset_tenant_admin(
        &self,
        email: &str,
        fin: &SecretString,
    ) -> Result<PasswordChange, String> {
        let s = self
            .tenant_admin_login(email, fin)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!(
                    "cannot log in as the tenant admin {email} with the stored password, TB_TENANT_ADMIN_PASSWORD or the legacy default"
                )
            })?;
        self.finish_password(s, fin, TB_TENANT_ADMIN_CURRENT_PASSWORD)
            .await
            .map(|(_, c)| c)
            .map_err(|e| e.to_string())
    }
}
