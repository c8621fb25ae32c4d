//! The `ORCHESTRATOR` gate (docs/multi-host.md): in swarm mode, a command that acts on the
//! services' engine and has no swarm implementation yet refuses with a usage error (exit 2)
//! instead of acting on the local engine. `service start|stop|status|remove` have one
//! (`commands/swarm.rs`) and pass.

use crate::args::{CertsCmd, Command, ServiceCmd, UserCmd};
use crate::context::Ctx;
use crate::exit::CliError;

/// The name of a command that acts on the services' engine (so it depends on the
/// orchestrator), `None` for the others (project, host, config, certs check/self-signed,
/// secrets, history, db, doctor's own checks run in both modes through `doctor`).
pub(crate) fn engine_command(command: &Command) -> Option<&'static str> {
    Some(match command {
        Command::Service(cmd) => match cmd {
            ServiceCmd::Install(_) => "service install",
            ServiceCmd::Start(_) => "service start",
            ServiceCmd::Stop(_) => "service stop",
            ServiceCmd::Restart(_) => "service restart",
            ServiceCmd::Status(_) => "service status",
            ServiceCmd::Remove(_) => "service remove",
            ServiceCmd::Clean(_) => "service clean",
            ServiceCmd::Logs(_) => "service logs",
            ServiceCmd::Upgrade(_) => "service upgrade",
            ServiceCmd::Backup(_) => "service backup",
            ServiceCmd::Restore(_) => "service restore",
        },
        Command::User(cmd) => match cmd {
            UserCmd::Add(_) => "user add",
            UserCmd::ResetPassword(_) => "user reset-password",
            UserCmd::List(_) => "user list",
            UserCmd::Remove(_) => "user remove",
        },
        // It restarts the running services that use the certificates.
        Command::Certs(CertsCmd::Refresh) => "certs refresh",
        Command::Doctor => "doctor",
        Command::Install(_) => "install",
        Command::Start(_) => "start",
        Command::Stop(_) => "stop",
        Command::Restart(_) => "restart",
        Command::Status(_) => "status",
        Command::Remove(_) => "remove",
        Command::Clean(_) => "clean",
        _ => return None,
    })
}

/// Refuse `command` when the project's settings select swarm mode. Settings that do not
/// load are the command's own to report.
///
/// # Errors
/// [`CliError::Usage`] naming the command and where `ORCHESTRATOR=swarm` came from.
pub(crate) fn refuse_unimplemented_swarm(ctx: &Ctx, command: &Command) -> anyhow::Result<()> {
    let Some(name) = engine_command(command) else {
        return Ok(());
    };
    if crate::commands::swarm::implemented(command) {
        return Ok(());
    }
    let Ok(settings) = ctx.settings_quiet() else {
        return Ok(());
    };
    if settings.orchestrator() != config::Orchestrator::Swarm {
        return Ok(());
    }
    let origin = settings
        .source("ORCHESTRATOR")
        .map(ToString::to_string)
        .unwrap_or_default();
    Err(CliError::Usage(format!(
        "swarm mode is not implemented yet for {name} (ORCHESTRATOR=swarm, {origin}); \
         nothing was done\nhint: set ORCHESTRATOR=compose to manage this host's engine \
         (docs/multi-host.md)"
    ))
    .into())
}
