//! `service start|stop|restart|status|remove|clean|install`: thin handlers over the lifecycle component.

use lifecycle::{Lifecycle, Selection, StartOptions};

use crate::args::{CleanArgs, InstallArgs, RemoveArgs, RestartArgs, StartArgs, StopArgs};
use crate::commands::db::{forget_deleted_state, open_store};
use crate::commands::{prepare, prepare_with};
use crate::context::Ctx;
use crate::exit::{CliError, Exit};

fn selection_text(raw: Option<&str>, sel: &Selection) -> String {
    match (raw, sel) {
        (_, Selection::All) | (None, _) => "all services".to_owned(),
        (_, Selection::Only(list)) => list
            .iter()
            .map(|s| s.compose_name())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// `service install`: the ThingsBoard and GitLab install flows, in the caller's order.
pub(crate) async fn install(ctx: &Ctx, args: &InstallArgs) -> anyhow::Result<Exit> {
    let raw = match (args.selector.services.as_deref(), args.service.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(CliError::Usage(
                "Pass only --services; --service is a deprecated spelling of it.".into(),
            )
            .into());
        }
        (None, Some(old)) => {
            ctx.out.warn("'--service' is deprecated; use '--services'.");
            Some(old)
        }
        (new, None) => new,
    };
    let services = catalog::parse_install_selector(raw)?;
    if args.force && services.contains(&catalog::Service::ThingsBoard) {
        ctx.confirm("--force re-runs the ThingsBoard installer on an installed database.")?;
    }
    let settings = ctx.settings()?;
    let opts = install::Options {
        force: args.force,
        wait: args.wait,
        timeout: args.timeout,
    };
    // GitLab's inputs are checked here, before the engine is contacted.
    let plan = install::Plan::new(&settings, services, opts)?;
    let (engine, files, vars) = prepare_with(&settings).await?;
    let store = store::Store::open(&crate::commands::db::store_location(&settings)).await?;
    let lc = Lifecycle::new(&engine, &files, &vars)?.recording(&store, "service install");
    let secrets = crate::commands::db::password_store_for(ctx, &settings).await?;
    let out = ctx.out;
    let print_failed = std::sync::OnceLock::new();
    let sink = |event: install::Event<'_>| match event {
        install::Event::Installing(s) => out.heading(format!("Installing {}...", s.display_name())),
        install::Event::Line(m) => out.line(m),
        install::Event::Installed(r) => {
            if let Err(e) = print_install_report(out, r) {
                print_failed.get_or_init(|| e);
            }
        }
    };
    plan.run(&settings, &lc, &secrets, &sink).await?;
    match print_failed.into_inner() {
        Some(e) => Err(e),
        None => Ok(Exit::Success),
    }
}

/// One flow's report: JSON, or its one-line summary.
fn print_install_report(out: crate::printer::Printer, r: &install::Report) -> anyhow::Result<()> {
    match r {
        install::Report::ThingsBoard(r) if out.is_json() => out.json(r)?,
        install::Report::GitLab(r) if out.is_json() => out.json(r)?,
        install::Report::ThingsBoard(r) => out.success(format!(
            "ThingsBoard installation completed (schema: {}, tenant: {}, tenant admin: {}); passwords saved in the password store",
            serde_json::to_value(r.schema)?.as_str().unwrap_or(""),
            r.tenant.as_str(),
            r.tenant_admin.as_str()
        )),
        install::Report::GitLab(r) => out.success(format!(
            "GitLab setup completed (admin token: {}, server app: {}, client app: {}); root password set, secrets in the password store",
            serde_json::to_value(r.token)?.as_str().unwrap_or(""),
            serde_json::to_value(r.server_app)?.as_str().unwrap_or(""),
            serde_json::to_value(r.client_app)?.as_str().unwrap_or("")
        )),
    }
    Ok(())
}

/// `service start`.
pub(crate) async fn start(ctx: &Ctx, args: &StartArgs) -> anyhow::Result<Exit> {
    let raw = args.selector.services.as_deref();
    let sel = Selection::parse(raw)?;
    let (engine, files, vars) = prepare(ctx).await?;
    let store = open_store(ctx).await?;
    let l = Lifecycle::new(&engine, &files, &vars)?.recording(&store, "service start");
    ctx.out
        .line(format!("Starting {}...", selection_text(raw, &sel)));
    let progress = ctx.out.progress();
    let opts = StartOptions {
        wait: args.wait,
        timeout: Some(args.timeout),
        progress: progress.sink(),
    };
    let r = l.start(&sel, &opts).await;
    progress.finish();
    // Partly failed: say what did start before the error names what did not (exit 1).
    if let Err(lifecycle::LifecycleError::Partial { report, .. }) = &r
        && !ctx.out.is_json()
    {
        print_started(ctx, &report.started)?;
    }
    let r = r?;
    if ctx.out.is_json() {
        ctx.out.json(&r)?;
        return Ok(Exit::Success);
    }
    if !r.skipped_running.is_empty() {
        let names: Vec<_> = r.skipped_running.iter().map(|s| s.compose_name()).collect();
        ctx.out.line(format!(
            "Skipped {} already running service(s): {}",
            names.len(),
            names.join(", ")
        ));
    }
    for (s, container) in &r.restarting {
        ctx.out.warn(format!("{} is restarting", s.display_name()));
        ctx.out
            .hint(format!("see its logs with: docker logs {container}"));
    }
    print_started(ctx, &r.started)?;
    if r.started.is_empty() && r.restarting.is_empty() {
        ctx.out.success("All services are already running");
    }
    if r.waited {
        ctx.out.success("All selected services are ready");
    }
    Ok(Exit::Success)
}

/// `service stop`.
pub(crate) async fn stop(ctx: &Ctx, args: &StopArgs) -> anyhow::Result<Exit> {
    let raw = args.selector.services.as_deref();
    let sel = Selection::parse(raw)?;
    let (engine, files, vars) = prepare(ctx).await?;
    let store = open_store(ctx).await?;
    let l = Lifecycle::new(&engine, &files, &vars)?.recording(&store, "service stop");
    ctx.out
        .line(format!("Stopping {}...", selection_text(raw, &sel)));
    let r = l.stop(&sel, Some(args.timeout)).await?;
    if ctx.out.is_json() {
        ctx.out.json(&r)?;
        return Ok(Exit::Success);
    }
    for c in &r.stopped {
        ctx.out.success(format!("stopped {c}"));
    }
    if r.stopped.is_empty() {
        ctx.out.success("Nothing was running");
    } else {
        ctx.out.success("Services stopped successfully");
    }
    Ok(Exit::Success)
}

/// `service restart`.
pub(crate) async fn restart(ctx: &Ctx, args: &RestartArgs) -> anyhow::Result<Exit> {
    let raw = args.selector.services.as_deref();
    let sel = Selection::parse(raw)?;
    let (engine, files, vars) = prepare(ctx).await?;
    let store = open_store(ctx).await?;
    let l = Lifecycle::new(&engine, &files, &vars)?.recording(&store, "service restart");
    ctx.out
        .line(format!("Restarting {}...", selection_text(raw, &sel)));
    let r = l.restart(&sel, Some(args.timeout)).await?;
    if ctx.out.is_json() {
        ctx.out.json(&r)?;
        return Ok(Exit::Success);
    }
    for s in &r.missing {
        ctx.out.warn(format!(
            "{} has no container; start it with: dtaas-services service start -s {}",
            s.display_name(),
            s.compose_name()
        ));
    }
    for c in &r.restarted {
        ctx.out.success(format!("restarted {c}"));
    }
    if r.missing.is_empty() {
        ctx.out.success("Services restarted successfully");
        Ok(Exit::Success)
    } else {
        Ok(Exit::Failed)
    }
}

/// A remove or clean report with what the state database forgot.
#[derive(serde::Serialize)]
struct WithForgotten<'a, R: serde::Serialize> {
    #[serde(flatten)]
    report: &'a R,
    forgotten: password_store::Forgotten,
}

/// `service remove`.
pub(crate) async fn remove(ctx: &Ctx, args: &RemoveArgs) -> anyhow::Result<Exit> {
    let raw = args.selector.services.as_deref();
    let sel = Selection::parse(raw)?;
    let (engine, files, vars) = prepare(ctx).await?;
    let store = open_store(ctx).await?;
    let l = Lifecycle::new(&engine, &files, &vars)?.recording(&store, "service remove");
    if args.volumes {
        ctx.confirm(&format!(
            "This will remove the containers of {} and DELETE their data and log directories.",
            selection_text(raw, &sel)
        ))?;
    }
    ctx.out
        .line(format!("Removing {}...", selection_text(raw, &sel)));
    let r = l.remove(&sel, args.volumes, None).await?;
    let forgotten = forget_deleted_state(ctx, &r.data_deleted).await?;
    if ctx.out.is_json() {
        ctx.out.json(&WithForgotten {
            report: &r,
            forgotten,
        })?;
        return Ok(Exit::Success);
    }
    for c in &r.removed {
        ctx.out.success(format!("removed {c}"));
    }
    for d in &r.wiped {
        ctx.out.success(format!("emptied {d}"));
    }
    for line in r.left_alone.lines() {
        ctx.out.warn(line);
    }
    for n in &r.networks_removed {
        ctx.out.success(format!("removed network {n}"));
    }
    ctx.out.success(if args.volumes {
        "Services and volumes removed successfully"
    } else {
        "Services removed successfully"
    });
    Ok(Exit::Success)
}

/// `service clean`.
pub(crate) async fn clean(ctx: &Ctx, args: &CleanArgs) -> anyhow::Result<Exit> {
    let raw = args.selector.services.as_deref();
    let sel = Selection::parse(raw)?;
    let (engine, files, vars) = prepare(ctx).await?;
    let l = Lifecycle::new(&engine, &files, &vars)?;
    // Every service reads certs/: --certs needs all of them stopped, whatever the selection.
    if args.certs {
        let running: Vec<&str> = l
            .status_listed(&Selection::All)
            .await?
            .services
            .iter()
            .filter(|s| matches!(s.state.as_str(), "running" | "restarting"))
            .map(|s| s.service.compose_name())
            .collect();
        if !running.is_empty() {
            return Err(CliError::Usage(format!(
                "--certs deletes the TLS files every service reads, and these run: {}; stop them first",
                running.join(", ")
            ))
            .into());
        }
    }
    ctx.confirm(if args.certs {
        "This will delete ALL data and log files for the selected services. It will ALSO delete copied TLS cert files under certs/."
    } else {
        "This will delete ALL data and log files for the selected services."
    })?;
    let mut r = l.clean(&sel).await?;
    if args.certs {
        l.clean_certs(&mut r)?;
    }
    let forgotten = forget_deleted_state(ctx, &r.data_deleted).await?;
    if ctx.out.is_json() {
        ctx.out.json(&WithForgotten {
            report: &r,
            forgotten,
        })?;
        return Ok(Exit::Success);
    }
    if r.cleaned.is_empty() {
        ctx.out.success("No data directories found");
    } else {
        for d in &r.cleaned {
            ctx.out.success(format!("emptied {d}"));
        }
        for line in r.left_alone.lines() {
            ctx.out.warn(line);
        }
        ctx.out
            .success(format!("Cleaned data for {}", selection_text(raw, &sel)));
    }
    Ok(Exit::Success)
}

/// One line per started service: "Grafana (grafana): created".
fn print_started(ctx: &Ctx, started: &[lifecycle::StartedService]) -> anyhow::Result<()> {
    for s in started {
        ctx.out.success(format!(
            "{} ({}): {}",
            s.service.display_name(),
            s.container,
            serde_json::to_value(s.action)?.as_str().unwrap_or("")
        ));
    }
    Ok(())
}
