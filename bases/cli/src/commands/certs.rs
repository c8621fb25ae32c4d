//! `certs check|self-signed|refresh`: thin handlers over the certs component.

use crate::args::SelfSignedArgs;
use crate::commands::certs_options;
use crate::context::Ctx;
use crate::exit::{CliError, Exit};

/// The steps of a setup report, one by one.
pub(crate) fn print_setup(ctx: &Ctx, report: &certs::SetupReport) {
    for step in &report.steps {
        if step.changed() {
            ctx.out.success(format!("{}:", step.step.label()));
            for file in step
                .files
                .iter()
                .filter(|f| f.action != certs::Action::Unchanged)
            {
                ctx.out
                    .line(format!("    {}", file.describe(report.dry_run)));
            }
        } else {
            ctx.out.success(format!("{}: unchanged", step.step.label()));
        }
        for note in &step.notes {
            ctx.out.warn(note);
        }
    }
    if !report.needs_root.is_empty() {
        let paths: Vec<String> = report
            .needs_root
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        ctx.out.warn(format!(
            "a real run needs root (or --skip-chown) to change the owner of: {}",
            paths.join(", ")
        ));
    }
}

/// `certs check [--json]`: exit 1 when a finding is an error.
pub(crate) async fn check(ctx: &Ctx) -> anyhow::Result<Exit> {
    let settings = ctx.settings()?;
    let report = certs::check(&certs::CheckOptions::new(
        settings.project_dir().to_owned(),
        Some(settings.certs_src()),
        settings.hostname().to_owned(),
    ));
    if ctx.out.is_json() {
        ctx.out.json(&report)?;
    } else {
        if let Some(c) = &report.certificate {
            ctx.out.heading(format!("Certificate {}", c.subject));
            ctx.out.line(format!("  issuer:    {}", c.issuer));
            ctx.out.line(format!("  names:     {}", c.names.join(", ")));
            ctx.out.line(format!(
                "  not after: {} ({} days left)",
                c.not_after, c.days_left
            ));
        }
        for f in &report.findings {
            match f.level {
                certs::Level::Ok => ctx.out.success(&f.message),
                certs::Level::Warning => ctx.out.warn(&f.message),
                certs::Level::Error => ctx.out.failure(&f.message),
            }
            if f.level != certs::Level::Ok
                && let Some(h) = &f.hint
            {
                ctx.out.hint(h);
            }
        }
    }
    Ok(if report.has_errors() {
        Exit::Failed
    } else {
        Exit::Success
    })
}

/// What `--force` would do to the files a refusal names, for the confirmation.
fn force_prompt(e: &certs::CertsError) -> Option<String> {
    let names = |paths: &[std::path::PathBuf]| {
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match e {
        certs::CertsError::Exists { paths } => Some(format!(
            "This overwrites {} with a new self-signed set.",
            names(paths)
        )),
        certs::CertsError::LetsEncrypt { dir, paths } => Some(format!(
            "{} holds Let's Encrypt certificates ({}). This writes a self-signed set next to \
             them (they are not changed, but host setup and certs refresh then install the \
             self-signed certificate instead of them).",
            dir.display(),
            names(paths)
        )),
        _ => None,
    }
}

/// `certs self-signed [--hostname NAME] [--force]`: writes into CERTS_SRC.
pub(crate) async fn self_signed(ctx: &Ctx, args: &SelfSignedArgs) -> anyhow::Result<Exit> {
    let settings = ctx.settings()?;
    let hostname = args
        .hostname
        .clone()
        .unwrap_or_else(|| settings.hostname().to_owned());
    let mut opts = certs::SelfSignedOptions::new(settings.certs_src(), hostname);
    // Without force first: --force asks only when there is something to overwrite.
    let report = match certs::self_signed(&opts) {
        Err(e) if args.force => {
            let Some(prompt) = force_prompt(&e) else {
                return Err(e.into());
            };
            ctx.confirm(&prompt)?;
            opts.force = true;
            certs::self_signed(&opts)
        }
        other => other,
    }?;
    if ctx.out.is_json() {
        ctx.out.json(&report)?;
        return Ok(Exit::Success);
    }
    if report.generated {
        ctx.out.success(format!(
            "Self-signed certificates for {} written to {}",
            report.names.join(", "),
            report.dir.display()
        ));
        if !report.lets_encrypt.is_empty() {
            ctx.out.warn(format!(
                "the Let's Encrypt files in {} are kept, but host setup installs the newer \
                 self-signed set instead of them",
                report.dir.display()
            ));
        }
    } else {
        ctx.out.success(format!(
            "Valid self-signed certificates for {} already in {}: unchanged",
            report.names.join(", "),
            report.dir.display()
        ));
    }
    ctx.out.hint(format!(
        "run `dtaas-services host setup` to install them; clients can trust {}",
        report.dir.join("ca.pem").display()
    ));
    Ok(Exit::Success)
}

/// `certs refresh --json`: the refresh report, then what was restarted.
#[derive(serde::Serialize)]
struct RefreshOutput<'a> {
    #[serde(flatten)]
    report: &'a certs::RefreshReport,
    /// Containers restarted to load the new files (only with --yes).
    restarted: Vec<String>,
    /// Services that read a changed file but do not run: they read it when started.
    not_running: Vec<&'static str>,
}

/// `certs refresh`: re-copy and re-derive; names the services whose files changed and, after
/// asking (--yes), restarts the running ones. With --json it never asks: --yes restarts,
/// then the JSON names the restarted containers.
pub(crate) async fn refresh(ctx: &Ctx) -> anyhow::Result<Exit> {
    let settings = ctx.settings()?;
    let report = certs::refresh(&certs_options(&settings, false, false))?;
    let json = ctx.out.is_json();
    let list: Vec<&str> = report.services.iter().copied().collect();
    let restart = if list.is_empty() {
        if !json {
            print_setup(ctx, &report.setup);
            ctx.out
                .success("No service reads a changed file: nothing to restart.");
        }
        false
    } else if json {
        ctx.global.yes
    } else {
        print_setup(ctx, &report.setup);
        ctx.out.line(format!(
            "Services reading changed files: {}",
            list.join(", ")
        ));
        let restart_hint = format!(
            "restart them to load the new files: dtaas-services service restart -s {}",
            list.join(",")
        );
        if !ctx.global.yes && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            ctx.out.hint(restart_hint);
            false
        } else {
            match ctx.confirm(&format!("Restart {} now?", list.join(", "))) {
                Ok(()) => true,
                Err(e) if matches!(e.downcast_ref(), Some(CliError::Aborted)) => {
                    ctx.out.hint(restart_hint);
                    false
                }
                Err(e) => return Err(e),
            }
        }
    };
    let (restarted, not_running) = if restart {
        restart_running(&settings, &list).await?
    } else {
        (Vec::new(), Vec::new())
    };
    if json {
        ctx.out.json(&RefreshOutput {
            report: &report,
            restarted,
            not_running: not_running.iter().map(|s| s.compose_name()).collect(),
        })?;
        return Ok(Exit::Success);
    }
    for c in restarted {
        ctx.out.success(format!("restarted {c}"));
    }
    for s in not_running {
        ctx.out.line(format!(
            "  {} is not running; it reads the new files when started",
            s.display_name()
        ));
    }
    Ok(Exit::Success)
}

/// Restarts the running services of `list` (compose names); returns the restarted
/// containers and the services that do not run (they read the new files when started).
async fn restart_running(
    settings: &config::Settings,
    list: &[&str],
) -> anyhow::Result<(Vec<String>, Vec<catalog::Service>)> {
    let services: Vec<catalog::Service> = list
        .iter()
        .filter_map(|s| catalog::Service::from_compose_name(s))
        .collect();
    let (engine, files, vars) = crate::commands::prepare_with(settings).await?;
    let l = lifecycle::Lifecycle::new(&engine, &files, &vars)?;
    let status = l
        .status_listed(&lifecycle::Selection::Only(services))
        .await?;
    let (running, idle): (Vec<_>, Vec<_>) = status
        .services
        .iter()
        .partition(|s| matches!(s.state.as_str(), "running" | "restarting"));
    let mut restarted = Vec::new();
    if !running.is_empty() {
        let sel = lifecycle::Selection::Only(running.iter().map(|s| s.service).collect());
        restarted = l.restart(&sel, None).await?.restarted;
    }
    Ok((restarted, idle.iter().map(|s| s.service).collect()))
}
