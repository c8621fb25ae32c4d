//! The install plan: inputs checked first, then each flow in the caller's order.

use std::time::Duration;

use catalog::Service;
use docker::Engine;
use lifecycle::Lifecycle;
use password_store::PasswordStore;

use crate::InstallError;

/// How long the ThingsBoard install waits for PostgreSQL to be healthy and reachable.
const POSTGRES_TIMEOUT: Duration = Duration::from_secs(120);
/// How often the GitLab install polls its readiness while waiting.
const GITLAB_POLL: Duration = Duration::from_secs(10);

/// The caller's options (`service install` flags).
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// `--force`: re-run the ThingsBoard installer on an installed schema (the caller has
    /// confirmed).
    pub force: bool,
    /// `--wait`: wait for GitLab's readiness up to `timeout` (else check once).
    pub wait: bool,
    /// `--timeout`: ThingsBoard's API wait and GitLab's readiness wait.
    pub timeout: Duration,
}

/// What one flow did.
#[derive(Debug, Clone)]
pub enum Report {
    ThingsBoard(services_thingsboard::InstallReport),
    GitLab(services_gitlab::InstallReport),
}

/// A step of the run, for the caller to show.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A service's flow begins.
    Installing(Service),
    /// A progress line of the running flow.
    Line(&'a str),
    /// A service's flow completed.
    Installed(&'a Report),
}

/// `service install` for the services of the selector, in its order.
#[derive(Debug, Clone)]
pub struct Plan {
    services: Vec<Service>,
    opts: Options,
}

impl Plan {
    /// The plan, with GitLab's inputs (the OAuth applications file, the root password)
    /// checked when GitLab is selected: call it before contacting the engine. Services
    /// without an install flow are skipped.
    ///
    /// # Errors
    /// [`InstallError::GitLab`] naming the file, line and key (a usage error).
    pub fn new(
        settings: &config::Settings,
        services: Vec<Service>,
        opts: Options,
    ) -> Result<Self, InstallError> {
        if services.contains(&Service::GitLab) {
            services_gitlab::check_install_inputs(settings).map_err(InstallError::GitLab)?;
        }
        Ok(Self { services, opts })
    }

    /// Runs each flow in order; `sink` sees each step and each report as it completes.
    ///
    /// # Errors
    /// The first flow's error; the flows before it stay done.
    pub async fn run<E: Engine>(
        &self,
        settings: &config::Settings,
        lc: &Lifecycle<'_, E>,
        secrets: &PasswordStore,
        sink: &(dyn Fn(Event<'_>) + Send + Sync),
    ) -> Result<Vec<Report>, InstallError> {
        let progress = |m: &str| sink(Event::Line(m));
        let mut reports = Vec::new();
        for &service in &self.services {
            let report = match service {
                Service::ThingsBoard => {
                    sink(Event::Installing(service));
                    self.thingsboard(settings, lc, secrets, &progress).await?
                }
                Service::GitLab => {
                    sink(Event::Installing(service));
                    self.gitlab(settings, lc, secrets, &progress).await?
                }
                _ => continue,
            };
            sink(Event::Installed(&report));
            reports.push(report);
        }
        Ok(reports)
    }

    async fn thingsboard<E: Engine>(
        &self,
        settings: &config::Settings,
        lc: &Lifecycle<'_, E>,
        secrets: &PasswordStore,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Report, InstallError> {
        let tb = services_thingsboard::ThingsBoard::from_settings(settings, secrets.clone())
            .map_err(InstallError::ThingsBoard)?;
        let pg = services_postgres::target_from_settings(settings)
            .map_err(InstallError::Postgres)?
            .database(settings.postgres_db());
        let opts = services_thingsboard::InstallOptions {
            force: self.opts.force,
            postgres_timeout: POSTGRES_TIMEOUT,
            install_timeout: settings.seconds("THINGSBOARD_INSTALL_TIMEOUT"),
            api_timeout: self.opts.timeout,
        };
        services_thingsboard::install(lc, &pg, &tb, &opts, progress)
            .await
            .map(Report::ThingsBoard)
            .map_err(InstallError::ThingsBoardFailed)
    }

    async fn gitlab<E: Engine>(
        &self,
        settings: &config::Settings,
        lc: &Lifecycle<'_, E>,
        secrets: &PasswordStore,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Report, InstallError> {
        let gl = services_gitlab::GitLab::from_settings(settings, secrets.clone())
            .map_err(InstallError::GitLab)?;
        let opts = services_gitlab::InstallOptions {
            wait: self.opts.wait.then_some(self.opts.timeout),
            poll: GITLAB_POLL,
        };
        services_gitlab::install(lc, &gl, &opts, progress)
            .await
            .map(Report::GitLab)
            .map_err(InstallError::gitlab)
    }
}
