//! `host setup`: thin handler over the certs component.

use crate::args::SetupArgs;
use crate::commands::certs::print_setup;
use crate::context::Ctx;
use crate::exit::Exit;

/// The certs component's options from the resolved settings.
pub(crate) fn certs_options(
    settings: &config::Settings,
    skip_chown: bool,
    dry_run: bool,
) -> certs::CertsOptions {
    let owner = |uid: &str, gid: &str| certs::Owner::new(settings.id(uid), settings.id(gid));
    certs::CertsOptions {
        project_dir: settings.project_dir().to_owned(),
        certs_src: settings.certs_src(),
        hostname: settings.hostname().to_owned(),
        owners: certs::Owners {
            grafana: owner("USERID", "GROUPID"),
            mongo: owner("MONGO_UID", "MONGO_GID"),
            influx: owner("INFLUX_UID", "INFLUX_GID"),
            rabbit: certs::Owner::uid_only(settings.id("RABBIT_UID")),
            postgres: owner("POSTGRES_UID", "POSTGRES_GID"),
            thingsboard: owner("THINGSBOARD_UID", "THINGSBOARD_GID"),
        },
        skip_chown,
        dry_run,
    }
}

/// `host setup [--dry-run] [--skip-chown]`.
pub(crate) async fn setup(ctx: &Ctx, args: &SetupArgs) -> anyhow::Result<Exit> {
    let settings = ctx.settings()?;
    let opts = certs_options(&settings, args.skip_chown, args.dry_run);
    let report = certs::host_setup(&opts)?;
    if ctx.out.is_json() {
        ctx.out.json(&report)?;
        return Ok(Exit::Success);
    }
    print_setup(ctx, &report);
    if report.dry_run {
        ctx.out.line("Dry run: nothing was changed.");
    } else {
        ctx.out.success("Setup completed.");
        ctx.out.line("Next steps:");
        ctx.out.line("  dtaas-services service start");
        ctx.out
            .line("  dtaas-services service install -s thingsboard");
        ctx.out.line("  dtaas-services service install -s gitlab");
    }
    Ok(Exit::Success)
}
