//! The checks, in the order they are reported. This file runs them and checks the engine
//! and the state database; `checks/services.rs` the compose project (files, template age,
//! root users, where state is kept), `checks/host.rs` the host (published ports, HOSTNAME,
//! free disk), `checks/secrets.rs` certificates, secret file modes and weak secrets.

use std::path::PathBuf;
use std::time::Duration;

use docker::Engine;
use store::{Store, StoreLocation};

use crate::{DoctorReport, Level};

mod host;
mod secrets;
mod services;

use host::{check_disk, check_hostname, check_ports};
use secrets::{check_certs, check_modes, check_passwords};
use services::{check_compose, check_root_users, check_state, check_template_age};

/// What `doctor` checks.
#[derive(Debug)]
pub struct DoctorOptions<'a> {
    pub settings: &'a config::Settings,
    /// The compose files, in load order.
    pub compose_files: Vec<PathBuf>,
    /// Where the state database is.
    pub store: StoreLocation,
    /// Warn when less than this share of the disk under `data/` is free (percent).
    pub min_free_percent: u64,
    /// Warn when less than this many bytes are free under `data/`.
    pub min_free_bytes: u64,
}

impl<'a> DoctorOptions<'a> {
    /// The defaults: warn under 10 % or 1 GiB free.
    #[must_use]
    pub fn new(
        settings: &'a config::Settings,
        compose_files: Vec<PathBuf>,
        store: StoreLocation,
    ) -> DoctorOptions<'a> {
        DoctorOptions {
            settings,
            compose_files,
            store,
            min_free_percent: 10,
            min_free_bytes: 1 << 30,
        }
    }
}

/// Shorter than this, a secret is weak.
const MIN_SECRET_LEN: usize = 8;
/// How long the HOSTNAME lookup may take.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// Run every check. `engine` is the connected engine, or why it could not be reached.
pub async fn diagnose<E: Engine>(
    engine: Result<&E, String>,
    opts: &DoctorOptions<'_>,
) -> DoctorReport {
    let mut r = DoctorReport::default();
    let s = opts.settings;
    let dir = s.project_dir().to_owned();

    let engine = check_engine(&mut r, engine).await;

    // The compose files, and whether they predate the current templates.
    let project = check_compose(&mut r, opts, &dir);
    check_template_age(&mut r, opts);

    // Published ports; where the services keep their state.
    if let Some(project) = &project {
        check_ports(&mut r, project, engine).await;
        check_state(&mut r, project);
        check_root_users(&mut r, project);
    }

    let host = s.hostname().to_owned();
    check_hostname(&mut r, &host).await;
    check_certs(&mut r, &dir, s, &host);
    check_modes(&mut r, &dir);
    check_passwords(&mut r, s);
    check_disk(&mut r, opts, &dir);

    check_state_db(&mut r, &opts.store).await;
    r
}

/// The engine answers (its version and API version), or why not.
async fn check_engine<'e, E: Engine>(
    r: &mut DoctorReport,
    engine: Result<&'e E, String>,
) -> Option<&'e E> {
    match engine {
        Ok(e) => match e.version().await {
            Ok(v) => {
                r.push(
                    "engine",
                    Level::Ok,
                    format!(
                        "Docker {} (API {}) answers at {}",
                        v.version,
                        v.api_version,
                        e.host()
                    ),
                    None,
                );
                Some(e)
            }
            Err(err) => {
                r.push("engine", Level::Error, err.to_string(), Some(engine_hint()));
                None
            }
        },
        Err(reason) => {
            r.push("engine", Level::Error, reason, Some(engine_hint()));
            None
        }
    }
}

fn engine_hint() -> String {
    "start the Docker engine (systemctl start docker), or point DOCKER_HOST at it".to_owned()
}

/// The state database opens, and its migrations.
async fn check_state_db(r: &mut DoctorReport, store: &StoreLocation) {
    match Store::status(store).await {
        Ok(st) if !st.unknown_applied.is_empty() => r.push(
            "state_db",
            Level::Error,
            format!(
                "state database {} was migrated by a newer dtaas-services",
                st.location
            ),
            Some("use the newer dtaas-services binary".to_owned()),
        ),
        Ok(st) if !st.exists => r.push(
            "state_db",
            Level::Ok,
            format!(
                "state database {} is not created yet (the first command that needs it creates it)",
                st.location
            ),
            None,
        ),
        Ok(st) => r.push(
            "state_db",
            if st.pending.is_empty() {
                Level::Ok
            } else {
                Level::Warning
            },
            format!(
                "state database {} opens; {} migrations applied, {} pending",
                st.location,
                st.applied.len(),
                st.pending.len()
            ),
            (!st.pending.is_empty()).then(|| "run `dtaas-services db migrate`".to_owned()),
        ),
        Err(e) => r.push(
            "state_db",
            Level::Error,
            format!("the state database does not open: {e}"),
            Some("check DATABASE_URL, or move a corrupt .dtaas/state.db aside".to_owned()),
        ),
    }
}

#[cfg(test)]
mod tests;
