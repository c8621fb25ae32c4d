//! One module per noun; each handler resolves what it needs, calls one component function
//! and prints the result through the printer. What several nouns share is here.

use std::collections::BTreeMap;

use compose::ProjectFiles;
use docker::BollardEngine;

use crate::context::Ctx;
use crate::exit::CliError;

pub(crate) mod certs;
pub(crate) mod config;
pub(crate) mod data;
pub(crate) mod db;
pub(crate) mod doctor;
pub(crate) mod history;
pub(crate) mod host;
pub(crate) mod journal;
pub(crate) mod lock;
pub(crate) mod mode;
pub(crate) mod project;
pub(crate) mod secrets;
pub(crate) mod service;
pub(crate) mod shell;
pub(crate) mod status;
pub(crate) mod swarm;
pub(crate) mod user;

/// The project's compose files, interpolation variables and a connected engine.
pub(crate) async fn prepare(
    ctx: &Ctx,
) -> anyhow::Result<(BollardEngine, ProjectFiles, BTreeMap<String, String>)> {
    let settings = ctx.settings()?;
    prepare_with(&settings).await
}

/// [`prepare`] for settings the handler already resolved (so they load, and warn, once).
pub(crate) async fn prepare_with(
    settings: &::config::Settings,
) -> anyhow::Result<(BollardEngine, ProjectFiles, BTreeMap<String, String>)> {
    let dir = settings.project_dir().to_owned();
    let files = compose::default_compose_files(&dir);
    if files.is_empty() {
        return Err(CliError::Usage(format!(
            "Docker Compose file not found: {}",
            dir.join("compose.services.yml").display()
        ))
        .into());
    }
    let project = ProjectFiles {
        name: settings.project_name(),
        working_dir: dir,
        files,
    };
    let host = std::env::var("DOCKER_HOST").ok();
    let engine = BollardEngine::connect(host.as_deref()).await?;
    Ok((engine, project, settings.interpolation_vars()))
}

/// The certs component's options from the resolved settings.
pub(crate) fn certs_options(
    settings: &::config::Settings,
    skip_chown: bool,
    dry_run: bool,
) -> ::certs::CertsOptions {
    let owner = |uid: &str, gid: &str| ::certs::Owner::new(settings.id(uid), settings.id(gid));
    ::certs::CertsOptions {
        project_dir: settings.project_dir().to_owned(),
        certs_src: settings.certs_src(),
        hostname: settings.hostname().to_owned(),
        owners: ::certs::Owners {
            grafana: owner("USERID", "GROUPID"),
            mongo: owner("MONGO_UID", "MONGO_GID"),
            influx: owner("INFLUX_UID", "INFLUX_GID"),
            rabbit: ::certs::Owner::uid_only(settings.id("RABBIT_UID")),
            postgres: owner("POSTGRES_UID", "POSTGRES_GID"),
            thingsboard: owner("THINGSBOARD_UID", "THINGSBOARD_GID"),
        },
        skip_chown,
        dry_run,
    }
}
