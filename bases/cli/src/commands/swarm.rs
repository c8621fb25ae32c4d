//! `service start|stop|status|remove` in swarm mode (`ORCHESTRATOR=swarm`,
//! docs/multi-host.md): thin handlers over the `swarm` component, on the manager named by
//! `DOCKER_HOST` (TLS client certificates for a remote one: `DOCKER_TLS_VERIFY`,
//! `DOCKER_CERT_PATH`).

use std::collections::BTreeMap;

use compose::ProjectFiles;
use docker::BollardEngine;
use lifecycle::Selection;

use crate::args::{Command, RemoveArgs, ServiceCmd, StartArgs, StatusArgs, StopArgs};
use crate::context::Ctx;
use crate::exit::{CliError, Exit};

/// The commands with a swarm mode (the gate in `mode.rs` refuses the others).
pub(crate) fn implemented(command: &Command) -> bool {
    matches!(
        command,
        Command::Service(
            ServiceCmd::Start(_)
                | ServiceCmd::Stop(_)
                | ServiceCmd::Status(_)
                | ServiceCmd::Remove(_)
        )
    )
}

/// Run `command` in swarm mode when the project selects it; `None` in compose mode.
pub(crate) async fn dispatch(ctx: &Ctx, command: &Command) -> anyhow::Result<Option<Exit>> {
    if !implemented(command) {
        return Ok(None);
    }
    let Ok(settings) = ctx.settings_quiet() else {
        return Ok(None);
    };
    if settings.orchestrator() != config::Orchestrator::Swarm {
        return Ok(None);
    }
    let Command::Service(cmd) = command else {
        return Ok(None);
    };
    let exit = match cmd {
        ServiceCmd::Start(a) => start(ctx, a).await?,
        ServiceCmd::Stop(a) => stop(ctx, a).await?,
        ServiceCmd::Status(a) => status(ctx, a).await?,
        ServiceCmd::Remove(a) => remove(ctx, a).await?,
        _ => return Ok(None),
    };
    Ok(Some(exit))
}

fn err(e: swarm::SwarmError) -> anyhow::Error {
    match e {
        swarm::SwarmError::Config(m) | swarm::SwarmError::Unsupported(m) => {
            CliError::Usage(m).into()
        }
        swarm::SwarmError::Docker(e) => e.into(),
        e => e.into(),
    }
}

/// The manager (after the TLS rule), the compose files and the variables.
async fn prepare(
    ctx: &Ctx,
) -> anyhow::Result<(BollardEngine, ProjectFiles, BTreeMap<String, String>)> {
    let settings = ctx.settings()?;
    let host = std::env::var("DOCKER_HOST").ok();
    let tls = std::env::var_os("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty());
    // The test engines' escape exists only in debug builds (the tests' binaries), never in a
    // release binary an operator runs.
    let plain = cfg!(debug_assertions)
        && std::env::var_os("DTAAS_TEST_SWARM_PLAIN_TCP").is_some_and(|v| v == "1");
    swarm::check_manager_host(host.as_deref(), tls, plain).map_err(err)?;
    crate::commands::prepare_with(&settings).await
}

fn names(raw: Option<&str>) -> anyhow::Result<Option<Vec<String>>> {
    Ok(match Selection::parse(raw)? {
        Selection::All => None,
        Selection::Only(list) => Some(list.iter().map(|s| s.compose_name().to_owned()).collect()),
    })
}

async fn start(ctx: &Ctx, args: &StartArgs) -> anyhow::Result<Exit> {
    let sel = names(args.selector.services.as_deref())?;
    let (engine, files, vars) = prepare(ctx).await?;
    ctx.out
        .line(format!("Deploying stack {} to the swarm...", files.name));
    let opts = swarm::StartOptions {
        timeout: args.timeout,
    };
    let r = swarm::start(&engine, &files, &vars, sel.as_deref(), &opts)
        .await
        .map_err(err)?;
    if ctx.out.is_json() {
        ctx.out.json(&r)?;
        return Ok(Exit::Success);
    }
    for s in &r.started {
        for n in &s.notes {
            ctx.out.hint(format!("{}: {n}", s.service));
        }
        let verb = if s.created { "created" } else { "updated" };
        ctx.out.success(format!(
            "{} {verb}: task {} running on {}",
            s.swarm_service, s.task, s.node
        ));
    }
    Ok(Exit::Success)
}

async fn stop(ctx: &Ctx, args: &StopArgs) -> anyhow::Result<Exit> {
    let sel = names(args.selector.services.as_deref())?;
    let (engine, files, vars) = prepare(ctx).await?;
    let r = swarm::stop(&engine, &files, &vars, sel.as_deref(), args.timeout)
        .await
        .map_err(err)?;
    if ctx.out.is_json() {
        ctx.out.json(&r)?;
        return Ok(Exit::Success);
    }
    for s in &r.stopped {
        ctx.out.success(format!("{s} scaled to 0"));
    }
    for s in &r.absent {
        ctx.out.line(format!("{s} is not deployed"));
    }
    Ok(Exit::Success)
}

async fn status(ctx: &Ctx, args: &StatusArgs) -> anyhow::Result<Exit> {
    // Refused rather than ignored: the swarm status lists every service's tasks once (it
    // runs no probes, so --no-probes changes nothing).
    if args.selector.services.is_some() || args.watch {
        return Err(CliError::Usage(
            "in swarm mode `service status` lists every service's tasks once: -s and --watch \
             are not supported there yet (docs/multi-host.md)"
                .into(),
        )
        .into());
    }
    let (engine, files, _) = prepare(ctx).await?;
    let r = swarm::status(&engine, &files.name).await.map_err(err)?;
    if ctx.out.is_json() {
        ctx.out.json(&r)?;
        return Ok(Exit::Success);
    }
    let rows = r
        .tasks
        .iter()
        .map(|t| {
            vec![
                t.service.clone(),
                t.task.chars().take(12).collect(),
                t.node.clone(),
                t.desired.clone(),
                t.current.clone(),
                t.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    ctx.out.table(
        &[
            "SERVICE",
            "TASK",
            "NODE",
            "DESIRED STATE",
            "CURRENT STATE",
            "ERROR",
        ],
        rows,
    );
    Ok(Exit::Success)
}

async fn remove(ctx: &Ctx, args: &RemoveArgs) -> anyhow::Result<Exit> {
    let sel = names(args.selector.services.as_deref())?;
    let (engine, files, _) = prepare(ctx).await?;
    let r = swarm::remove(&engine, &files.name, sel.as_deref(), args.volumes)
        .await
        .map_err(err)?;
    if ctx.out.is_json() {
        ctx.out.json(&r)?;
        return Ok(Exit::Success);
    }
    for s in &r.services {
        ctx.out.success(format!("removed service {s}"));
    }
    for n in &r.networks {
        ctx.out.success(format!("removed network {n}"));
    }
    if r.configs_and_secrets > 0 {
        ctx.out.success(format!(
            "removed {} configs and secrets",
            r.configs_and_secrets
        ));
    }
    Ok(Exit::Success)
}
