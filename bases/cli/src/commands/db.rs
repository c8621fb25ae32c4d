//! `db status|migrate`: thin handlers over the store component, plus the helpers every
//! command uses to open the state database and the password store.

use password_store::{KeySource, PasswordStore};
use secrecy::SecretString;
use serde::Serialize;
use store::{DbStatus, JournalEntry, Outcome, Store, StoreLocation};

use crate::context::Ctx;
use crate::exit::Exit;

/// PostgreSQL when DATABASE_URL (or DTAAS_DATABASE_URL) is set, else
/// `<project>/.dtaas/state.db`.
pub(crate) fn store_location(settings: &config::Settings) -> StoreLocation {
    StoreLocation::for_project(settings.project_dir(), settings.secret("DATABASE_URL"))
}

/// DTAAS_STORE_KEY when set, else the key file `<project>/.dtaas/store.key`.
pub(crate) fn key_source(settings: &config::Settings) -> KeySource {
    KeySource::for_project(
        settings.project_dir(),
        std::env::var("DTAAS_STORE_KEY")
            .ok()
            .map(SecretString::from),
    )
}

/// Open (and migrate) the project's state database.
pub(crate) async fn open_store(ctx: &Ctx) -> anyhow::Result<Store> {
    let settings = ctx.settings()?;
    Ok(Store::open(&store_location(&settings)).await?)
}

/// The project's state database when it exists: `None` for a SQLite file not created yet
/// (a shared PostgreSQL database always exists).
pub(crate) async fn open_existing_store(
    settings: &config::Settings,
) -> anyhow::Result<Option<Store>> {
    let location = store_location(settings);
    if matches!(&location, StoreLocation::Sqlite(p) if !p.exists()) {
        return Ok(None);
    }
    Ok(Some(Store::open(&location).await?))
}

/// After `services`' data was deleted: forget the secrets and account records held in it
/// (a project without a state database has nothing to forget and gets none created).
pub(crate) async fn forget_deleted_state(
    ctx: &Ctx,
    services: &[catalog::Service],
) -> anyhow::Result<password_store::Forgotten> {
    if services.is_empty() {
        return Ok(password_store::Forgotten::default());
    }
    // The command loaded the settings (and showed their warnings) already.
    let Some(store) = open_existing_store(&ctx.settings_quiet()?).await? else {
        return Ok(password_store::Forgotten::default());
    };
    let forgotten = password_store::forget_data_of(&store, services).await?;
    store.close().await;
    if !forgotten.is_empty() {
        ctx.out.success(format!(
            "Forgot what the deleted data held: {} account record(s){}{}",
            forgotten.accounts,
            if forgotten.secrets.is_empty() {
                ""
            } else {
                ", "
            },
            forgotten.secrets.join(", ")
        ));
    }
    Ok(forgotten)
}

/// Open the password store, importing the legacy secret files of `config/` the first time.
pub(crate) async fn open_password_store(ctx: &Ctx) -> anyhow::Result<PasswordStore> {
    let settings = ctx.settings()?;
    password_store_for(ctx, &settings).await
}

/// [`open_password_store`] for already resolved settings.
pub(crate) async fn password_store_for(
    ctx: &Ctx,
    settings: &config::Settings,
) -> anyhow::Result<PasswordStore> {
    let store = Store::open(&store_location(settings)).await?;
    let ps = PasswordStore::open(store, &key_source(settings)).await?;
    let report = ps
        .import_legacy(&settings.project_dir().join("config"))
        .await?;
    if !report.imported.is_empty() || !report.kept.is_empty() {
        let files: Vec<String> = report
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        ctx.out.success(format!(
            "Imported {} secret(s) from {} into the password store (one-time; the files are left in place)",
            report.imported.len(),
            files.join(", ")
        ));
    }
    Ok(ps)
}

#[derive(Serialize)]
struct StatusJson<'a> {
    backend: String,
    location: &'a str,
    exists: bool,
    schema_version: Option<i64>,
    binary_version: Option<i64>,
    applied: &'a [i64],
    pending: &'a [i64],
    unknown_applied: &'a [i64],
}

fn status_json(s: &DbStatus) -> StatusJson<'_> {
    StatusJson {
        backend: s.backend.to_string(),
        location: &s.location,
        exists: s.exists,
        schema_version: s.applied.iter().copied().max(),
        binary_version: s.known.iter().copied().max(),
        applied: &s.applied,
        pending: &s.pending,
        unknown_applied: &s.unknown_applied,
    }
}

/// `db status [--json]`: exit 1 when the schema is newer than this binary.
pub(crate) async fn status(ctx: &Ctx) -> anyhow::Result<Exit> {
    let settings = ctx.settings()?;
    let s = Store::status(&store_location(&settings)).await?;
    let j = status_json(&s);
    if ctx.out.is_json() {
        ctx.out.json(&j)?;
    } else {
        ctx.out.heading(format!("State database ({})", j.backend));
        ctx.out.line(format!("  location:       {}", s.location));
        if !s.exists {
            ctx.out
                .line("  not created yet (the first command that needs it creates it)");
        }
        let version = |v: Option<i64>| v.map_or_else(|| "none".to_owned(), |v| v.to_string());
        ctx.out
            .line(format!("  schema version: {}", version(j.schema_version)));
        ctx.out
            .line(format!("  this binary:    {}", version(j.binary_version)));
        if !s.pending.is_empty() && s.exists {
            ctx.out.line(format!(
                "  pending:        {:?} (run `dtaas-services db migrate`)",
                s.pending
            ));
        }
    }
    if s.unknown_applied.is_empty() {
        Ok(Exit::Success)
    } else {
        ctx.out.failure(format!(
            "the database was migrated by a newer dtaas-services (versions {:?}); upgrade dtaas-services",
            s.unknown_applied
        ));
        Ok(Exit::Failed)
    }
}

/// `db migrate`: apply pending migrations (creating the SQLite file if needed).
pub(crate) async fn migrate(ctx: &Ctx) -> anyhow::Result<Exit> {
    let settings = ctx.settings()?;
    let location = store_location(&settings);
    let before = Store::status(&location).await?;
    let store = Store::open(&location).await?;
    let after = Store::status(&location).await?;
    let applied: Vec<i64> = after
        .applied
        .iter()
        .copied()
        .filter(|v| !before.applied.contains(v))
        .collect();
    if !applied.is_empty() {
        store
            .record(
                &JournalEntry::new("db migrate", Outcome::Ok)
                    .detail(format!("applied migrations {applied:?}")),
            )
            .await?;
    }
    store.close().await;
    if ctx.out.is_json() {
        #[derive(Serialize)]
        struct MigrateJson<'a> {
            applied_now: &'a [i64],
            #[serde(flatten)]
            status: StatusJson<'a>,
        }
        ctx.out.json(&MigrateJson {
            applied_now: &applied,
            status: status_json(&after),
        })?;
    } else if applied.is_empty() {
        ctx.out.success(format!(
            "The state database {} is up to date (schema version {})",
            after.location,
            after.applied.iter().max().copied().unwrap_or(0)
        ));
    } else {
        ctx.out.success(format!(
            "Applied {} migration(s) {:?} to {}",
            applied.len(),
            applied,
            after.location
        ));
    }
    Ok(Exit::Success)
}
