//! `history`: the journal of the state store.

use serde::Serialize;

use crate::args::HistoryArgs;
use crate::commands::db::open_store;
use crate::context::Ctx;
use crate::exit::Exit;

#[derive(Serialize)]
struct Row {
    id: i64,
    at: String,
    command: String,
    service: Option<String>,
    outcome: String,
    detail: String,
}

/// `history [--json] [--limit N]`: newest first.
pub(crate) async fn run(ctx: &Ctx, args: &HistoryArgs) -> anyhow::Result<Exit> {
    let store = open_store(ctx).await?;
    let records = store.history(args.limit).await?;
    store.close().await;
    let rows: Vec<Row> = records
        .into_iter()
        .map(|r| Row {
            id: r.id,
            at: humantime::format_rfc3339_seconds(r.entry.at).to_string(),
            command: r.entry.command,
            service: r.entry.service,
            outcome: r.entry.outcome.to_string(),
            detail: r.entry.detail,
        })
        .collect();
    if ctx.out.is_json() {
        ctx.out.json(&rows)?;
    } else if rows.is_empty() {
        ctx.out.line("The journal is empty.");
    } else {
        ctx.out.table(
            &["When (UTC)", "Command", "Service", "Outcome", "Detail"],
            rows.into_iter()
                .map(|r| {
                    vec![
                        r.at,
                        r.command,
                        r.service.unwrap_or_default(),
                        r.outcome,
                        r.detail,
                    ]
                })
                .collect(),
        );
    }
    Ok(Exit::Success)
}
