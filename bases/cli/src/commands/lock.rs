//! The project lock around every mutating command (issue 16): two commands that change one
//! project never interleave. Read-only commands (`status`, `list`, `logs`, `doctor`,
//! `history`, `config show|get|validate`, `secrets list|get`, `db status`) never take
//! it and never wait.
//!
//! A mutating command that finds the lock taken says who holds it (command, pid, host,
//! since), waits up to `DTAAS_LOCK_WAIT` seconds (default 30) and then exits 5, "busy,
//! retry later". The lock itself (a lock file in `.dtaas/`, and a lease in a shared
//! PostgreSQL state database) is the store component's `ProjectLock`.

use std::future::Future;
use std::time::Duration;

use store::{Holder, ProjectLock, Store};

use crate::args::{Command, DbCmd, SecretsCmd, UserCmd};
use crate::commands::db::store_location;
use crate::commands::journal::describe;
use crate::context::Ctx;
use crate::exit::{CliError, Exit};

/// How long a mutating command waits for the project lock by default.
const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// The holder text of `command` when it changes the project (`None`: read-only).
pub(crate) fn mutating(command: &Command) -> Option<String> {
    if let Some(line) = describe(command) {
        return Some(match line.services {
            Some(s) => format!("{} -s {s}", line.command),
            None => line.command.to_owned(),
        });
    }
    match command {
        Command::User(UserCmd::Add(_)) => Some("user add".to_owned()),
        Command::User(UserCmd::Remove(_)) => Some("user remove".to_owned()),
        Command::Db(DbCmd::Migrate) => Some("db migrate".to_owned()),
        // Writes config/gitlab_tokens.json.
        Command::Secrets(SecretsCmd::Export(_)) => Some("secrets export".to_owned()),
        _ => None,
    }
}

/// `DTAAS_LOCK_WAIT` (seconds), else [`DEFAULT_WAIT`].
fn wait() -> Result<Duration, CliError> {
    match std::env::var("DTAAS_LOCK_WAIT") {
        Err(_) => Ok(DEFAULT_WAIT),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| {
                CliError::Usage(format!(
                    "DTAAS_LOCK_WAIT: expected a number of seconds, got {v:?}"
                ))
            }),
    }
}

/// Run `work` holding the project lock as `command`. Without a project (the command then
/// reports that itself) it runs unlocked.
pub(crate) async fn with_project_lock<F>(ctx: &Ctx, command: &str, work: F) -> anyhow::Result<Exit>
where
    F: Future<Output = anyhow::Result<Exit>>,
{
    let Ok(dir) = ctx.project_dir() else {
        return work.await;
    };
    let wait = wait()?;
    // A shared state database keeps hosts apart; settings that do not load are the
    // command's to report (`config set` may be fixing them): then this host only.
    let shared = match ctx.settings_quiet() {
        Ok(s) if s.secret("DATABASE_URL").is_some() => {
            match Store::open(&store_location(&s)).await {
                Ok(store) => Some(store),
                Err(e) => {
                    ctx.out
                        .warn(format!("the project lock holds on this host only: {e}"));
                    None
                }
            }
        }
        _ => None,
    };
    let holder = Holder::this_process(command);
    let out = ctx.out;
    let lock = ProjectLock::acquire(&dir, shared.as_ref(), &holder, wait, |other| {
        out.warn(format!(
            "the project is busy: {} holds it; waiting up to {} for it",
            other.map_or_else(|| "another command".to_owned(), ToString::to_string),
            humantime::format_duration(wait)
        ));
    })
    .await;
    let lock = match lock {
        Ok(lock) => lock,
        Err(e @ store::StoreError::Busy { .. }) => {
            return Err(CliError::Busy(e.to_string()).into());
        }
        Err(e) => return Err(e.into()),
    };
    let result = work.await;
    lock.release().await;
    if let Some(store) = shared {
        store.close().await;
    }
    result
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::mutating;
    use crate::args::Cli;

    fn of(args: &[&str]) -> Option<String> {
        let cli =
            Cli::try_parse_from(std::iter::once("dtaas-services").chain(args.iter().copied()))
                .unwrap();
        mutating(&cli.command)
    }

    #[test]
    fn mutating_commands_take_the_lock_and_read_only_ones_never_wait() {
        for (args, holder) in [
            (
                &["service", "stop", "-s", "grafana"][..],
                "service stop -s grafana",
            ),
            (
                &["service", "restore", "--from", "b"][..],
                "service restore",
            ),
            (&["config", "set", "RABBITMQ_PORT", "1"][..], "config set"),
            (&["user", "add"][..], "user add"),
            (&["user", "remove", "alice"][..], "user remove"),
            (&["secrets", "export", "gitlab"][..], "secrets export"),
            (&["db", "migrate"][..], "db migrate"),
            (&["stop"][..], "service stop"),
        ] {
            assert_eq!(of(args).as_deref(), Some(holder), "{args:?}");
        }
        for args in [
            &["service", "status"][..],
            &["service", "logs", "-s", "grafana"][..],
            &["user", "list"][..],
            &["config", "show"][..],
            &["config", "get", "RABBITMQ_PORT"][..],
            &["secrets", "list"][..],
            &["history"][..],
            &["doctor"][..],
            &["db", "status"][..],
        ] {
            assert_eq!(of(args), None, "{args:?}");
        }
    }
}
