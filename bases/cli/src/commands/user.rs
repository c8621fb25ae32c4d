//! `user add|list|remove|reset-password`: thin handlers over the users component.

use catalog::Service;
use password_store::PasswordStore;
use services_common::Provisioner;
use users::SUPPORTED;

use crate::args::{ResetPasswordArgs, UserAddArgs, UserListArgs, UserRemoveArgs};
use crate::context::Ctx;
use crate::exit::{CliError, Exit};

/// The selected services that support user provisioning; warns about the others.
fn selected(ctx: &Ctx, raw: Option<&str>) -> anyhow::Result<Vec<Service>> {
    let Some(raw) = raw else {
        return Ok(SUPPORTED.to_vec());
    };
    let chosen = catalog::parse_selector(Some(raw))?;
    let (ok, other): (Vec<Service>, Vec<Service>) =
        chosen.into_iter().partition(|s| SUPPORTED.contains(s));
    for s in &other {
        ctx.out.warn(format!(
            "user management for {} is not available in this command; skipped",
            s.display_name()
        ));
    }
    if ok.is_empty() {
        return Err(CliError::Usage(format!(
            "no selected service supports user management here (supported: {})",
            SUPPORTED.map(Service::compose_name).join(", ")
        ))
        .into());
    }
    Ok(ok)
}

/// The provisioner of each selected service, and the services that cannot be provisioned
/// (built by the users component: the path the jobs share).
async fn provisioners(
    settings: &config::Settings,
    services: &[Service],
    secrets: &PasswordStore,
) -> anyhow::Result<(Vec<Box<dyn Provisioner>>, Vec<(Service, String)>)> {
    let host = std::env::var("DOCKER_HOST").ok();
    let p = users::provisioners_for(settings, services, secrets, host.as_deref()).await?;
    Ok((p.ready, p.unavailable))
}

fn read_credentials(
    settings: &config::Settings,
    services: &[Service],
) -> anyhow::Result<credentials::Credentials> {
    let path = settings
        .project_dir()
        .join("config")
        .join("credentials.csv");
    Ok(credentials::read(&path, services)?)
}

/// `user add`.
pub(crate) async fn add(ctx: &Ctx, args: &UserAddArgs) -> anyhow::Result<Exit> {
    let settings = ctx.settings()?;
    let services = selected(ctx, args.selector.services.as_deref())?;
    let creds = read_credentials(&settings, &services)?;
    let secrets = crate::commands::db::password_store_for(ctx, &settings).await?;
    let (provs, unavailable) = provisioners(&settings, &services, &secrets).await?;
    for (s, why) in &unavailable {
        ctx.out
            .warn(format!("{}: user add skipped: {why}", s.display_name()));
    }
    let opts = users::AddOptions {
        dry_run: args.dry_run,
        ready_timeout: args.timeout,
        adopt_existing: args.adopt,
        ..users::AddOptions::default()
    };
    let report = users::add(&provs, &creds, &secrets, &opts).await;
    if ctx.out.is_json() {
        ctx.out.json(&report)?;
    } else {
        if args.dry_run {
            ctx.out.heading("Plan (dry run: nothing was changed)");
        }
        let rows = report
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.service.display_name().to_owned(),
                    r.user.clone(),
                    r.action.as_str().to_owned(),
                    r.detail.clone().unwrap_or_default(),
                ]
            })
            .collect();
        ctx.out
            .table(&["Service", "User", "Result", "Detail"], rows);
        for (service, counts) in &report.summary {
            let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
            ctx.out
                .line(format!("{}: {}", service.display_name(), parts.join(", ")));
        }
    }
    if report.refused() {
        return Err(CliError::Usage(
            "credentials.csv names an admin account or an object this tool did not create for that user (see the table); nothing was changed".to_owned(),
        )
        .into());
    }
    if report.failed() {
        ctx.out
            .failure("some users could not be provisioned (see the table)");
        Ok(Exit::Failed)
    } else if !unavailable.is_empty() {
        ctx.out
            .failure("some services were skipped (see the warnings above)");
        Ok(Exit::Failed)
    } else {
        if !args.dry_run {
            ctx.out.success("Users are in place");
        }
        Ok(Exit::Success)
    }
}

/// `user list`.
pub(crate) async fn list(ctx: &Ctx, args: &UserListArgs) -> anyhow::Result<Exit> {
    let settings = ctx.settings()?;
    let services = selected(ctx, args.selector.services.as_deref())?;
    let creds = read_credentials(&settings, &[])?;
    let secrets = crate::commands::db::password_store_for(ctx, &settings).await?;
    let (provs, unavailable) = provisioners(&settings, &services, &secrets).await?;
    for (s, why) in &unavailable {
        ctx.out
            .warn(format!("{}: user list skipped: {why}", s.display_name()));
    }
    let report = users::list(&provs, &creds, &secrets).await;
    if ctx.out.is_json() {
        ctx.out.json(&report)?;
    } else {
        let yes = |b: bool| if b { "yes" } else { "no" }.to_owned();
        let rows = report
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.service.display_name().to_owned(),
                    r.user.clone(),
                    yes(r.in_csv),
                    yes(r.in_service),
                    yes(r.recorded),
                ]
            })
            .collect();
        ctx.out.table(
            &["Service", "User", "In CSV", "In service", "Recorded"],
            rows,
        );
        for (s, e) in &report.errors {
            ctx.out.failure(format!("{}: {e}", s.display_name()));
        }
    }
    Ok(if report.errors.is_empty() && unavailable.is_empty() {
        Exit::Success
    } else {
        Exit::Failed
    })
}

/// `user remove`.
pub(crate) async fn remove(ctx: &Ctx, args: &UserRemoveArgs) -> anyhow::Result<Exit> {
    credentials::check_username(&args.name).map_err(CliError::Usage)?;
    let settings = ctx.settings()?;
    let services = selected(ctx, args.selector.services.as_deref())?;
    let what = if args.keep_data {
        "its login (data kept; a GitLab account is blocked, not deleted)"
    } else {
        "its login AND its database/vhost/org/bucket"
    };
    ctx.confirm(&format!(
        "This removes user {:?} from {}: {what}.",
        args.name,
        services
            .iter()
            .map(|s| s.display_name())
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    let secrets = crate::commands::db::password_store_for(ctx, &settings).await?;
    let (provs, unavailable) = provisioners(&settings, &services, &secrets).await?;
    for (s, why) in &unavailable {
        ctx.out
            .warn(format!("{}: user remove skipped: {why}", s.display_name()));
    }
    let report = users::remove(&provs, &args.name, args.keep_data, &secrets).await;
    if ctx.out.is_json() {
        ctx.out.json(&report)?;
    } else {
        let rows = report
            .rows
            .iter()
            .map(|r| {
                vec![
                    r.service.display_name().to_owned(),
                    r.user.clone(),
                    r.result.to_owned(),
                    r.detail.clone().unwrap_or_default(),
                ]
            })
            .collect();
        ctx.out
            .table(&["Service", "User", "Result", "Detail"], rows);
    }
    Ok(if report.failed() || !unavailable.is_empty() {
        Exit::Failed
    } else {
        Exit::Success
    })
}

/// `user reset-password`: the ThingsBoard admins (sysadmin and tenant admin) and the GitLab
/// root set to their configured passwords, using and updating the password store; exit 1 on failure.
pub(crate) async fn reset_password(ctx: &Ctx, args: &ResetPasswordArgs) -> anyhow::Result<Exit> {
    let raw = args.services.as_deref().unwrap_or("thingsboard,gitlab");
    let chosen = catalog::parse_selector(Some(raw))?;
    let settings = ctx.settings()?;
    let secrets = crate::commands::db::password_store_for(ctx, &settings).await?;
    ctx.out.line("Resetting service passwords...");
    let (mut ran, mut failed) = (0usize, 0usize);
    for s in chosen {
        match s {
            Service::ThingsBoard => {
                ran += 1;
                let r = match services_thingsboard::ThingsBoard::from_settings(
                    &settings,
                    secrets.clone(),
                ) {
                    Ok(tb) => tb.reset_passwords().await,
                    Err(e) => Err(e),
                };
                match r {
                    Ok(r) if matches!(r.tenant_admin, Some(Err(_))) => {
                        ctx.out.warn(format!("ThingsBoard: {}", r.message()));
                    }
                    Ok(r) => ctx.out.success(format!("ThingsBoard: {}", r.message())),
                    Err(e) => {
                        failed += 1;
                        ctx.out.failure(format!("ThingsBoard: {e}"));
                    }
                }
            }
            Service::GitLab => {
                ran += 1;
                let r = match services_gitlab::GitLab::from_settings(&settings, secrets.clone()) {
                    Ok(gl) => gl.reset_root_password().await,
                    Err(e) => Err(e),
                };
                match r {
                    Ok(()) => ctx
                        .out
                        .success("GitLab: root password updated successfully"),
                    Err(e) => {
                        failed += 1;
                        ctx.out.failure(format!("GitLab: {e}"));
                    }
                }
            }
            other => ctx.out.warn(format!(
                "Password reset is not supported for: {}",
                other.compose_name()
            )),
        }
    }
    if ran == 0 {
        return Err(CliError::Usage(
            "No supported services specified for password reset (thingsboard, gitlab).".into(),
        )
        .into());
    }
    if failed > 0 {
        ctx.out.failure(format!(
            "Password reset completed with {failed} error(s). See messages above."
        ));
        return Ok(Exit::Failed);
    }
    ctx.out.success("Password reset completed!");
    Ok(Exit::Success)
}
