//! `users-sync`: the `user add` reconcile of `config/credentials.csv`, through the same
//! provisioners the cli builds (`users::provisioners_for`).

use password_store::PasswordStore;

use crate::env::Env;
use crate::job::JobOutput;

/// One pass of users-sync.
///
/// # Errors
/// The password store cannot be opened or the provisioners cannot be built.
pub(crate) async fn run(env: &Env) -> anyhow::Result<JobOutput> {
    let services = users::SUPPORTED;
    let path = env
        .settings
        .project_dir()
        .join("config")
        .join("credentials.csv");
    let creds = match credentials::read(&path, &services) {
        Ok(c) => c,
        Err(e) => return Ok(JobOutput::failed(e.to_string())),
    };
    let secrets = PasswordStore::open(env.store.clone(), &env.key_source()).await?;
    let provs = users::provisioners_for(
        &env.settings,
        &services,
        &secrets,
        env.docker_host.as_deref(),
    )
    .await?;
    let mut out = JobOutput::default();
    for (s, why) in &provs.unavailable {
        out.warnings
            .push(format!("{}: skipped: {why}", s.compose_name()));
    }
    let report = users::add(
        &provs.ready,
        &creds,
        &secrets,
        &users::AddOptions::default(),
    )
    .await;
    for row in &report.rows {
        let line = format!(
            "{} {}: {}{}",
            row.service.compose_name(),
            row.user,
            row.action.as_str(),
            row.detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        );
        match row.action {
            users::Action::Failed | users::Action::Refused => out.failures.push(line),
            users::Action::Unchanged | users::Action::Skipped => {}
            _ => out.actions.push(line),
        }
    }
    out.summary = report
        .summary
        .iter()
        .map(|(s, counts)| {
            let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
            format!("{}: {}", s.compose_name(), parts.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    if out.summary.is_empty() {
        out.summary = "no service to provision".to_owned();
    }
    Ok(out)
}
