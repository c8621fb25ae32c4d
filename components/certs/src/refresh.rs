//! `certs refresh`: re-copy and re-derive, and tell which services must restart.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use crate::error::CertsError;
use crate::options::CertsOptions;
use crate::setup::{SetupReport, host_setup_as};

/// The result of a refresh: the setup report and the compose services whose files changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefreshReport {
    pub setup: SetupReport,
    /// Compose service names (`rabbitmq`, `mongodb`, `grafana`, `influxdb`, `postgres`,
    /// `thingsboard-ce`, `gitlab`) that read a changed file.
    pub services: BTreeSet<&'static str>,
}

/// The compose services that read `certs/<name>` (empty for other paths).
pub fn services_reading(path: &Path) -> &'static [&'static str] {
    let Ok(rest) = path.strip_prefix("certs") else {
        return &[];
    };
    match rest.to_str().unwrap_or("") {
        "privkey.pem" => &["gitlab", "grafana"],
        "fullchain.pem" => &["gitlab", "grafana", "influxdb", "rabbitmq"],
        "combined.pem" => &["mongodb"],
        "privkey-influxdb.pem" => &["influxdb"],
        "privkey-rabbitmq.pem" => &["rabbitmq"],
        "postgres.key" | "postgres.crt" => &["postgres"],
        "thingsboard-privkey.pem" | "thingsboard-fullchain.pem" => &["thingsboard-ce"],
        _ => &[],
    }
}

/// `host setup` again (same options, same privilege rule), then the services to restart.
pub fn refresh(opts: &CertsOptions) -> Result<RefreshReport, CertsError> {
    refresh_as(opts, nix::unistd::geteuid().is_root())
}

/// [`refresh`] with the privilege decided by the caller (see [`crate::host_setup_as`]).
pub fn refresh_as(opts: &CertsOptions, is_root: bool) -> Result<RefreshReport, CertsError> {
    let setup = host_setup_as(opts, is_root)?;
    let services = setup
        .changed_paths()
        .into_iter()
        .flat_map(services_reading)
        .copied()
        .collect();
    Ok(RefreshReport { setup, services })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumers() {
        assert_eq!(
            services_reading(Path::new("certs/combined.pem")),
            ["mongodb"]
        );
        assert_eq!(
            services_reading(Path::new("certs/fullchain.pem")),
            ["gitlab", "grafana", "influxdb", "rabbitmq"]
        );
        assert!(services_reading(Path::new("data/thingsboard")).is_empty());
        assert!(services_reading(Path::new("certs/cert.pem")).is_empty());
    }
}
