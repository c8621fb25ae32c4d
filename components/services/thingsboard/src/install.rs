//! `service install -s thingsboard`, safe to run again (an installed schema is kept unless `force`):
//! PostgreSQL started and healthy; the schema probed over SQL; the installer run as a
//! one-off container with a timeout that kills that container only; the sysadmin email set
//! with a parameterised statement; the factory sysadmin password replaced over SQL by the
//! BCrypt hash of the final one *before* ThingsBoard first serves (so its API is never open
//! with sysadmin/sysadmin); ThingsBoard started and waited for; the final sysadmin password
//! checked (or set through the API where SQL could not); the tenant and its admin created
//! with their final passwords.

use std::time::{Duration, Instant};

use catalog::Service;
use compose::{Compose, RunOptions};
use docker::Engine;
use lifecycle::{Lifecycle, Selection, StartOptions};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use services_common::Outcome;
use store::pg_admin::{self, PgTarget};

use crate::ThingsBoardError;
use crate::admin::{PasswordChange, ThingsBoard};
use crate::config::{DEFAULT_SYSADMIN_EMAIL, DEFAULT_SYSADMIN_PASSWORD};

/// The table whose presence means the ThingsBoard schema is installed.
pub const SCHEMA_PROBE_TABLE: &str = "admin_settings";
const POLL: Duration = Duration::from_secs(2);
/// The BCrypt cost ThingsBoard's own `BCryptPasswordEncoder` uses.
const BCRYPT_COST: u32 = 10;

/// Options of [`install`].
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// Re-run the installer on an installed schema (the caller has confirmed).
    pub force: bool,
    /// How long to wait for PostgreSQL to be healthy and reachable.
    pub postgres_timeout: Duration,
    /// How long the installer may run (`THINGSBOARD_INSTALL_TIMEOUT`).
    pub install_timeout: Duration,
    /// How long to wait for the ThingsBoard API after start.
    pub api_timeout: Duration,
}

/// What the schema step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchemaAction {
    Installed,
    AlreadyInstalled,
    Reinstalled,
}

/// What [`install`] did.
#[derive(Debug, Clone, Serialize)]
pub struct InstallReport {
    pub schema: SchemaAction,
    /// Rows changed by the sysadmin email update (`None`: the default email, nothing to do).
    pub sysadmin_email_rows: Option<u64>,
    pub sysadmin_password: PasswordChange,
    pub tenant: Outcome,
    pub tenant_admin: Outcome,
}

/// How a one-off installer run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallerRun {
    pub container: String,
    pub output_tail: String,
}

fn tail(out: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(out);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Run the ThingsBoard installer as a one-off container of `thingsboard-ce` with
/// `INSTALL_TB=true`, `LOAD_DEMO=false` as root; at `timeout` that one-off container is
/// killed and removed (never the service's own container).
///
/// # Errors
/// [`ThingsBoardError::InstallTimeout`], [`ThingsBoardError::InstallFailed`] (non-zero exit,
/// with the end of its output), or compose/engine errors.
pub async fn run_installer<E: Engine>(
    compose: &Compose<'_, E>,
    timeout: Duration,
) -> Result<InstallerRun, ThingsBoardError> {
    let opts = RunOptions {
        env: vec![
            ("INSTALL_TB".into(), "true".into()),
            ("LOAD_DEMO".into(), "false".into()),
        ],
        user: Some("root".into()),
        command: None,
        timeout: Some(timeout),
    };
    let out = compose
        .run(Service::ThingsBoard.compose_name(), &opts)
        .await?;
    let mut both = out.stdout.clone();
    both.extend_from_slice(&out.stderr);
    let output_tail = tail(&both, 20);
    if out.timed_out {
        return Err(ThingsBoardError::InstallTimeout {
            container: out.container,
            seconds: timeout.as_secs(),
        });
    }
    match out.exit_code {
        Some(0) => Ok(InstallerRun {
            container: out.container,
            output_tail,
        }),
        code => Err(ThingsBoardError::InstallFailed {
            container: out.container,
            code: code.unwrap_or(-1),
            tail: if output_tail.is_empty() {
                String::new()
            } else {
                format!("; its last output:\n{output_tail}")
            },
        }),
    }
}

fn pg_err(target: &PgTarget, e: &store::StoreError) -> ThingsBoardError {
    ThingsBoardError::Postgres {
        target: target.describe(),
        detail: e.to_string(),
    }
}

/// Whether the ThingsBoard schema is installed in the database of `target` (the
/// `admin_settings` table exists), retrying the connection until `timeout`.
///
/// # Errors
/// [`ThingsBoardError::Postgres`] when PostgreSQL cannot be reached within `timeout`.
pub async fn schema_installed(
    target: &PgTarget,
    timeout: Duration,
) -> Result<bool, ThingsBoardError> {
    let deadline = Instant::now() + timeout;
    loop {
        match pg_admin::table_exists(target, SCHEMA_PROBE_TABLE).await {
            Ok(b) => return Ok(b),
            Err(e @ store::StoreError::Unreachable { .. }) if Instant::now() < deadline => {
                tracing::debug!(error = %e, "PostgreSQL not reachable yet");
                tokio::time::sleep(POLL).await;
            }
            Err(e) => return Err(pg_err(target, &e)),
        }
    }
}

/// Replace the factory password of every `SYS_ADMIN` account whose BCrypt hash still
/// matches `sysadmin` by the hash of `fin` (`$2a$`, cost 10, as ThingsBoard writes them),
/// over SQL with a compare-and-set, while ThingsBoard is not serving yet. Returns how many
/// accounts changed. A password BCrypt cannot hold whole (over 72 bytes) is left to the API
/// step (0).
///
/// # Errors
/// [`ThingsBoardError::Postgres`] when the database cannot be read or written.
pub async fn secure_default_sysadmin(
    pg: &PgTarget,
    fin: &SecretString,
) -> Result<u64, ThingsBoardError> {
    let accounts = pg_admin::thingsboard_sysadmin_hashes(pg)
        .await
        .map_err(|e| pg_err(pg, &e))?;
    let fin = fin.clone();
    let plan = tokio::task::spawn_blocking(move || -> Option<Vec<(String, String, String)>> {
        let defaults: Vec<(String, String)> = accounts
            .into_iter()
            .filter_map(|(id, hash)| {
                let hash = hash?;
                bcrypt::verify(DEFAULT_SYSADMIN_PASSWORD, &hash)
                    .unwrap_or(false)
                    .then_some((id, hash))
            })
            .collect();
        if defaults.is_empty() {
            return Some(Vec::new());
        }
        let new = bcrypt::non_truncating_hash_with_result(fin.expose_secret(), BCRYPT_COST)
            .ok()?
            .format_for_version(bcrypt::Version::TwoA);
        Some(
            defaults
                .into_iter()
                .map(|(id, old)| (id, old, new.clone()))
                .collect(),
        )
    })
    .await
    .map_err(|e| ThingsBoardError::Config(format!("hashing the sysadmin password: {e}")))?;
    let Some(plan) = plan else {
        tracing::debug!("the final sysadmin password is too long for BCrypt; the API sets it");
        return Ok(0);
    };
    let mut changed = 0;
    for (id, old, new) in &plan {
        changed += pg_admin::replace_thingsboard_password_hash(pg, id, Some(old), new)
            .await
            .map_err(|e| pg_err(pg, &e))?;
    }
    Ok(changed)
}

/// Wait until the ThingsBoard API answers.
///
/// # Errors
/// [`ThingsBoardError::NotReady`] after `timeout`.
pub async fn wait_api(tb: &ThingsBoard, timeout: Duration) -> Result<(), ThingsBoardError> {
    let deadline = Instant::now() + timeout;
    loop {
        if tb.client.answers().await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(ThingsBoardError::NotReady {
                url: tb.client.base_url().to_owned(),
                seconds: timeout.as_secs(),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// After the schema: start ThingsBoard (not waiting for its healthcheck), wait for its API,
/// set the final sysadmin password, ensure the tenant and its admin.
///
/// # Errors
/// As the steps.
pub async fn configure(
    tb: &ThingsBoard,
    api_timeout: Duration,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(PasswordChange, Outcome, Outcome), ThingsBoardError> {
    progress("Waiting for the ThingsBoard API...");
    wait_api(tb, api_timeout).await?;
    let (sys, pw) = tb.ensure_sysadmin_password().await?;
    progress(match pw {
        PasswordChange::Changed => "Sysadmin password set to TB_SYSADMIN_NEW_PASSWORD",
        PasswordChange::AlreadySet => "Sysadmin password already set",
    });
    let setup = tb.ensure_tenant(&sys).await?;
    Ok((pw, setup.tenant, setup.tenant_admin))
}

/// The installer run unless the schema is there (or always with `force`), with
/// ThingsBoard stopped meanwhile.
async fn ensure_schema<E: Engine>(
    lc: &Lifecycle<'_, E>,
    opts: &InstallOptions,
    installed: bool,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<SchemaAction, ThingsBoardError> {
    Ok(match (installed, opts.force) {
        (true, false) => {
            progress(
                "ThingsBoard schema already installed (admin_settings exists); skipping the installer",
            );
            SchemaAction::AlreadyInstalled
        }
        (was, _) => {
            // Never next to a running ThingsBoard: on a re-install (--force) it would serve
            // the schema being replaced, and without a schema it is only crash-looping.
            let stopped = lc
                .stop(&Selection::Only(vec![Service::ThingsBoard]), None)
                .await?
                .stopped;
            if !stopped.is_empty() {
                progress(&format!(
                    "Stopped {} while its schema is installed",
                    stopped.join(", ")
                ));
            }
            progress(&format!(
                "Running the ThingsBoard installer (time limit {} s)...",
                opts.install_timeout.as_secs()
            ));
            run_installer(lc.compose(), opts.install_timeout).await?;
            if was {
                SchemaAction::Reinstalled
            } else {
                SchemaAction::Installed
            }
        }
    })
}

/// The sysadmin's email set over SQL when it is not ThingsBoard's default: the rows changed.
async fn set_sysadmin_email(
    pg: &PgTarget,
    tb: &ThingsBoard,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Option<u64>, ThingsBoardError> {
    let email = tb.config().sysadmin_email.clone();
    Ok(if email.eq_ignore_ascii_case(DEFAULT_SYSADMIN_EMAIL) {
        None
    } else {
        let n = pg_admin::set_thingsboard_sysadmin_email(pg, &email)
            .await
            .map_err(|e| pg_err(pg, &e))?;
        progress(&format!("Sysadmin email set to {email}"));
        Some(n)
    })
}

/// The whole install flow. `pg` is the admin login to ThingsBoard's database
/// (`HOSTNAME:POSTGRES_PORT`, `POSTGRES_DB`); `progress` receives one line per step.
///
/// # Errors
/// The first failing step.
pub async fn install<E: Engine>(
    lc: &Lifecycle<'_, E>,
    pg: &PgTarget,
    tb: &ThingsBoard,
    opts: &InstallOptions,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<InstallReport, ThingsBoardError> {
    // Every final setting first: failing after a minutes-long installer would leave the
    // factory password in the new schema.
    let fin = tb.config().final_sysadmin_password()?.clone();
    tb.config().final_tenant_admin_password()?;
    tb.config().tenant_admin_email()?;
    progress("Ensuring postgres is running and healthy...");
    lc.start(
        &Selection::Only(vec![Service::Postgres]),
        &StartOptions {
            wait: true,
            timeout: Some(opts.postgres_timeout),
            ..StartOptions::default()
        },
    )
    .await?;
    let installed = schema_installed(pg, opts.postgres_timeout).await?;
    let schema = ensure_schema(lc, opts, installed, progress).await?;
    let sysadmin_email_rows = set_sysadmin_email(pg, tb, progress).await?;
    let secured = secure_default_sysadmin(pg, &fin).await? > 0;
    if secured {
        tb.remember_sysadmin_password(&fin).await?;
        progress("Sysadmin password set to TB_SYSADMIN_NEW_PASSWORD before the first start");
    }
    progress("Starting ThingsBoard...");
    lc.start(
        &Selection::Only(vec![Service::ThingsBoard]),
        &StartOptions {
            wait: false,
            timeout: Some(opts.api_timeout),
            ..StartOptions::default()
        },
    )
    .await?;
    let (api_password, tenant, tenant_admin) = configure(tb, opts.api_timeout, progress).await?;
    let sysadmin_password = if secured {
        PasswordChange::Changed
    } else {
        api_password
    };
    Ok(InstallReport {
        schema,
        sysadmin_email_rows,
        sysadmin_password,
        tenant,
        tenant_admin,
    })
}
