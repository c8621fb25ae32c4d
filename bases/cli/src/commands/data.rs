//! `service upgrade|backup|restore`: thin handlers over the backup component.

use backup::{
    BackupKind, BackupOptions, DataSafety, RestoreOptions, UpgradeAction, UpgradeOptions,
};
use lifecycle::Selection;

use crate::args::{ServiceBackupArgs, ServiceRestoreArgs, UpgradeArgs};
use crate::commands::db::open_store;
use crate::commands::service::{prepare, prepare_with};
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
    let ds = DataSafety::new(&engine, &files, &vars)?;
    let target = args
        .image
        .clone()
        .unwrap_or_else(|| settings.image(*service).to_owned());
    ctx.out.line(format!(
        "Upgrading {} to {target}...",
        service.display_name()
    ));
    // The new image is recorded BEFORE the container is recreated: should anything fail
    // once it runs (this process, the write), the next `service start` runs the new image
    // again, never the old one over data the new version may have migrated.
    let env_path = config::env_file_path(settings.project_dir());
    let recorded = match &args.image {
        Some(image) => record_image(&env_path, service.image_key(), image)?,
        None => None,
    };
    let progress = ctx.out.progress();
    let store = store::Store::open(&crate::commands::db::store_location(&settings)).await?;
    // The maintenance marker (lifecycle's rule) around backup's upgrade: service-health skips the
    // service meanwhile.
    let r = lifecycle::in_maintenance(
        &store,
        &Selection::Only(vec![*service]),
        "service upgrade",
        Some(lifecycle::Desired::Running),
        ds.upgrade(
            *service,
            &UpgradeOptions {
                image: args.image.clone(),
                timeout: args.timeout,
                backup_to: None,
                progress: progress.sink(),
            },
        ),
    )
    .await;
    progress.finish();
    if let (Err(e), Some(previous)) = (&r, &recorded) {
        let key = service.image_key();
        if keeps_new_image(e) {
            ctx.out.warn(format!(
                "{key}={} stays recorded in config/services.env: the previous image must not start over data the new one may have changed",
                args.image.as_deref().unwrap_or_default()
            ));
        } else if let Err(w) = revert_image(&env_path, key, previous.as_deref()) {
            ctx.out.warn(format!(
                "could not put {key} back in config/services.env: {w:#}; it names {}, which does not run",
                args.image.as_deref().unwrap_or_default()
            ));
        }
    }
    let r = r?;
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
        ctx.out.json(&r)?;
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
    if recorded.is_some() {
        ctx.out.line(format!(
            "{}={} recorded in config/services.env",
            r.image_key, r.image
        ));
    }
    Ok(exit)
}

/// Set `key` to `image` in services.env (atomically). Returns the previous value
/// (`Some(None)`: the key was absent), or `None` when it already said `image`.
fn record_image(
    path: &std::path::Path,
    key: &str,
    image: &str,
) -> anyhow::Result<Option<Option<String>>> {
    let mut env = config::EnvFile::read(path)?;
    let previous = env.get(key).map(str::to_owned);
    if previous.as_deref() == Some(image) {
        return Ok(None);
    }
    env.set(key, image);
    env.write_atomic()?;
    Ok(Some(previous))
}

/// Put `key` of services.env back as [`record_image`] found it.
fn revert_image(path: &std::path::Path, key: &str, previous: Option<&str>) -> anyhow::Result<()> {
    let mut env = config::EnvFile::read(path)?;
    match previous {
        Some(v) => env.set(key, v),
        None => {
            env.unset(key);
        }
    }
    env.write_atomic()?;
    Ok(())
}

/// Whether a failed upgrade keeps the new image recorded: only when putting the previous
/// image and data back failed too (the new image may have migrated the data), also when
/// ThingsBoard, stopped for its database, was left stopped with it. Every other failure
/// left the previous image serving (or changed nothing).
fn keeps_new_image(e: &backup::BackupError) -> bool {
    match e {
        backup::BackupError::RollbackFailed { .. } => true,
        backup::BackupError::Partial { source, .. } => keeps_new_image(source),
        _ => false,
    }
}

/// `service backup [-s LIST] [--to DIR]`.
pub(crate) async fn backup(ctx: &Ctx, args: &ServiceBackupArgs) -> anyhow::Result<Exit> {
    let sel = Selection::parse(args.selector.services.as_deref())?;
    let (engine, files, vars) = prepare(ctx).await?;
    let ds = DataSafety::new(&engine, &files, &vars)?;
    ctx.out.line("Backing up service data...");
    let progress = ctx.out.progress();
    let store = open_store(ctx).await?;
    // The maintenance marker (lifecycle's rule) around backup's backup: service-health skips the
    // service meanwhile.
    let r = lifecycle::in_maintenance(
        &store,
        &sel,
        "service backup",
        None,
        ds.backup(
            &sel,
            &BackupOptions {
                to: args.to.clone(),
                postgres_dump: true,
                timeout: args.timeout,
                progress: progress.sink(),
            },
        ),
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
    let ds = DataSafety::new(&engine, &files, &vars)?;
    let progress = ctx.out.progress();
    let store = open_store(ctx).await?;
    // The maintenance marker (lifecycle's rule) around backup's restore: service-health skips the
    // service meanwhile.
    let r = lifecycle::in_maintenance(
        &store,
        &sel,
        "service restore",
        None,
        ds.restore(
            &from,
            &sel,
            &RestoreOptions {
                timeout: args.timeout,
                progress: progress.sink(),
            },
        ),
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
    use std::path::PathBuf;

    use super::{human, keeps_new_image, record_image, revert_image};

    struct Dir(PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn dir(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("cli-data-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    #[test]
    fn the_recorded_image_is_put_back_exactly() {
        let d = dir("record");
        let path = d.0.join("services.env");
        let text = "# images\nRABBITMQ_IMAGE=rabbitmq:4.2.2-management\nOTHER=1\n";
        std::fs::write(&path, text).unwrap();
        let previous = record_image(&path, "RABBITMQ_IMAGE", "rabbitmq:4.3").unwrap();
        assert_eq!(previous, Some(Some("rabbitmq:4.2.2-management".to_owned())));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# images\nRABBITMQ_IMAGE=rabbitmq:4.3\nOTHER=1\n"
        );
        assert_eq!(
            record_image(&path, "RABBITMQ_IMAGE", "rabbitmq:4.3").unwrap(),
            None,
            "already recorded: nothing to put back"
        );
        revert_image(&path, "RABBITMQ_IMAGE", Some("rabbitmq:4.2.2-management")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

        let previous = record_image(&path, "GRAFANA_IMAGE", "grafana:12").unwrap();
        assert_eq!(previous, Some(None));
        revert_image(&path, "GRAFANA_IMAGE", None).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    #[test]
    fn only_a_failed_rollback_keeps_the_new_image_recorded() {
        let rolled_back = backup::BackupError::UpgradeRolledBack {
            service: "postgres".into(),
            image: "postgres:17".into(),
            reason: "exited".into(),
            previous: "postgres:16".into(),
            backup: PathBuf::from("backups/x"),
            thingsboard_restarted: true,
        };
        assert!(!keeps_new_image(&rolled_back));
        let unavailable = backup::BackupError::ImageUnavailable {
            image: "postgres:17".into(),
            reason: "no registry".into(),
        };
        assert!(!keeps_new_image(&unavailable));
        let failed = backup::BackupError::RollbackFailed {
            action: "upgrade",
            service: "postgres".into(),
            reason: "exited".into(),
            rollback: "disk full".into(),
            saved: PathBuf::from("backups/x"),
        };
        let thingsboard_left_stopped = |source| backup::BackupError::Partial {
            restored: Vec::new(),
            leftovers: Vec::new(),
            left_stopped: vec!["thingsboard-ce".into()],
            source: Box::new(source),
        };
        assert!(!keeps_new_image(&thingsboard_left_stopped(rolled_back)));
        assert!(keeps_new_image(&thingsboard_left_stopped(failed)));
    }

    #[test]
    fn sizes_are_human() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(2048), "2.0 KiB");
        assert_eq!(human(5 * 1024 * 1024 + 1), "5.0 MiB");
    }
}
