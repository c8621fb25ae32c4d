//! `doctor`: checks of the host and the project, over the doctor component.

use docker::BollardEngine;
use doctor::{DoctorOptions, Level, diagnose};

use crate::commands::db::store_location;
use crate::context::Ctx;
use crate::exit::Exit;

/// `doctor [--json]`: exit 1 when any check fails.
pub(crate) async fn run(ctx: &Ctx) -> anyhow::Result<Exit> {
    let settings = ctx.settings()?;
    let files = compose::default_compose_files(settings.project_dir());
    let host = std::env::var("DOCKER_HOST").ok();
    let engine = BollardEngine::connect(host.as_deref())
        .await
        .map_err(|e| e.to_string());
    let opts = DoctorOptions::new(&settings, files, store_location(&settings));
    let report = diagnose(engine.as_ref().map_err(Clone::clone), &opts).await;
    if ctx.out.is_json() {
        ctx.out.json(&report)?;
    } else {
        for f in &report.findings {
            let text = format!("{}: {}", f.check, f.message);
            match f.level {
                Level::Ok => ctx.out.success(text),
                Level::Warning => ctx.out.warn(text),
                Level::Error => ctx.out.failure(text),
            }
            if f.level != Level::Ok
                && let Some(h) = &f.hint
            {
                ctx.out.hint(h);
            }
        }
    }
    Ok(if report.failed() {
        Exit::Failed
    } else {
        Exit::Success
    })
}
