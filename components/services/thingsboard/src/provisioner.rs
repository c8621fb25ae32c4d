//! `user add -s thingsboard` as a [`Provisioner`]: per CSV row a customer titled with the
//! username and a customer user (the row's email) activated with the row's password
//! under the tenant that [`ThingsBoard::ensure_tenant`] ensures.

use catalog::Service;
use secrecy::SecretString;
use services_common::{
    BoxFuture, Claim, Existing, NameRule, Outcome, PasswordState, ProvisionError, Provisioner,
    Removal, Reserved, UserSpec,
};
use tokio::sync::OnceCell;

use crate::ThingsBoardError;
use crate::admin::{TenantSetup, ThingsBoard};
use crate::client::{Created, Owner, Token};

const SERVICE: &str = "ThingsBoard";

fn to_provision(e: ThingsBoardError) -> ProvisionError {
    match e {
        ThingsBoardError::Api(p) => p,
        ThingsBoardError::Config(detail) => ProvisionError::Config {
            service: SERVICE.into(),
            detail,
        },
        other => ProvisionError::Failed {
            service: SERVICE.into(),
            detail: other.to_string(),
        },
    }
}

fn failed(detail: String) -> ProvisionError {
    ProvisionError::Failed {
        service: SERVICE.into(),
        detail,
    }
}

/// Provisions ThingsBoard customers and customer users. Probing, listing and removing only
/// log in; the tenant and its admin are ensured (created, activated, brought to their final
/// passwords) lazily by the first `ensure_user`, never by a dry run or `user list`.
#[derive(Debug)]
pub struct ThingsBoardProvisioner {
    tb: ThingsBoard,
    sys: OnceCell<Token>,
    /// The read-only tenant admin session (`None`: no tenant yet), once per provisioner.
    read: OnceCell<Option<Token>>,
    setup: OnceCell<TenantSetup>,
}

impl ThingsBoardProvisioner {
    #[must_use]
    pub fn new(tb: ThingsBoard) -> Self {
        Self {
            tb,
            sys: OnceCell::new(),
            read: OnceCell::new(),
            setup: OnceCell::new(),
        }
    }

    /// A sysadmin session (login only), once per provisioner.
    async fn sys(&self) -> Result<&Token, ProvisionError> {
        self.sys
            .get_or_try_init(|| self.tb.sysadmin_token())
            .await
            .map_err(to_provision)
    }

    /// A tenant admin session that changes nothing; `None` while the tenant does not exist.
    async fn read_token(&self) -> Result<Option<Token>, ProvisionError> {
        if let Some(setup) = self.setup.get() {
            return Ok(Some(setup.token.clone()));
        }
        self.read
            .get_or_try_init(|| async {
                let sys = self.sys().await?;
                self.tb
                    .tenant_session_readonly(sys)
                    .await
                    .map_err(to_provision)
            })
            .await
            .cloned()
    }

    /// The tenant setup (tenant, its admin, a tenant admin session), once per provisioner.
    ///
    /// # Errors
    /// As [`ThingsBoard::ensure_tenant`].
    pub async fn tenant(&self) -> Result<&TenantSetup, ProvisionError> {
        self.setup
            .get_or_try_init(|| async {
                let sys = self.sys().await?;
                self.tb.ensure_tenant(sys).await.map_err(to_provision)
            })
            .await
    }

    async fn token(&self) -> Result<&Token, ProvisionError> {
        Ok(&self.tenant().await?.token)
    }

    async fn ensure(&self, user: &UserSpec) -> Result<Outcome, ProvisionError> {
        let email = user
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .ok_or_else(|| ProvisionError::Config {
                service: SERVICE.into(),
                detail: format!(
                    "user {}: an email is required (email column of credentials.csv)",
                    user.name
                ),
            })?;
        let c = &self.tb.client;
        let t = self.token().await?;
        let customer_id = match c.find_customer(t, &user.name).await? {
            Some(e) => e.id,
            None => c.create_customer(t, &user.name).await?,
        };
        let owner = Owner::Customer(&customer_id);
        let existing = c.find_users(t, owner, email).await?;
        let user_id = match existing.first() {
            Some(u) => u.id.clone(),
            None => match c.create_user(t, owner, email).await? {
                Created::Id(id) => id,
                Created::AlreadyExists => {
                    return Err(failed(format!(
                        "user {}: the email {email} belongs to another ThingsBoard user",
                        user.name
                    )));
                }
            },
        };
        if existing.is_empty() {
            return self
                .activate(t, &user_id, &user.password, &user.name)
                .await
                .map(|()| Outcome::Created);
        }
        if user.password_state == PasswordState::Same {
            return Ok(Outcome::Unchanged);
        }
        // An existing user: fine when the CSV password already works; a user an interrupted
        // run left unactivated is activated now.
        if c.login(email, &user.password).await?.is_some() {
            return Ok(Outcome::Unchanged);
        }
        match c.activation_token(t, &user_id).await? {
            Some(act) => {
                c.activate(&act, &user.password).await?;
                Ok(Outcome::Updated)
            }
            None => Err(failed(format!(
                "user {}: exists and is activated with another password; ThingsBoard lets only the user change it (or remove the user and add it again)",
                user.name
            ))),
        }
    }

    async fn activate(
        &self,
        t: &Token,
        user_id: &str,
        password: &SecretString,
        name: &str,
    ) -> Result<(), ProvisionError> {
        let c = &self.tb.client;
        let act = c
            .activation_token(t, user_id)
            .await?
            .ok_or_else(|| failed(format!("user {name}: already activated")))?;
        c.activate(&act, password).await
    }

    async fn remove(&self, name: &str, keep_data: bool) -> Result<Removal, ProvisionError> {
        let c = &self.tb.client;
        let Some(token) = self.read_token().await? else {
            return Ok(Removal::Absent);
        };
        let t = &token;
        let Some(customer) = c.find_customer(t, name).await? else {
            return Ok(Removal::Absent);
        };
        if keep_data {
            for u in c.find_users(t, Owner::Customer(&customer.id), "").await? {
                c.delete_user(t, &u.id).await?;
            }
        } else {
            c.delete_customer(t, &customer.id).await?;
        }
        Ok(Removal::Removed)
    }
}

impl Provisioner for ThingsBoardProvisioner {
    fn service(&self) -> Service {
        Service::ThingsBoard
    }

    fn probe(&self) -> BoxFuture<'_, Result<(), ProvisionError>> {
        Box::pin(async move { self.sys().await.map(drop) })
    }

    fn list_users(&self) -> BoxFuture<'_, Result<Vec<String>, ProvisionError>> {
        Box::pin(async move {
            let Some(t) = self.read_token().await? else {
                return Ok(Vec::new());
            };
            let mut names: Vec<String> = self
                .tb
                .client
                .list_customers(&t)
                .await?
                .into_iter()
                .map(|e| e.name)
                .collect();
            names.sort();
            Ok(names)
        })
    }

    fn ensure_user<'a>(
        &'a self,
        user: &'a UserSpec,
    ) -> BoxFuture<'a, Result<Outcome, ProvisionError>> {
        Box::pin(self.ensure(user))
    }

    fn remove_user<'a>(
        &'a self,
        name: &'a str,
        keep_data: bool,
    ) -> BoxFuture<'a, Result<Removal, ProvisionError>> {
        Box::pin(self.remove(name, keep_data))
    }

    fn reserved_names(&self) -> Vec<Reserved> {
        let cfg = &self.tb.cfg;
        let mut out = vec![Reserved::new(
            "email",
            &cfg.sysadmin_email,
            "the ThingsBoard sysadmin (TB_SYSADMIN_EMAIL)",
        )];
        if !cfg.tenant_admin_email.is_empty() {
            out.push(Reserved::new(
                "email",
                &cfg.tenant_admin_email,
                "the ThingsBoard tenant admin (TB_TENANT_ADMIN_EMAIL)",
            ));
        }
        out
    }

    /// A customer titled with the name (titles are unique per tenant, byte for byte:
    /// thingsboard/thingsboard v4.2 dao/src/main/resources/sql/schema-entities.sql
    /// `customer_title_unq_key`) and a user with the row's email; emails are compared
    /// ignoring case (refusing more than ThingsBoard would is the safe side).
    fn claims(&self, name: &str, email: Option<&str>) -> Vec<Claim> {
        let mut out = vec![Claim::new("customer", name, NameRule::Exact)];
        if let Some(email) = email.map(str::trim).filter(|e| !e.is_empty()) {
            out.push(Claim::new("email", email, NameRule::IgnoreCase));
        }
        out
    }

    /// The tenant's customers (none while the tenant does not exist). Another customer's
    /// or an admin's email is refused by ThingsBoard itself when a user is created.
    fn existing_objects(&self) -> BoxFuture<'_, Result<Vec<Existing>, ProvisionError>> {
        Box::pin(async move {
            let Some(t) = self.read_token().await? else {
                return Ok(Vec::new());
            };
            Ok(self
                .tb
                .client
                .list_customers(&t)
                .await?
                .into_iter()
                .map(|e| Existing::new("customer", e.name))
                .collect())
        })
    }
}
