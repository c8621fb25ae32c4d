//! `service upgrade|backup|restore`: thin handlers over the backup component.

use backup::{
    BackupKind, BackupOptions, DataSafety, ImageNote, RestoreOptions, UpgradeAction,
    UpgradeOptions, UpgradeReport,
};
use lifecycle::Selection;

use crate::args::{ServiceBackupArgs, ServiceRestoreArgs, UpgradeArgs};
use crate::commands::db::open_store;
use crate::commands::{prepare, prepare_with};
use crate::context::Ctx;
use crate::exit::{CliError, Exit};

fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    #[allow(clippy::cast_precision_loss, reason = "a display value")]
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `service upgrade -s X [--image REF]`.
pub(crate) async fn upgrade(ctx: &Ctx, args: &UpgradeArgs) -> anyhow::Result<Exit> {
    let services = catalog::parse_selector(Some(&args.service))?;
    let [service] = services.as_slice() else {
        return Err(CliError::Usage(format!(
            "service upgrade takes exactly one service, got: {}",
            args.service
        ))
        .into());
    };
    if args.image.as_deref().is_some_and(|i| i.trim().is_empty()) {
        return Err(CliError::Usage("--image must not be empty".into()).into());
    }
    let settings = ctx.settings()?;
    let (engine, files, vars) = prepare_with(&settings).await?;
    let store = store::Store::open(&crate::commands::db::store_location(&settings)).await?;
    let ds = DataSafety::new(&engine, &files, &vars)?.marking(&store);
    let target = args
        .image
        .clone()
        .unwrap_or_else(|| settings.image(*service).to_owned());
    ctx.out.line(format!(
        "Upgrading {} to {target}...",
        service.display_name()
    ));
    let progress = ctx.out.progress();
    let opts = UpgradeOptions {
        image: args.image.clone(),
        timeout: args.timeout,
        backup_to: None,
        progress: progress.sink(),
    };
    let env_file = config::env_file_path(settings.project_dir());
    let out = ds.upgrade_recorded(*service, &opts, &env_file).await?;
    progress.finish();
    let key = service.image_key();
    let image = args.image.as_deref().unwrap_or_default();
    match &out.image {
        Some(ImageNote::KeptAfterFailure) => ctx.out.warn(format!(
            "{key}={image} stays recorded in config/services.env: the previous image must not start over data the new one may have changed"
        )),
        Some(ImageNote::PutBackFailed(w)) => ctx.out.warn(format!(
            "could not put {key} back in config/services.env: {w}; it names {image}, which does not run"
        )),
        _ => {}
    }
    let r = out.result?;
    print_upgrade(ctx, *service, &r, out.image == Some(ImageNote::Recorded))
}

/// The report of a successful upgrade; exit 1 when a service it stopped does not run again.
fn print_upgrade(
    ctx: &Ctx,
    service: catalog::Service,
    r: &UpgradeReport,
    recorded: bool,
) -> anyhow::Result<Exit> {
    if let Some(w) = &r.pull_warning {
        ctx.out.warn(format!(
            "could not pull {}: {w}; using the local image",
            r.image
        ));
    }
    for (s, why) in &r.left_stopped {
        ctx.out.warn(format!(
            "{s} was stopped for the upgrade and is not running again: {why}"
        ));
    }
    // The upgrade stands, but a service it stopped does not run: exit 1.
    let exit = if r.left_stopped.is_empty() {
        Exit::Success
    } else {
        Exit::Failed
    };
    if ctx.out.is_json() {
        ctx.out.json(r)?;
        return Ok(exit);
    }
    if let Some(b) = &r.backup {
        ctx.out.line(format!(
            "Data backed up before the upgrade: {}",
            b.display()
        ));
    }
    match r.action {
        UpgradeAction::Unchanged => ctx.out.success(format!(
            "{} already runs {}; nothing to do",
            service.display_name(),
            r.image
        )),
        UpgradeAction::Upgraded => ctx.out.success(format!(
            "{} upgraded from {} to {} and ready",
            service.display_name(),
            r.previous,
            r.image
        )),
    }
    for s in &r.restarted {
        ctx.out
            .line(format!("{s} was stopped for the upgrade and runs again"));
    }
    if recorded {
        ctx.out.line(format!(
            "{}={} recorded in config/services.env",
            r.image_key, r.image
        ));
    }
    Ok(exit)
}

/// `service backup [-s LIST] [--to DIR]`.
pub(crate) async fn backup(ctx: &Ctx, args: &ServiceBackupArgs) -> anyhow::Result<Exit> {
    let sel = Selection::parse(args.selector.services.as_deref())?;
    let (engine, files, vars) = prepare(ctx).await?;
    let store = open_store(ctx).await?;
    let ds = DataSafety::new(&engine, &files, &vars)?.marking(&store);
    ctx.out.line("Backing up service data...");
    let progress = ctx.out.progress();
    let r = ds
        .backup(
            &sel,
            &BackupOptions {
                to: args.to.clone(),
                postgres_dump: true,
                timeout: args.timeout,
                progress: progress.sink(),
            },
        )
        .await;
    progress.finish();
    let r = r?;
    if ctx.out.is_json() {
        ctx.out.json(&r)?;
        return Ok(Exit::Success);
    }
    for s in &r.manifest.services {
        let how = match s.kind {
            BackupKind::PgDumpall => "pg_dumpall".to_owned(),
            BackupKind::Archive => s.paths.join(", "),
        };
        ctx.out.success(format!(
            "{}: {how} -> {} ({}, sha256 {})",
            s.service,
            s.file,
            human(s.size),
            &s.sha256[..12.min(s.sha256.len())]
        ));
        for l in &s.left_out {
            ctx.out.line(format!("  {}: {}", l.path, l.reason));
        }
    }
    for (s, why) in &r.skipped {
        ctx.out.line(format!("{s}: skipped ({why})"));
    }
    for s in &r.restarted {
        ctx.out.line(format!(
            "{s} was stopped while its database was archived and runs again"
        ));
    }
    ctx.out
        .success(format!("Backup written to {}", r.dir.display()));
    Ok(Exit::Success)
}

/// `service restore --from DIR [-s LIST] --yes`.
pub(crate) async fn restore(ctx: &Ctx, args: &ServiceRestoreArgs) -> anyhow::Result<Exit> {
    let sel = Selection::parse(args.selector.services.as_deref())?;
    let from = std::path::absolute(&args.from)?;
    let names: Option<Vec<String>> = match &sel {
        Selection::All => None,
        Selection::Only(v) => Some(v.iter().map(|s| s.compose_name().to_owned()).collect()),
    };
    // Refuse a damaged or unsafe backup before asking anything.
    let manifest = backup::verify_restorable(&from, names.as_deref())?;
    let list = names.unwrap_or_else(|| {
        manifest
            .services
            .iter()
            .map(|s| s.service.clone())
            .collect()
    });
    ctx.confirm(&format!(
        "This will stop {} and replace their data with the backup in {} (the current data is kept until the restore succeeded).",
        list.join(", "),
        from.display()
    ))?;
    let (engine, files, vars) = prepare(ctx).await?;
    let store = open_store(ctx).await?;
    let ds = DataSafety::new(&engine, &files, &vars)?.marking(&store);
    let progress = ctx.out.progress();
    let r = ds
        .restore(
            &from,
            &sel,
            &RestoreOptions {
                timeout: args.timeout,
                progress: progress.sink(),
            },
        )
        .await;
    progress.finish();
    if let Err(backup::BackupError::Partial {
        restored,
        leftovers,
        left_stopped,
        ..
    }) = &r
    {
        for s in restored {
            ctx.out.success(format!("{s}: restored and ready"));
        }
        for p in leftovers {
            ctx.out.warn(format!(
                "could not delete the previous data set aside in {}",
                p.display()
            ));
        }
        for s in left_stopped {
            ctx.out.warn(format!(
                "{s} was stopped for the restore and could not be started again"
            ));
        }
    }
    let r = r?;
    if ctx.out.is_json() {
        ctx.out.json(&r)?;
        return Ok(Exit::Success);
    }
    for s in &r.restored {
        ctx.out.success(format!("{s}: restored and ready"));
    }
    for p in &r.leftovers {
        ctx.out.warn(format!(
            "could not delete the previous data set aside in {}",
            p.display()
        ));
    }
    ctx.out.success(format!("Restored from {}", from.display()));
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn sizes_are_human() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(2048), "2.0 KiB");
        assert_eq!(human(5 * 1024 * 1024 + 1), "5.0 MiB");
    }
}
