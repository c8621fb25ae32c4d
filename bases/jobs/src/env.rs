//! What every job run gets: the project's settings, its state database, who this runner is,
//! and the job options read (and validated) from the settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lifecycle::Selection;
use password_store::KeySource;
use secrecy::SecretString;
use store::{Store, StoreLocation};

/// A configuration or bootstrap problem: the process exits 2.
#[derive(Debug)]
pub(crate) struct ConfigProblem(pub(crate) String);

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigProblem {}

fn problem(msg: impl Into<String>) -> anyhow::Error {
    ConfigProblem(msg.into()).into()
}

/// Options of the jobs, from `JOBS_*` settings.
#[derive(Debug, Clone)]
pub(crate) struct JobOptions {
    /// Which services service-health watches.
    pub(crate) services: Selection,
    pub(crate) restart_budget: u32,
    pub(crate) restart_window: Duration,
    pub(crate) certs_warn_days: i64,
    pub(crate) certs_fail_days: i64,
    pub(crate) certs_refresh: bool,
    pub(crate) history_keep: u32,
    pub(crate) timeout: Duration,
}

impl JobOptions {
    pub(crate) fn from_settings(s: &config::Settings) -> anyhow::Result<JobOptions> {
        let services = match s.get("JOBS_SERVICES").map(str::trim) {
            None | Some("") => Selection::All,
            Some(raw) => {
                Selection::parse(Some(raw)).map_err(|e| problem(format!("JOBS_SERVICES: {e}")))?
            }
        };
        let warn = i64::from(s.id("JOBS_CERTS_WARN_DAYS"));
        let fail = i64::from(s.id("JOBS_CERTS_FAIL_DAYS"));
        if fail > warn {
            return Err(problem(format!(
                "JOBS_CERTS_FAIL_DAYS ({fail}) must not be above JOBS_CERTS_WARN_DAYS ({warn})"
            )));
        }
        let certs_refresh = s.flag("JOBS_CERTS_REFRESH");
        Ok(JobOptions {
            services,
            restart_budget: s.id("JOBS_RESTART_BUDGET"),
            restart_window: s.seconds("JOBS_RESTART_WINDOW"),
            certs_warn_days: warn,
            certs_fail_days: fail,
            certs_refresh,
            history_keep: s.id("JOBS_HISTORY_KEEP").max(1),
            timeout: s.seconds("JOBS_TIMEOUT"),
        })
    }
}

/// The per-process context of the jobs.
#[derive(Debug, Clone)]
pub(crate) struct Env {
    pub(crate) settings: config::Settings,
    pub(crate) store: Store,
    /// This runner, as lease holder: `<hostname>:<pid>`.
    pub(crate) holder: String,
    pub(crate) options: JobOptions,
    /// `DOCKER_HOST`, if set.
    pub(crate) docker_host: Option<String>,
    /// `DTAAS_STORE_KEY`, if set (else the project's key file).
    store_key: Option<SecretString>,
}

/// `<hostname>:<pid>`: who holds a lease.
pub(crate) fn holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned());
    format!("{host}:{}", std::process::id())
}

/// The project directory: `--project-dir` / `DTAAS_PROJECT_DIR`, else the nearest ancestor
/// of the current directory holding `config/services.env`.
pub(crate) fn project_dir(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir().ok();
    project::locate_project(flag, cwd.as_deref())
        .map_err(|e| problem(format!("{e}; pass --project-dir or set DTAAS_PROJECT_DIR")))
}

/// Load the settings of `dir` (services.env < DTAAS_* env).
pub(crate) fn load_settings(dir: &Path) -> anyhow::Result<config::Settings> {
    let (settings, warnings) = config::load(&config::LoadOptions {
        project_dir: dir.to_owned(),
        env: config::env_layer(std::env::vars_os()),
        overrides: Vec::new(),
    })
    .map_err(|e| problem(e.to_string()))?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    Ok(settings)
}

/// PostgreSQL when DATABASE_URL is set, else `<project>/.dtaas/state.db`.
pub(crate) fn store_location(settings: &config::Settings) -> StoreLocation {
    StoreLocation::for_project(settings.project_dir(), settings.secret("DATABASE_URL"))
}

impl Env {
    /// Settings, options and the (migrated) state database of the project in `dir`.
    pub(crate) async fn open(dir: &Path) -> anyhow::Result<Env> {
        let settings = load_settings(dir)?;
        // docs/multi-host.md: no job has a swarm mode yet; never act on the local engine.
        if settings.orchestrator() == config::Orchestrator::Swarm {
            return Err(problem(
                "swarm mode is not implemented yet for dtaas-jobs (ORCHESTRATOR=swarm); \
                 nothing was done",
            ));
        }
        let options = JobOptions::from_settings(&settings)?;
        let location = store_location(&settings);
        let store = Store::open(&location).await.map_err(|e| {
            problem(format!(
                "cannot open the state database {}: {e}",
                location.describe()
            ))
        })?;
        Ok(Env {
            settings,
            store,
            holder: holder_id(),
            options,
            docker_host: std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()),
            store_key: std::env::var("DTAAS_STORE_KEY")
                .ok()
                .map(SecretString::from),
        })
    }

    /// Where the password store key comes from.
    pub(crate) fn key_source(&self) -> KeySource {
        KeySource::for_project(self.settings.project_dir(), self.store_key.clone())
    }
}
