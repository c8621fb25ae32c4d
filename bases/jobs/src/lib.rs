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

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;

use crate::args::{Cli, Command};
use crate::env::ConfigProblem;

/// Exit status: a job failed.
const EXIT_FAILED: u8 = 1;
/// Exit status: configuration or bootstrap error.
const EXIT_CONFIG: u8 = 2;

/// Entry point called by `projects/dtaas-jobs/src/main.rs`.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            commands::error_line(&format!("cannot start the async runtime: {e}"));
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(err) => {
            commands::error_line(&format!("{err:#}"));
            if err.downcast_ref::<ConfigProblem>().is_some() {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::from(EXIT_FAILED)
            }
        }
    }
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

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let dir = env::project_dir(cli.global.project_dir.as_deref())?;
    let env = env::Env::open(&dir).await?;
    let json = cli.global.json;
    let code = match cli.command {
        Command::Run(a) => commands::run(&env, &a, json).await?,
        Command::Daemon => daemon::run(env.clone()).await?,
        Command::List => commands::list(&env, json).await?,
        Command::History(a) => commands::history(&env, &a, json).await?,
    };
    env.store.close().await;
    Ok(code)
}
