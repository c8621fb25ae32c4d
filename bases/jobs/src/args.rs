//! The command-line grammar of `dtaas-jobs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::job::JobName;

/// Reconcile jobs of a DTaaS services platform: once (`run`, for cron or a Kubernetes
/// CronJob) or on a schedule (`daemon`).
#[derive(Debug, Parser)]
#[command(name = "dtaas-jobs", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct GlobalArgs {
    /// The project directory (default: the nearest ancestor holding config/services.env).
    #[arg(long, global = true, env = "DTAAS_PROJECT_DIR", value_name = "DIR")]
    pub(crate) project_dir: Option<PathBuf>,
    /// More log output (-v info, -vv debug); DTAAS_LOG overrides the filter.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Machine-readable output on stdout.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run jobs once, each under its lease; exit 0 when all are fine, 1 when one failed,
    /// 2 on a configuration or bootstrap error.
    Run(RunArgs),
    /// Run the jobs on their schedules (JOBS_*_SCHEDULE, JOBS_TIMEZONE) until SIGTERM or
    /// SIGINT; logs are JSON lines on stdout.
    Daemon,
    /// The jobs, their schedules, next and last runs.
    List,
    /// Past job executions (newest first) and the actions they took.
    History(HistoryArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The jobs to run, in this order.
    #[arg(value_enum, required_unless_present = "all")]
    pub(crate) jobs: Vec<JobName>,
    /// Run every job.
    #[arg(long, conflicts_with = "jobs")]
    pub(crate) all: bool,
}

#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// Only this job.
    #[arg(long, value_enum)]
    pub(crate) job: Option<JobName>,
    /// At most this many executions.
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: u32,
}

#[cfg(test)]
mod tests;
