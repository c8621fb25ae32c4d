//! compose: a Docker Compose v2 engine on the Docker Engine API, for the subset of the
//! compose file format the DTaaS project files use.
//!
//! It reads `compose.services.yml` (+ `compose.thingsboard.yml`, `compose.gitlab.yml`),
//! interpolates `${VAR}` forms from a variable map given by the caller, rejects what it
//! does not support naming the key and the file, and plans/applies: `up` (dependency order,
//! parallel levels, `depends_on` conditions, `--wait`), `stop`, `restart`, `rm`, `ps`, a
//! one-off `run` and `exec`. Containers carry the labels Docker Compose v2 writes, so
//! `docker compose ps/logs/down` work on them and containers made by `docker compose up`
//! are adopted (see docs/adr/0004-compose-engine.md).
//!
//! It knows nothing of DTaaS services (beyond names in files), settings or printing.

mod engine;
mod error;
mod interpolate;
mod labels;
mod load;
mod model;
mod progress;

/// The compose project name of a host name: the one rule, kept by `config` (which the
/// settings use too), re-exported for the callers that build [`ProjectFiles`].
pub use config::project_name_from_hostname;
pub use engine::{
    Action, Compose, RunOptions, RunOutput, ServiceContainer, ServiceOutcome, UpOptions, UpOutcome,
    UpReport, config_hash,
};
pub use error::ComposeError;
pub use labels::service_containers;
pub use load::load_project;
pub use model::{
    Condition, Dependency, Healthcheck, Mount, NetworkDef, Project, ProjectFiles, ServiceDef,
    VolumeDef,
};
pub use progress::{Progress, ProgressSink};

/// The compose files of a DTaaS project that exist in `dir`, in load order:
/// `compose.services.yml`, then `compose.thingsboard.yml` and `compose.gitlab.yml`.
#[must_use]
pub fn default_compose_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    [
        "compose.services.yml",
        "compose.thingsboard.yml",
        "compose.gitlab.yml",
    ]
    .iter()
    .map(|f| dir.join(f))
    .filter(|p| p.exists())
    .collect()
}
