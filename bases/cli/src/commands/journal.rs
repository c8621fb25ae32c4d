//! The operations journal: every mutating command leaves one line in the state database —
//! what ran, on which services, when, and how it ended (`history` shows them). `user add`
//! and `user remove` write their own per-service lines (components/users).
//!
//! Journalling never changes a command's outcome: a project without a state database, or
//! one that cannot be opened, is skipped (logged at debug level).

use store::{JournalEntry, Outcome};

use crate::args::{CertsCmd, Command, ConfigCmd, HostCmd, ServiceCmd, UserCmd};
use crate::commands::db::open_existing_store;
use crate::context::Ctx;
use crate::exit::{self, Exit};

/// The journal line of a command: its name and the `-s` services (`None`: all or n/a).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) command: &'static str,
    pub(crate) services: Option<String>,
}

fn line(command: &'static str, services: Option<&String>) -> Option<Line> {
    Some(Line {
        command,
        services: services.cloned(),
    })
}

/// The journal line of `command`, `None` for read-only commands and for those that
/// journal themselves.
pub(crate) fn describe(command: &Command) -> Option<Line> {
    match command {
        Command::Host(HostCmd::Setup(a)) | Command::Setup(a) if !a.dry_run => {
            line("host setup", None)
        }
        Command::Service(ServiceCmd::Install(a)) | Command::Install(a) => line(
            "service install",
            a.selector.services.as_ref().or(a.service.as_ref()),
        ),
        Command::Service(ServiceCmd::Start(a)) | Command::Start(a) => {
            line("service start", a.selector.services.as_ref())
        }
        Command::Service(ServiceCmd::Stop(a)) | Command::Stop(a) => {
            line("service stop", a.selector.services.as_ref())
        }
        Command::Service(ServiceCmd::Restart(a)) | Command::Restart(a) => {
            line("service restart", a.selector.services.as_ref())
        }
        Command::Service(ServiceCmd::Remove(a)) | Command::Remove(a) => line(
            if a.volumes {
                "service remove --volumes"
            } else {
                "service remove"
            },
            a.selector.services.as_ref(),
        ),
        Command::Service(ServiceCmd::Clean(a)) | Command::Clean(a) => {
            line("service clean", a.selector.services.as_ref())
        }
        Command::Service(ServiceCmd::Upgrade(a)) => line("service upgrade", Some(&a.service)),
        Command::Service(ServiceCmd::Backup(a)) => {
            line("service backup", a.selector.services.as_ref())
        }
        Command::Service(ServiceCmd::Restore(a)) => {
            line("service restore", a.selector.services.as_ref())
        }
        Command::User(UserCmd::ResetPassword(a)) => {
            line("user reset-password", a.services.as_ref())
        }
        Command::Config(ConfigCmd::Set(_)) => line("config set", None),
        Command::Config(ConfigCmd::Unset(_)) => line("config unset", None),
        Command::Config(ConfigCmd::RestoreDefaults(_)) => line("config restore-defaults", None),
        Command::Certs(CertsCmd::SelfSigned(_)) => line("certs self-signed", None),
        Command::Certs(CertsCmd::Refresh) => line("certs refresh", None),
        _ => None,
    }
}

/// Record how `line`'s command ended. Error texts never hold a secret (every component
/// error is built that way), so the rendered error is the detail.
pub(crate) async fn record(ctx: &Ctx, line: &Line, result: &anyhow::Result<Exit>) {
    let (outcome, detail) = match result {
        Ok(Exit::Success) => (Outcome::Ok, String::new()),
        Ok(_) => (Outcome::Failed, "failed (also partly)".to_owned()),
        Err(e) => {
            let first = exit::render(e)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned();
            // Usage and configuration errors (refusals included) change nothing.
            // A busy project (the lock was not taken) changes nothing either.
            let outcome = if matches!(exit::status_of(e), Exit::Usage | Exit::Busy) {
                Outcome::Skipped
            } else {
                Outcome::Failed
            };
            (outcome, first)
        }
    };
    let Ok(settings) = ctx.settings_quiet() else {
        return;
    };
    let mut entry = JournalEntry::new(line.command, outcome).detail(detail);
    if let Some(s) = &line.services {
        entry = entry.service(s.clone());
    }
    match open_existing_store(&settings).await {
        Ok(Some(store)) => {
            if let Err(e) = store.record(&entry).await {
                tracing::debug!(error = %e, "cannot write the journal");
            }
            store.close().await;
        }
        Ok(None) => tracing::debug!(
            "no state database yet: the journal starts with the first command that needs one"
        ),
        Err(e) => tracing::debug!(error = %e, "cannot open the state database for the journal"),
    }
}
