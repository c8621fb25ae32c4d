//! jobs base: the `dtaas-jobs` binary's grammar, its reconcile jobs (`service-health`,
//! `users-sync`, `certs-expiry`, `admin-credentials`, `prune-history`) and their wiring:
//! once per invocation (`run`, for cron or a Kubernetes CronJob, failures collected into
//! one report) or on the scheduler component (`daemon`). Every job runs under a lease in
//! the state database, so two runners never run the same job at once.
//!
//! The jobs are thin: they call the lifecycle, users, certs and service components; this
//! base only reads settings and the environment, takes leases, records and prints.

mod args;
mod commands;
mod daemon;
mod env;
mod exec;
mod job;
mod jobs;
mod lease;
mod printer;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;
use exit_status::ExitStatus;

use crate::args::{Cli, Command};
use crate::env::ConfigProblem;
use crate::printer::Printer;

/// Entry point called by `projects/dtaas-jobs/src/main.rs`.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli);
    let out = Printer::new(cli.global.json);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            out.error(format_args!("cannot start the async runtime: {e}"));
            return ExitStatus::Usage.into();
        }
    };
    match runtime.block_on(dispatch(cli, &out)) {
        Ok(status) => status.into(),
        Err(err) => {
            out.error(format_args!("{err:#}"));
            status_of(&err).into()
        }
    }
}

/// The exit status of an error (the one mapping of the exit_status component): a
/// configuration or bootstrap problem of this binary is a usage error (2).
fn status_of(err: &anyhow::Error) -> ExitStatus {
    exit_status::of_error(err, |cause| {
        cause.is::<ConfigProblem>().then_some(ExitStatus::Usage)
    })
}

fn init_tracing(cli: &Cli) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let daemon = matches!(cli.command, Command::Daemon);
    let default = match (daemon, cli.global.verbose) {
        (true, 0) | (false, 1) => "info",
        (false, 0) => "warn",
        (_, _) => "debug",
    };
    let filter = logging::filter(std::env::var("DTAAS_LOG").ok().as_deref(), default);
    let registry = tracing_subscriber::registry().with(filter);
    if daemon {
        // Structured logs: one JSON object per line on stdout.
        let _ = registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_ansi(false)
                    .with_current_span(true)
                    .with_writer(std::io::stdout),
            )
            .try_init();
    } else {
        let _ = registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(logging::colour(
                        std::io::stderr().is_terminal(),
                        std::env::var_os("NO_COLOR").as_deref(),
                    ))
                    .with_target(false)
                    .without_time(),
            )
            .try_init();
    }
}

async fn dispatch(cli: Cli, out: &Printer) -> anyhow::Result<ExitStatus> {
    let dir = env::project_dir(cli.global.project_dir.as_deref())?;
    let env = env::Env::open(&dir).await?;
    let code = match cli.command {
        Command::Run(a) => commands::run(&env, &a, out).await?,
        Command::Daemon => daemon::run(env.clone()).await?,
        Command::List => commands::list(&env, out).await?,
        Command::History(a) => commands::history(&env, &a, out).await?,
    };
    env.store.close().await;
    Ok(code)
}

#[cfg(test)]
mod exit_tests {
    use super::*;

    #[test]
    fn a_config_problem_exits_2_anything_else_by_the_shared_mapping() {
        let problem = anyhow::Error::new(ConfigProblem("JOBS_SERVICES: unknown".into()));
        assert_eq!(status_of(&problem).code(), 2);
        let other = anyhow::anyhow!("a job failed");
        assert_eq!(status_of(&other).code(), 1);
        let engine = anyhow::Error::new(docker::DockerError::EngineUnreachable {
            host: "unix:///var/run/docker.sock".into(),
            reason: "refused".into(),
        })
        .context("service-health");
        assert_eq!(status_of(&engine).code(), 4);
    }
}
