//! The checks, in the order they are reported.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use compose::{Project, ProjectFiles, load_project};
use docker::{ContainerState, Engine, Protocol};
use secrecy::ExposeSecret as _;
use store::{Store, StoreLocation};

use crate::{DoctorReport, Level};

/// What `doctor` checks.
#[derive(Debug)]
pub struct DoctorOptions<'a> {
    pub settings: &'a config::Settings,
    /// The compose files, in load order.
    pub compose_files: Vec<PathBuf>,
    /// Where the state database is.
    pub store: StoreLocation,
    /// Warn when less than this share of the disk under `data/` is free (percent).
    pub min_free_percent: u64,
    /// Warn when less than this many bytes are free under `data/`.
    pub min_free_bytes: u64,
}

impl<'a> DoctorOptions<'a> {
    /// The defaults: warn under 10 % or 1 GiB free.
    #[must_use]
    pub fn new(
        settings: &'a config::Settings,
        compose_files: Vec<PathBuf>,
        store: StoreLocation,
    ) -> DoctorOptions<'a> {
        DoctorOptions {
            settings,
            compose_files,
            store,
            min_free_percent: 10,
            min_free_bytes: 1 << 30,
        }
    }
}

/// Shorter than this, a secret is weak.
const MIN_SECRET_LEN: usize = 8;
/// How long the HOSTNAME lookup may take.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// Run every check. `engine` is the connected engine, or why it could not be reached.
pub async fn diagnose<E: Engine>(
    engine: Result<&E, String>,
    opts: &DoctorOptions<'_>,
) -> DoctorReport {
    let mut r = DoctorReport::default();
    let s = opts.settings;
    let dir = s.project_dir().to_owned();

    // The engine.
    let engine = match engine {
        Ok(e) => match e.version().await {
            Ok(v) => {
                r.push(
                    "engine",
                    Level::Ok,
                    format!(
                        "Docker {} (API {}) answers at {}",
                        v.version,
                        v.api_version,
                        e.host()
                    ),
                    None,
                );
                Some(e)
            }
            Err(err) => {
                r.push("engine", Level::Error, err.to_string(), Some(engine_hint()));
                None
            }
        },
        Err(reason) => {
            r.push("engine", Level::Error, reason, Some(engine_hint()));
            None
        }
    };

    // The compose files, and whether they predate the current templates.
    let project = check_compose(&mut r, opts, &dir);
    check_template_age(&mut r, opts);

    // Published ports; where the services keep their state.
    if let Some(project) = &project {
        check_ports(&mut r, project, engine).await;
        check_state(&mut r, project);
        check_root_users(&mut r, project);
    }

    // HOSTNAME resolves.
    let host = s.hostname().to_owned();
    match tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host.as_str(), 0))).await {
        Ok(Ok(mut addrs)) => match addrs.next() {
            Some(a) => r.push(
                "hostname",
                Level::Ok,
                format!("HOSTNAME {host} resolves to {}", a.ip()),
                None,
            ),
            None => r.push(
                "hostname",
                Level::Error,
                format!("HOSTNAME {host} has no address"),
                Some(dns_hint(&host)),
            ),
        },
        Ok(Err(e)) => r.push(
            "hostname",
            Level::Error,
            format!("HOSTNAME {host} does not resolve: {e}"),
            Some(dns_hint(&host)),
        ),
        Err(_) => r.push(
            "hostname",
            Level::Error,
            format!(
                "HOSTNAME {host}: no DNS answer within {}s",
                DNS_TIMEOUT.as_secs()
            ),
            Some(dns_hint(&host)),
        ),
    }

    // Certificates.
    let cert_report = certs::check(&certs::CheckOptions::new(
        dir.clone(),
        Some(s.certs_src()),
        host.clone(),
    ));
    let mut cert_problems = 0;
    for f in &cert_report.findings {
        let level = match f.level {
            certs::Level::Ok => continue,
            certs::Level::Warning => Level::Warning,
            certs::Level::Error => Level::Error,
        };
        cert_problems += 1;
        let message = match &f.file {
            Some(file) => format!("{file}: {}", f.message),
            None => f.message.clone(),
        };
        r.push("certs", level, message, f.hint.clone());
    }
    if cert_problems == 0 {
        let until = cert_report
            .certificate
            .as_ref()
            .map(|c| format!(", valid for {} more days", c.days_left))
            .unwrap_or_default();
        r.push(
            "certs",
            Level::Ok,
            format!("certificates valid for {host}{until}"),
            None,
        );
    }

    check_modes(&mut r, &dir);
    check_passwords(&mut r, s);
    check_disk(&mut r, opts, &dir);

    // The state database.
    match Store::status(&opts.store).await {
        Ok(st) if !st.unknown_applied.is_empty() => r.push(
            "state_db",
            Level::Error,
            format!(
                "state database {} was migrated by a newer dtaas-services",
                st.location
            ),
            Some("use the newer dtaas-services binary".to_owned()),
        ),
        Ok(st) if !st.exists => r.push(
            "state_db",
            Level::Ok,
            format!(
                "state database {} is not created yet (the first command that needs it creates it)",
                st.location
            ),
            None,
        ),
        Ok(st) => r.push(
            "state_db",
            if st.pending.is_empty() {
                Level::Ok
            } else {
                Level::Warning
            },
            format!(
                "state database {} opens; {} migrations applied, {} pending",
                st.location,
                st.applied.len(),
                st.pending.len()
            ),
            (!st.pending.is_empty()).then(|| "run `dtaas-services db migrate`".to_owned()),
        ),
        Err(e) => r.push(
            "state_db",
            Level::Error,
            format!("the state database does not open: {e}"),
            Some("check DATABASE_URL, or move a corrupt .dtaas/state.db aside".to_owned()),
        ),
    }
    r
}

fn engine_hint() -> String {
    "start the Docker engine (systemctl start docker), or point DOCKER_HOST at it".to_owned()
}

fn dns_hint(host: &str) -> String {
    format!(
        "add a DNS record for {host}, or an /etc/hosts line for a local install; or change HOSTNAME in config/services.env"
    )
}

fn check_compose(r: &mut DoctorReport, opts: &DoctorOptions<'_>, dir: &Path) -> Option<Project> {
    if opts.compose_files.is_empty() {
        r.push(
            "compose",
            Level::Error,
            format!("no compose file in {}", dir.display()),
            Some("run `dtaas-services project generate --force` to restore them".to_owned()),
        );
        return None;
    }
    let files = ProjectFiles {
        name: opts.settings.project_name(),
        working_dir: dir.to_owned(),
        files: opts.compose_files.clone(),
    };
    match load_project(&files, &opts.settings.interpolation_vars()) {
        Ok(p) => {
            r.push(
                "compose",
                Level::Ok,
                format!(
                    "{} compose files parse: {} services",
                    files.files.len(),
                    p.services.len()
                ),
                None,
            );
            Some(p)
        }
        Err(e) => {
            r.push(
                "compose",
                Level::Error,
                e.to_string(),
                Some("fix the file, or run `dtaas-services project generate --force` to restore the templates".to_owned()),
            );
            None
        }
    }
}

/// Compose files generated by an older `project generate` (no `project::TEMPLATE_MARKER`):
/// one warning naming them, with the one step that refreshes them. The operator's own
/// files are not judged.
fn check_template_age(r: &mut DoctorReport, opts: &DoctorOptions<'_>) {
    let mut older = Vec::new();
    let mut current = 0;
    for path in &opts.compose_files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // unreadable: check_compose reports it
        };
        match project::template_age(&text) {
            project::TemplateAge::Current => current += 1,
            project::TemplateAge::Older => older.push(path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )),
            project::TemplateAge::NotGenerated => {}
        }
    }
    if !older.is_empty() {
        r.push(
            "templates",
            Level::Warning,
            format!(
                "{} predate{} the current templates (`{}`): certificate directories mounted over the images' CA bundles, `restart: always`, Grafana as root",
                older.join(", "),
                if older.len() == 1 { "s" } else { "" },
                project::TEMPLATE_MARKER
            ),
            Some("run `dtaas-services project generate --force` (refreshes the compose files, keeps services.env and the other protected files), then `dtaas-services host setup` and `dtaas-services service start`".to_owned()),
        );
    } else if current > 0 {
        r.push(
            "templates",
            Level::Ok,
            format!(
                "compose files are from the current templates (`{}`)",
                project::TEMPLATE_MARKER
            ),
            None,
        );
    }
}

/// A service whose compose `user:` is root (docs/security.md, "Containers"): Grafana's and
/// ThingsBoard's images have non-root users, the others drop privileges themselves.
fn check_root_users(r: &mut DoctorReport, project: &Project) {
    for (name, def) in &project.services {
        let Some(user) = def.user.as_deref() else {
            continue;
        };
        let uid = user.split(':').next().unwrap_or(user);
        if uid != "0" && uid != "root" {
            continue;
        }
        let hint = if name == "grafana" {
            "run Grafana as its image's user: `dtaas-services config set USERID 472`, `dtaas-services config set GROUPID 0`, `dtaas-services host setup`, then `dtaas-services service start -s grafana`".to_owned()
        } else {
            format!(
                "remove `user:` from {name} (its image runs as its own user or drops privileges itself), or run `dtaas-services project generate --force`"
            )
        };
        r.push(
            "containers",
            Level::Warning,
            format!("{name} runs as root (`user: {user}`)"),
            Some(hint),
        );
    }
}

/// Every stateful service keeps its state in writable mounts under the project, RabbitMQ
/// with a fixed host name (`backup::check_state`, docs/data-safety.md): each finding is a
/// warning (data lost or not backed up when a container is recreated).
fn check_state(r: &mut DoctorReport, project: &Project) {
    let findings = backup::check_state(project);
    if findings.is_empty() {
        r.push(
            "state",
            Level::Ok,
            "every stateful service keeps its state in mounts under the project, with a stable identity",
            None,
        );
    }
    for f in findings {
        r.push("state", Level::Warning, f.to_string(), Some(f.hint()));
    }
}

/// Host ports the project's running containers publish, with the container name.
async fn our_ports<E: Engine>(engine: &E, project: &str) -> Vec<(u16, String)> {
    let list = engine
        .list_containers(&[("com.docker.compose.project", Some(project))])
        .await
        .unwrap_or_default();
    let mut out = Vec::new();
    for c in list
        .into_iter()
        .filter(|c| c.state == ContainerState::Running)
    {
        if let Ok(info) = engine.inspect_container(&c.id).await {
            let d = info.details.unwrap_or_default();
            for p in d.published.iter().chain(&d.ports) {
                if let Some(hp) = p.host_port {
                    out.push((hp, info.name.clone()));
                }
            }
        }
    }
    out
}

async fn check_ports<E: Engine>(r: &mut DoctorReport, project: &Project, engine: Option<&E>) {
    let mut seen = BTreeSet::new();
    let mut ours: Option<Vec<(u16, String)>> = None;
    let mut fine = 0;
    for (name, def) in &project.services {
        for p in &def.ports {
            let Some(port) = p.host_port else { continue };
            if !seen.insert((port, p.protocol)) {
                continue;
            }
            let ip = p
                .host_ip
                .clone()
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| "0.0.0.0".to_owned());
            let bound = match p.protocol {
                Protocol::Udp => UdpSocket::bind((ip.as_str(), port)).map(drop),
                _ => TcpListener::bind((ip.as_str(), port)).map(drop),
            };
            match bound {
                Ok(()) => fine += 1,
                Err(e) if e.kind() == ErrorKind::AddrInUse => {
                    if ours.is_none() {
                        ours = Some(match engine {
                            Some(e) => our_ports(e, &project.name).await,
                            None => Vec::new(),
                        });
                    }
                    let holder = ours
                        .as_ref()
                        .and_then(|o| o.iter().find(|(hp, _)| *hp == port))
                        .map(|(_, c)| c.clone());
                    match holder {
                        Some(_) => fine += 1,
                        None => r.push(
                            "ports",
                            Level::Error,
                            format!("port {port}/{} of {name} is in use by another process", p.protocol),
                            Some(format!(
                                "stop the process holding it (ss -ltnp 'sport = :{port}'), or change {name}'s port in config/services.env"
                            )),
                        ),
                    }
                }
                Err(e) => r.push(
                    "ports",
                    Level::Warning,
                    format!("cannot test port {port}/{} of {name}: {e}", p.protocol),
                    (e.kind() == ErrorKind::PermissionDenied)
                        .then(|| "run doctor as root to test ports below 1024".to_owned()),
                ),
            }
        }
    }
    if !r.of("ports").any(|f| f.level == Level::Error) {
        r.push(
            "ports",
            Level::Ok,
            format!("{fine} published ports free or held by this project's containers"),
            None,
        );
    }
}

/// The secret files that exist, relative to the project directory.
fn secret_files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = [
        "config/services.env",
        "config/credentials.csv",
        "config/gitlab_oauth.json",
        ".dtaas/store.key",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if let Ok(entries) = std::fs::read_dir(dir.join("certs")) {
        let mut keys: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| {
                std::path::Path::new(n)
                    .extension()
                    .is_some_and(|x| x == "key")
                    || n.starts_with("privkey")
            })
            .map(|n| format!("certs/{n}"))
            .collect();
        keys.sort();
        out.extend(keys);
    }
    out.retain(|f| dir.join(f).is_file());
    out
}

fn check_modes(r: &mut DoctorReport, dir: &Path) {
    let files = secret_files(dir);
    let mut bad = 0;
    for f in &files {
        let Ok(meta) = std::fs::metadata(dir.join(f)) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bad += 1;
            r.push(
                "file_modes",
                Level::Error,
                format!("{f} is mode {mode:04o}: readable by other users"),
                Some(format!("chmod 600 {}", dir.join(f).display())),
            );
        }
    }
    if bad == 0 {
        r.push(
            "file_modes",
            Level::Ok,
            format!("{} secret files are 0600", files.len()),
            None,
        );
    }
}

fn check_passwords(r: &mut DoctorReport, s: &config::Settings) {
    let defaults = s.default_secrets();
    if !defaults.is_empty() {
        r.push(
            "passwords",
            Level::Error,
            format!(
                "{} secrets still have the public template value: {}",
                defaults.len(),
                defaults.join(", ")
            ),
            Some("set each with `dtaas-services config set KEY -` (the value on stdin) before the services are first started".to_owned()),
        );
    }
    let weak: Vec<&str> = config::KEYS
        .iter()
        .filter(|k| k.is_secret() && !defaults.contains(&k.name))
        .filter(|k| {
            s.secret(k.name).is_some_and(|v| {
                !v.expose_secret().is_empty() && v.expose_secret().chars().count() < MIN_SECRET_LEN
            })
        })
        .map(|k| k.name)
        .collect();
    if !weak.is_empty() {
        r.push(
            "passwords",
            Level::Warning,
            format!(
                "{} secrets are shorter than {MIN_SECRET_LEN} characters: {}",
                weak.len(),
                weak.join(", ")
            ),
            Some(
                "use longer passwords (`dtaas-services config set KEY -`, the value on stdin)"
                    .to_owned(),
            ),
        );
    }
    if defaults.is_empty() && weak.is_empty() {
        r.push(
            "passwords",
            Level::Ok,
            "no default or weak secrets in config/services.env",
            None,
        );
    }
}

fn check_disk(r: &mut DoctorReport, opts: &DoctorOptions<'_>, dir: &Path) {
    let data = dir.join("data");
    // data/ and each service's data dir: a service dir may be a mount of its own (a
    // separate disk, a tmpfs), so every distinct filesystem is checked once.
    let mut places = vec![if data.is_dir() { data } else { dir.to_owned() }];
    places.extend(
        catalog::Service::ALL
            .iter()
            .map(|s| dir.join(s.data_dir()))
            .filter(|p| p.is_dir()),
    );
    let mut seen = std::collections::BTreeSet::new();
    for at in places {
        match nix::sys::statvfs::statvfs(&at) {
            Ok(st) => {
                let dev = std::fs::metadata(&at)
                    .map(|m| std::os::unix::fs::MetadataExt::dev(&m))
                    .unwrap_or(0);
                if !seen.insert((dev, st.filesystem_id())) {
                    continue;
                }
                let frag = st.fragment_size();
                let free = st.blocks_available().saturating_mul(frag);
                let total = st.blocks().saturating_mul(frag).max(1);
                let percent = free.saturating_mul(100) / total;
                let text = format!(
                    "{} free of {} ({percent}%) under {}",
                    gib(free),
                    gib(total),
                    at.display()
                );
                if percent < opts.min_free_percent || free < opts.min_free_bytes {
                    r.push(
                        "disk",
                        Level::Warning,
                        format!("low disk space: {text}"),
                        Some("free space, or move the data to a larger disk".to_owned()),
                    );
                } else {
                    r.push("disk", Level::Ok, text, None);
                }
            }
            Err(e) => r.push(
                "disk",
                Level::Warning,
                format!("cannot read the free space of {}: {e}", at.display()),
                None,
            ),
        }
    }
}

#[allow(clippy::cast_precision_loss)]
fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `doctor` on a generated project (HOSTNAME localhost, no engine); `edit` changes its
    /// compose.services.yml first.
    async fn doctor_on_generated(edit: impl FnOnce(String) -> String) -> DoctorReport {
        let dir = tempfile::tempdir().unwrap();
        project::generate(dir.path(), false).unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let services = root.join("compose.services.yml");
        let text = std::fs::read_to_string(&services).unwrap();
        std::fs::write(&services, edit(text)).unwrap();
        let (settings, _) = config::load(&config::LoadOptions {
            project_dir: root.clone(),
            env: Vec::new(),
            overrides: vec![("HOSTNAME".into(), "localhost".into())],
        })
        .unwrap();
        let opts = DoctorOptions::new(
            &settings,
            compose::default_compose_files(&root),
            StoreLocation::default_for_project(&root),
        );
        diagnose::<docker::FakeEngine>(Err("no engine here".into()), &opts).await
    }

    #[tokio::test]
    async fn a_rabbitmq_without_a_fixed_hostname_is_a_state_warning() {
        let r = doctor_on_generated(|t| t.replace("    hostname: rabbitmq\n", "")).await;
        let state: Vec<&crate::Finding> = r.of("state").collect();
        assert_eq!(state.len(), 1, "{state:#?}");
        let f = state[0];
        assert_eq!(f.level, Level::Warning);
        assert_eq!(
            f.message,
            "rabbitmq: no fixed hostname; every recreated container starts an empty node (set `hostname:` in its compose file)"
        );
        assert!(
            f.hint
                .as_deref()
                .is_some_and(|h| h.starts_with("set `hostname: rabbitmq` for rabbitmq")),
            "{f:?}"
        );
    }

    #[tokio::test]
    async fn a_state_path_without_a_mount_is_a_state_warning() {
        let r =
            doctor_on_generated(|t| t.replace("      - ./data/rabbitmq:/var/lib/rabbitmq\n", ""))
                .await;
        let messages: Vec<&str> = r.of("state").map(|f| f.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "rabbitmq: /var/lib/rabbitmq is not mounted from the host; its data is lost when the container is recreated"
            ]
        );
    }

    #[tokio::test]
    async fn compose_files_of_older_templates_are_flagged_with_the_refresh_step() {
        let current = doctor_on_generated(|t| t).await;
        let f: Vec<&crate::Finding> = current.of("templates").collect();
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].level, Level::Ok);

        // compose.services.yml as an older `project generate` wrote it (no marker).
        let old =
            doctor_on_generated(|t| t.replace(&format!("{}\n", project::TEMPLATE_MARKER), ""))
                .await;
        let f: Vec<&crate::Finding> = old.of("templates").collect();
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].level, Level::Warning);
        assert!(
            f[0].message
                .starts_with("compose.services.yml predates the current templates"),
            "{f:?}"
        );
        assert!(
            f[0].hint
                .as_deref()
                .is_some_and(|h| h.starts_with("run `dtaas-services project generate --force`")),
            "{f:?}"
        );
    }

    #[tokio::test]
    async fn a_grafana_forced_to_root_is_flagged() {
        let ok = doctor_on_generated(|t| t).await;
        assert_eq!(ok.of("containers").count(), 0);
        let r = doctor_on_generated(|t| t.replace("${USERID:-472}:${GROUPID:-0}", "0:0")).await;
        let f: Vec<&crate::Finding> = r.of("containers").collect();
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].level, Level::Warning);
        assert_eq!(f[0].message, "grafana runs as root (`user: 0:0`)");
        assert!(
            f[0].hint
                .as_deref()
                .is_some_and(|h| h.contains("config set USERID 472")),
            "{f:?}"
        );
    }

    #[tokio::test]
    async fn a_generated_project_has_no_state_findings() {
        let r = doctor_on_generated(|t| t).await;
        let state: Vec<&crate::Finding> = r.of("state").collect();
        assert_eq!(state.len(), 1, "{state:#?}");
        assert_eq!(state[0].level, Level::Ok);
        assert_eq!(r.of("compose").next().unwrap().level, Level::Ok);
    }
}
