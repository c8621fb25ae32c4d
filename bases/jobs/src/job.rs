//! The jobs this binary knows, and what one run of a job reports.

use std::fmt;

use serde::Serialize;

/// A reconcile job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub(crate) enum JobName {
    /// Restart services whose container exited or is unhealthy (within a restart budget).
    ServiceHealth,
    /// `user add` of config/credentials.csv.
    UsersSync,
    /// Warn and fail when the TLS certificate is close to expiry (optionally refresh).
    CertsExpiry,
    /// The stored admin passwords and tokens still log in.
    AdminCredentials,
    /// Bound the execution history kept in the state database.
    PruneHistory,
}

impl JobName {
    pub(crate) const ALL: [JobName; 5] = [
        JobName::ServiceHealth,
        JobName::UsersSync,
        JobName::CertsExpiry,
        JobName::AdminCredentials,
        JobName::PruneHistory,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JobName::ServiceHealth => "service-health",
            JobName::UsersSync => "users-sync",
            JobName::CertsExpiry => "certs-expiry",
            JobName::AdminCredentials => "admin-credentials",
            JobName::PruneHistory => "prune-history",
        }
    }

    pub(crate) fn description(self) -> &'static str {
        match self {
            JobName::ServiceHealth => {
                "restart services whose container exited or is unhealthy, within a restart budget"
            }
            JobName::UsersSync => "create and update the users of config/credentials.csv",
            JobName::CertsExpiry => "warn and fail before the TLS certificate expires",
            JobName::AdminCredentials => "check that the stored admin passwords still log in",
            JobName::PruneHistory => "keep the execution history bounded",
        }
    }

    /// The settings key holding the job's schedule in `dtaas-jobs daemon`.
    pub(crate) fn schedule_key(self) -> &'static str {
        match self {
            JobName::ServiceHealth => "JOBS_SERVICE_HEALTH_SCHEDULE",
            JobName::UsersSync => "JOBS_USERS_SYNC_SCHEDULE",
            JobName::CertsExpiry => "JOBS_CERTS_EXPIRY_SCHEDULE",
            JobName::AdminCredentials => "JOBS_ADMIN_CREDENTIALS_SCHEDULE",
            JobName::PruneHistory => "JOBS_PRUNE_HISTORY_SCHEDULE",
        }
    }

    /// Lower runs first when several jobs are due at once.
    pub(crate) fn priority(self) -> i32 {
        match self {
            JobName::ServiceHealth => 0,
            JobName::CertsExpiry => 10,
            JobName::AdminCredentials => 20,
            JobName::UsersSync => 30,
            JobName::PruneHistory => 40,
        }
    }

    /// Whether the job changes the project, and so runs under the project lock (taken
    /// without waiting: a job never waits for a command).
    pub(crate) fn takes_project_lock(self) -> bool {
        matches!(
            self,
            JobName::ServiceHealth | JobName::UsersSync | JobName::CertsExpiry
        )
    }

    /// The name of the job's lease in the state database.
    pub(crate) fn lease_name(self) -> String {
        format!("job:{}", self.as_str())
    }

    /// The journal command of the job's lines.
    pub(crate) fn journal_command(self) -> String {
        format!("job {}", self.as_str())
    }
}

impl fmt::Display for JobName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a job run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    /// Nothing to report.
    Ok,
    /// Done, with warnings worth a look (not a failure).
    Warning,
    /// The job failed (the run exits 1).
    Failed,
    /// Not run: another runner holds the job's lease, or a command holds the project lock.
    Skipped,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }
}

/// What a job found and did: `actions` (changes made), `notes`, `warnings`, `failures`. Any failure
/// makes the job failed. Never holds a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct JobOutput {
    pub(crate) summary: String,
    pub(crate) actions: Vec<String>,
    /// Decisions that changed nothing and need no look (e.g. a service left stopped
    /// because the operator stopped it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) notes: Vec<String>,
    pub(crate) warnings: Vec<String>,
    pub(crate) failures: Vec<String>,
}

impl JobOutput {
    pub(crate) fn status(&self) -> Status {
        if !self.failures.is_empty() {
            Status::Failed
        } else if !self.warnings.is_empty() {
            Status::Warning
        } else {
            Status::Ok
        }
    }

    /// A single failure.
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        let message = message.into();
        JobOutput {
            summary: message.clone(),
            failures: vec![message],
            ..JobOutput::default()
        }
    }
}

/// One job's result in a `run` report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct JobReport {
    pub(crate) job: &'static str,
    pub(crate) status: Status,
    /// The lease or project lock holder, when skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) held_by: Option<String>,
    #[serde(flatten)]
    pub(crate) output: JobOutput,
}
