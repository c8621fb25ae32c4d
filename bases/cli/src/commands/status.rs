//! `service status` (containers, health, our readiness probes, image, ports and URLs,
//! uptime; restarts with `--json`; `--watch`) and `service logs`.

use std::time::{Duration, SystemTime};

use futures_util::StreamExt as _;
use lifecycle::{Lifecycle, Selection};
use service_probes::{ProbeSettings, ProbeState, ServiceView, StatusView, status_view_of};

use crate::args::{LogsArgs, StatusArgs};
use crate::commands::db::open_existing_store;
use crate::commands::{prepare, prepare_with};
use crate::context::Ctx;
use crate::exit::{CliError, Exit};

/// How often `--watch` refreshes.
const WATCH_EVERY: Duration = Duration::from_secs(2);

fn status_label(state: &str) -> String {
    match state {
        "running" => "✅ running".to_owned(),
        "restarting" => "🔃 restarting".to_owned(),
        "exited" => "🔴 stopped".to_owned(),
        "removed" => "🗑️ removed".to_owned(),
        "starting" => "⏳ starting".to_owned(),
        "unhealthy" => "⚠️ not ready".to_owned(),
        other => format!("❓ {other}"),
    }
}

/// `3d 4h`, `2h 5m`, `4m 10s`, `12s`.
fn human_secs(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

fn ready_label(v: &ServiceView) -> String {
    match &v.probe {
        None => "-".to_owned(),
        Some(p) => {
            let mark = match p.state {
                ProbeState::Ready => "✓",
                ProbeState::NotReady | ProbeState::Unreachable => "✗",
                ProbeState::Skipped => "-",
            };
            let mut detail = p.detail.clone();
            if detail.chars().count() > 48 {
                detail = detail.chars().take(47).collect::<String>() + "…";
            }
            format!("{mark} {detail}")
        }
    }
}

/// A finding of `backup::check_state` in `--json`: the finding's fields and its message.
#[derive(serde::Serialize)]
struct StateWarning<'a> {
    #[serde(flatten)]
    finding: &'a backup::StateFinding,
    message: String,
}

/// `--json`: the status view and the state findings of the selected services.
#[derive(serde::Serialize)]
struct StatusJson<'a> {
    #[serde(flatten)]
    view: &'a StatusView,
    warnings: Vec<StateWarning<'a>>,
}

/// The state findings (docs/data-safety.md) of the selected services.
fn state_warnings(project: &compose::Project, sel: &Selection) -> Vec<backup::StateFinding> {
    backup::check_state(project)
        .into_iter()
        .filter(|f| match sel {
            Selection::All => true,
            Selection::Only(v) => v.iter().any(|s| s.compose_name() == f.service()),
        })
        .collect()
}

/// The desired state: `stopped`, `running*` when assumed (legacy), `-` when unknown; a
/// deviation is flagged with `!`, maintenance with the command.
fn desired_label(v: &service_probes::ServiceView) -> String {
    let mut label = v.desired.map_or_else(|| "-".to_owned(), |d| d.to_string());
    if v.desired_assumed {
        label.push('*');
    }
    if v.deviation.is_some() {
        label.push_str(" !");
    }
    if v.maintenance.is_some() {
        label.push_str(" (maintenance)");
    }
    label
}

/// Every published port as `host→container` (`/udp` marked), or `-`.
fn ports_label(ports: &[service_probes::PortView]) -> String {
    if ports.is_empty() {
        return "-".to_owned();
    }
    ports
        .iter()
        .map(|p| {
            let udp = if p.protocol == "udp" { "/udp" } else { "" };
            format!("{}→{}{udp}", p.host_port, p.container_port)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn print_view(
    ctx: &Ctx,
    view: &StatusView,
    warnings: &[backup::StateFinding],
) -> anyhow::Result<()> {
    if ctx.out.is_json() {
        return ctx.out.json(&StatusJson {
            view,
            warnings: warnings
                .iter()
                .map(|finding| StateWarning {
                    finding,
                    message: finding.to_string(),
                })
                .collect(),
        });
    }
    if !view.matched() {
        return Ok(());
    }
    let rows = view
        .services
        .iter()
        .map(|v| {
            vec![
                v.display_name.to_owned(),
                v.container.clone(),
                status_label(&v.effective),
                desired_label(v),
                ready_label(v),
                v.image.clone(),
                v.url.clone().unwrap_or_else(|| "-".to_owned()),
                ports_label(&v.ports),
                v.uptime_secs.map_or_else(|| "-".to_owned(), human_secs),
            ]
        })
        .collect();
    ctx.out.table(
        &[
            "Service",
            "Container Name",
            "Status",
            "Desired",
            "Ready",
            "Image",
            "URL",
            "Ports",
            "Uptime",
        ],
        rows,
    );
    Ok(())
}

/// `service status [--json] [--watch]`.
pub(crate) async fn status(ctx: &Ctx, args: &StatusArgs) -> anyhow::Result<Exit> {
    let raw = args.selector.services.as_deref();
    let sel = Selection::parse(raw)?;
    let settings = ctx.settings()?;
    let (engine, files, vars) = prepare_with(&settings).await?;
    // Read-only: the recorded intent when a state database exists (none is created).
    let store = open_existing_store(&settings).await?;
    let mut l = Lifecycle::new(&engine, &files, &vars)?;
    if let Some(store) = &store {
        l = l.with_intents(store);
    }
    let probes = ProbeSettings {
        enabled: !args.no_probes,
        ..ProbeSettings::from_settings(&settings)
    };
    let project = files.name.clone();
    let warnings = state_warnings(l.compose().project(), &sel);
    loop {
        // The table is the one list call (as `docker ps`); `--json` also carries the exact
        // start time and the restart count, which only an inspect per container says.
        let report = async {
            if ctx.out.is_json() {
                l.status(&sel).await
            } else {
                l.status_listed(&sel).await
            }
        };
        let view = status_view_of(&project, report, &probes).await?;
        if args.watch {
            ctx.out.clear_screen();
        }
        print_view(ctx, &view, &warnings)?;
        if !ctx.out.is_json() {
            for v in &view.services {
                let name = v.service.compose_name();
                if let Some(d) = &v.deviation {
                    ctx.out.warn(format!("{name}: {d}"));
                }
                if let Some(m) = &v.maintenance {
                    ctx.out.warn(format!("{name}: in maintenance by {m}"));
                }
            }
            for w in &warnings {
                ctx.out.warn(w);
            }
            if !warnings.is_empty() {
                ctx.out
                    .hint("`dtaas-services doctor` tells how to fix each (docs/data-safety.md)");
            }
        }
        for s in &view.not_defined {
            ctx.out.warn(format!(
                "{} is not defined in the compose files",
                s.compose_name()
            ));
        }
        if !view.matched() {
            ctx.out.failure("No services found");
            return Ok(Exit::Failed);
        }
        if !args.watch {
            return Ok(Exit::Success);
        }
        tokio::select! {
            () = tokio::time::sleep(WATCH_EVERY) => {}
            _ = tokio::signal::ctrl_c() => return Ok(Exit::Success),
        }
    }
}

/// `--since`: a duration ago (`10m`) or an RFC 3339 time, as Unix seconds.
fn since_secs(raw: &str) -> Result<i64, CliError> {
    let t = match humantime::parse_duration(raw.trim()) {
        Ok(d) => SystemTime::now()
            .checked_sub(d)
            .unwrap_or(SystemTime::UNIX_EPOCH),
        Err(_) => humantime::parse_rfc3339_weak(raw.trim().trim_end_matches('Z')).map_err(|_| {
            CliError::Usage(format!(
                "invalid --since {raw:?}: expected a duration such as 10m or 2h, or a time such as 2025-01-31T12:00:00Z"
            ))
        })?,
    };
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// `service logs -s X [-f] [--tail N] [--since WHEN]`.
pub(crate) async fn logs(ctx: &Ctx, args: &LogsArgs) -> anyhow::Result<Exit> {
    let services = catalog::parse_selector(Some(&args.service))?;
    let [service] = services.as_slice() else {
        return Err(CliError::Usage(format!(
            "service logs takes exactly one service, got {}: {}",
            services.len(),
            services
                .iter()
                .map(|s| s.compose_name())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    };
    let since = args.since.as_deref().map(since_secs).transpose()?;
    let (engine, files, vars) = prepare(ctx).await?;
    let l = Lifecycle::new(&engine, &files, &vars)?;
    let opts = docker::LogsOptions {
        follow: args.follow,
        tail: args.tail,
        since,
        timestamps: args.timestamps,
    };
    let mut stream = l.logs(*service, &opts).await?;
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            _ = tokio::signal::ctrl_c() => None,
        };
        let Some(chunk) = next else {
            break;
        };
        let chunk = chunk?;
        if let Err(e) = ctx
            .out
            .raw(chunk.stream == docker::LogStream::Stderr, &chunk.bytes)
        {
            // A closed pipe (`| head`) ends the command quietly.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                break;
            }
            return Err(e.into());
        }
    }
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary directory, removed on drop.
    struct Dir(std::path::PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn dir(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("cli-status-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(std::fs::canonicalize(&d).unwrap())
    }

    fn load(
        root: &std::path::Path,
        vars: &std::collections::BTreeMap<String, String>,
    ) -> compose::Project {
        compose::load_project(
            &compose::ProjectFiles {
                name: "p".into(),
                working_dir: root.to_owned(),
                files: compose::default_compose_files(root),
            },
            vars,
        )
        .unwrap()
    }

    #[test]
    fn json_lists_the_state_findings_of_the_selected_services() {
        let d = dir("warnings");
        std::fs::write(
            d.0.join("compose.services.yml"),
            r#"
services:
  rabbitmq:
    image: img:1
    volumes: ["./data/rabbitmq:/var/lib/rabbitmq"]
  grafana:
    image: img:1
    volumes: ["./data/grafana:/var/lib/grafana"]
"#,
        )
        .unwrap();
        let project = load(&d.0, &std::collections::BTreeMap::new());
        let warnings = state_warnings(&project, &Selection::All);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            state_warnings(&project, &Selection::Only(vec![catalog::Service::Grafana])).is_empty(),
            "only the selection's findings"
        );
        let view = StatusView {
            project: "p".into(),
            hostname: "h".into(),
            services: Vec::new(),
            not_defined: Vec::new(),
        };
        let json = serde_json::to_value(StatusJson {
            view: &view,
            warnings: warnings
                .iter()
                .map(|finding| StateWarning {
                    finding,
                    message: finding.to_string(),
                })
                .collect(),
        })
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "project": "p",
                "hostname": "h",
                "services": [],
                "not_defined": [],
                "warnings": [{
                    "problem": "no-stable-identity",
                    "service": "rabbitmq",
                    "message": "rabbitmq: no fixed hostname; every recreated container starts an empty node (set `hostname:` in its compose file)"
                }]
            })
        );
    }

    #[test]
    fn a_generated_project_has_no_state_warnings() {
        let d = dir("generated");
        project::generate(&d.0, false).unwrap();
        let (settings, _) = config::load(&config::LoadOptions {
            project_dir: d.0.clone(),
            env: Vec::new(),
            overrides: vec![("HOSTNAME".into(), "example.org".into())],
        })
        .unwrap();
        let project = load(&d.0, &settings.interpolation_vars());
        assert!(project.services.contains_key("rabbitmq"));
        assert_eq!(state_warnings(&project, &Selection::All), Vec::new());
    }

    #[test]
    fn uptime_is_short_and_human() {
        assert_eq!(human_secs(12), "12s");
        assert_eq!(human_secs(250), "4m 10s");
        assert_eq!(human_secs(7500), "2h 5m");
        assert_eq!(human_secs(3 * 86_400 + 4 * 3600 + 5), "3d 4h");
    }

    #[test]
    fn since_takes_durations_and_times() {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let ten_min = since_secs("10m").unwrap();
        assert!((i64::try_from(now).unwrap() - 600 - ten_min).abs() <= 2);
        assert_eq!(since_secs("2025-01-31T12:00:00Z").unwrap(), 1_738_324_800);
        assert!(since_secs("yesterday-ish").is_err());
    }
}
