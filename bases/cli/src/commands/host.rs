//! `host setup`: thin handler over the certs component.

use crate::args::SetupArgs;
use crate::commands::certs::print_setup;
use crate::commands::certs_options;
use crate::context::Ctx;
use crate::exit::Exit;

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
