//! cli base: the clap grammar of `dtaas-services`, one module per command, the printer and
//! the exit-status policy. Handlers are thin: they resolve settings, call one component
//! function and print its report. Nothing here talks to Docker, SQL or HTTP directly.

mod args;
mod commands;
mod context;
mod exit;
mod printer;

use std::process::ExitCode;

use clap::Parser as _;

use crate::args::{
    CertsCmd, Cli, Command, ConfigCmd, DbCmd, HostCmd, ProjectCmd, SecretsCmd, ServiceCmd, UserCmd,
};
use crate::context::Ctx;
use crate::exit::Exit;

/// Entry point called by `projects/dtaas-services/src/main.rs`.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.global.verbose, cli.global.quiet, cli.global.no_color);
    let ctx = Ctx::new(cli.global.clone());
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            ctx.out
                .error(format!("cannot start the async runtime: {e}"));
            return Exit::Failed.into();
        }
    };
    let journal = commands::journal::describe(&cli.command);
    let mutating = commands::lock::mutating(&cli.command);
    let result = runtime.block_on(async {
        let work = dispatch(&ctx, cli.command);
        let result = match &mutating {
            Some(command) => commands::lock::with_project_lock(&ctx, command, work).await,
            None => work.await,
        };
        if let Some(line) = &journal {
            commands::journal::record(&ctx, line, &result).await;
        }
        result
    });
    match result {
        Ok(exit) => exit.into(),
        Err(err) => {
            ctx.out.error(exit::render(&err));
            for hint in exit::hints(&err) {
                ctx.out.hint(hint);
            }
            exit::status_of(&err).into()
        }
    }
}

fn init_tracing(verbose: u8, quiet: bool, no_color: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = logging::filter(std::env::var("DTAAS_LOG").ok().as_deref(), default);
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(
            !no_color
                && logging::colour(
                    std::io::IsTerminal::is_terminal(&std::io::stderr()),
                    std::env::var_os("NO_COLOR").as_deref(),
                ),
        )
        .with_target(verbose > 1)
        .without_time();
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .try_init();
}

async fn dispatch(ctx: &Ctx, command: Command) -> anyhow::Result<Exit> {
    use commands::{
        certs, config, db, doctor, history, host, project, secrets, service, status, user,
    };
    commands::mode::refuse_unimplemented_swarm(ctx, &command)?;
    if let Some(exit) = commands::swarm::dispatch(ctx, &command).await? {
        return Ok(exit);
    }
    match command {
        Command::Project(ProjectCmd::Generate(a)) => project::generate(ctx, &a),
        Command::Host(HostCmd::Setup(a)) => host::setup(ctx, &a).await,
        Command::Service(cmd) => match cmd {
            ServiceCmd::Install(a) => service::install(ctx, &a).await,
            ServiceCmd::Start(a) => service::start(ctx, &a).await,
            ServiceCmd::Stop(a) => service::stop(ctx, &a).await,
            ServiceCmd::Restart(a) => service::restart(ctx, &a).await,
            ServiceCmd::Status(a) => status::status(ctx, &a).await,
            ServiceCmd::Remove(a) => service::remove(ctx, &a).await,
            ServiceCmd::Clean(a) => service::clean(ctx, &a).await,
            ServiceCmd::Logs(a) => status::logs(ctx, &a).await,
            ServiceCmd::Upgrade(a) => commands::data::upgrade(ctx, &a).await,
            ServiceCmd::Backup(a) => commands::data::backup(ctx, &a).await,
            ServiceCmd::Restore(a) => commands::data::restore(ctx, &a).await,
        },
        Command::User(UserCmd::Add(a)) => user::add(ctx, &a).await,
        Command::User(UserCmd::ResetPassword(a)) => user::reset_password(ctx, &a).await,
        Command::User(UserCmd::List(a)) => user::list(ctx, &a).await,
        Command::User(UserCmd::Remove(a)) => user::remove(ctx, &a).await,
        Command::Config(cmd) => match cmd {
            ConfigCmd::Show(a) => config::show(ctx, &a),
            ConfigCmd::Get(a) => config::get(ctx, &a),
            ConfigCmd::Set(a) => config::set(ctx, &a),
            ConfigCmd::Unset(a) => config::unset(ctx, &a),
            ConfigCmd::RestoreDefaults(a) => config::restore_defaults(ctx, &a),
            ConfigCmd::Validate => config::validate(ctx),
        },
        Command::Certs(cmd) => match cmd {
            CertsCmd::Check => certs::check(ctx).await,
            CertsCmd::SelfSigned(a) => certs::self_signed(ctx, &a).await,
            CertsCmd::Refresh => certs::refresh(ctx).await,
        },
        Command::Secrets(cmd) => match cmd {
            SecretsCmd::List => secrets::list(ctx).await,
            SecretsCmd::Get(a) => secrets::get(ctx, &a).await,
            SecretsCmd::Export(a) => secrets::export(ctx, &a).await,
        },
        Command::History(a) => history::run(ctx, &a).await,
        Command::Db(DbCmd::Status) => db::status(ctx).await,
        Command::Db(DbCmd::Migrate) => db::migrate(ctx).await,
        Command::Doctor => doctor::run(ctx).await,
        Command::Completions(a) => commands::shell::completions(ctx, &a),
        Command::Man(a) => commands::shell::man(ctx, &a),
        // Legacy aliases: warn on stderr, then run the new command with the same arguments.
        Command::GenerateProject(a) => {
            ctx.out.deprecated("generate-project", "project generate");
            project::generate(ctx, &a)
        }
        Command::Setup(a) => {
            ctx.out.deprecated("setup", "host setup");
            host::setup(ctx, &a).await
        }
        Command::Install(a) => {
            ctx.out.deprecated("install", "service install");
            service::install(ctx, &a).await
        }
        Command::Start(a) => {
            ctx.out.deprecated("start", "service start");
            service::start(ctx, &a).await
        }
        Command::Stop(a) => {
            ctx.out.deprecated("stop", "service stop");
            service::stop(ctx, &a).await
        }
        Command::Restart(a) => {
            ctx.out.deprecated("restart", "service restart");
            service::restart(ctx, &a).await
        }
        Command::Status(a) => {
            ctx.out.deprecated("status", "service status");
            status::status(ctx, &a).await
        }
        Command::Remove(a) => {
            ctx.out.deprecated("remove", "service remove");
            service::remove(ctx, &a).await
        }
        Command::Clean(a) => {
            ctx.out.deprecated("clean", "service clean");
            service::clean(ctx, &a).await
        }
    }
}
