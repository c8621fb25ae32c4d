//! `secrets list|get|export`: thin handlers over the password_store component.

use secrecy::ExposeSecret as _;
use serde::Serialize;

use crate::args::{ExportArgs, NameArg};
use crate::commands::db::open_password_store;
use crate::context::Ctx;
use crate::exit::{CliError, Exit};

#[derive(Serialize)]
struct Row {
    name: String,
    created_at: String,
    updated_at: String,
}

/// `secrets list [--json]`: names and dates, never values.
pub(crate) async fn list(ctx: &Ctx) -> anyhow::Result<Exit> {
    let ps = open_password_store(ctx).await?;
    let rows: Vec<Row> = ps
        .list()
        .await?
        .into_iter()
        .map(|s| Row {
            name: s.name,
            created_at: humantime::format_rfc3339_seconds(s.created_at).to_string(),
            updated_at: humantime::format_rfc3339_seconds(s.updated_at).to_string(),
        })
        .collect();
    ps.store().close().await;
    if ctx.out.is_json() {
        ctx.out.json(&rows)?;
    } else if rows.is_empty() {
        ctx.out.line("The password store is empty.");
    } else {
        ctx.out.table(
            &["Name", "Created (UTC)", "Updated (UTC)"],
            rows.into_iter()
                .map(|r| vec![r.name, r.created_at, r.updated_at])
                .collect(),
        );
    }
    Ok(Exit::Success)
}

/// `secrets get NAME`: print the value on stdout (exit 1 when absent).
pub(crate) async fn get(ctx: &Ctx, args: &NameArg) -> anyhow::Result<Exit> {
    let ps = open_password_store(ctx).await?;
    let value = ps.get(&args.name).await?;
    ps.store().close().await;
    match value {
        Some(v) => {
            ctx.out.value(v.expose_secret());
            Ok(Exit::Success)
        }
        None => {
            ctx.out
                .failure(format!("{} is not in the password store", args.name));
            ctx.out
                .hint("`dtaas-services secrets list` shows the stored names");
            Ok(Exit::Failed)
        }
    }
}

/// `secrets export gitlab`: write config/gitlab_tokens.json (0600) in the legacy shape.
pub(crate) async fn export(ctx: &Ctx, args: &ExportArgs) -> anyhow::Result<Exit> {
    if args.target != "gitlab" {
        return Err(CliError::Usage(format!("unknown export target {:?}", args.target)).into());
    }
    let project = ctx.project_dir()?;
    let path = project.join("config").join("gitlab_tokens.json");
    let ps = open_password_store(ctx).await?;
    let result = ps.export_gitlab_tokens(&path).await;
    ps.store().close().await;
    result?;
    ctx.out
        .success(format!("Wrote {} (mode 0600)", path.display()));
    Ok(Exit::Success)
}
