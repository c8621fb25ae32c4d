//! The generated compose files as the engine loads them: no bind mount hides a CA
//! directory of an image (outbound TLS needs the image's own CA bundle), every
//! certificate mount is one file, read-only, of the service that reads it
//! (`certs::services_reading`, the one rule host setup and `certs refresh` use too), and
//! the restart policy keeps a service stopped on purpose stopped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use compose::{Mount, Project, ProjectFiles, load_project};
use docker::RestartPolicy;

/// The CA locations of the images we run: Debian/Ubuntu (`/etc/ssl/certs`, filled by
/// ca-certificates from `/usr/share/ca-certificates` and `/usr/local/share/ca-certificates`),
/// Alpine (`/etc/ssl/cert.pem`), RHEL-like (`/etc/pki`). A mount may be none of these, a
/// parent of one, or inside one.
const CA_LOCATIONS: &[&str] = &[
    "/etc/ssl",
    "/etc/ssl/certs",
    "/etc/pki",
    "/etc/ca-certificates",
    "/usr/local/share/ca-certificates",
    "/usr/share/ca-certificates",
];

/// The generated project, loaded with its template settings (HOSTNAME=localhost).
fn generated() -> (tempfile::TempDir, PathBuf, Project) {
    let tmp = tempfile::tempdir().unwrap();
    project::generate(tmp.path(), false).unwrap();
    let root = std::fs::canonicalize(tmp.path()).unwrap();
    let (settings, _) = config::load(&config::LoadOptions {
        project_dir: root.clone(),
        env: Vec::new(),
        overrides: vec![("HOSTNAME".into(), "localhost".into())],
    })
    .unwrap();
    let files = ProjectFiles {
        name: settings.project_name(),
        working_dir: root.clone(),
        files: compose::default_compose_files(&root),
    };
    let p = load_project(&files, &settings.interpolation_vars()).unwrap();
    assert_eq!(p.services.len(), 7);
    (tmp, root, p)
}

fn binds(p: &Project, service: &str) -> Vec<(PathBuf, String, bool)> {
    p.services[service]
        .volumes
        .iter()
        .filter_map(|m| match m {
            Mount::Bind {
                source,
                target,
                read_only,
            } => Some((source.clone(), target.clone(), *read_only)),
            Mount::Volume { .. } => None,
        })
        .collect()
}

#[test]
fn no_bind_mount_hides_a_ca_directory_of_an_image() {
    let (_tmp, _root, p) = generated();
    let mut bad = Vec::new();
    for name in p.services.keys() {
        for (_, target, _) in binds(&p, name) {
            let t = Path::new(&target);
            for ca in CA_LOCATIONS.iter().map(Path::new) {
                if t == ca || ca.starts_with(t) || t.starts_with(ca) {
                    bad.push(format!("{name}: {target} (CA location {})", ca.display()));
                }
            }
        }
    }
    assert!(bad.is_empty(), "mounts over CA locations: {bad:#?}");
}

#[test]
fn each_service_mounts_only_its_own_certificate_files_read_only() {
    let (_tmp, root, p) = generated();
    let certs = root.join("certs");
    for (name, def) in &p.services {
        let mut mounted = BTreeSet::new();
        let mut targets = BTreeSet::new();
        for (source, target, read_only) in binds(&p, name) {
            if !source.starts_with(&certs) {
                continue;
            }
            assert_ne!(source, certs, "{name} mounts all of certs/ at {target}");
            assert_eq!(source.parent(), Some(certs.as_path()), "{name}: {source:?}");
            assert!(read_only, "{name}: {source:?} is mounted read-write");
            let rel = source.strip_prefix(&root).unwrap().to_owned();
            assert!(
                certs::services_reading(&rel).iter().any(|s| s == name),
                "{name} mounts {rel:?}, which certs::services_reading does not give it"
            );
            mounted.insert(rel.file_name().unwrap().to_str().unwrap().to_owned());
            targets.insert(target);
        }
        // And every file the service reads is mounted.
        for file in [
            "privkey.pem",
            "fullchain.pem",
            "combined.pem",
            "privkey-influxdb.pem",
            "privkey-rabbitmq.pem",
            "postgres.key",
            "postgres.crt",
            "thingsboard-privkey.pem",
            "thingsboard-fullchain.pem",
        ] {
            let reads = certs::services_reading(&Path::new("certs").join(file))
                .iter()
                .any(|s| s == name);
            assert_eq!(
                reads,
                mounted.contains(file),
                "{name}: reads {file}: {reads}, mounted: {mounted:?}"
            );
        }
        // Every TLS path in the service's settings and command is one of its mounts.
        let settings = def
            .environment
            .values()
            .flatten()
            .flat_map(|v| v.split(['\'', ' ', '\n', '=']))
            .chain(def.command.iter().flatten().flat_map(|a| a.split('=')))
            .filter(|w| w.starts_with("/etc/dtaas/tls/"))
            .map(str::to_owned)
            .collect::<BTreeSet<_>>();
        for path in settings {
            assert!(targets.contains(&path), "{name} uses {path}, not mounted");
        }
    }
}

/// `unless-stopped`: a crashed container comes back, one stopped on purpose (`service stop`,
/// `docker stop`) stays stopped across a restart of Docker or of the host; `always` would
/// bring it back.
#[test]
fn every_service_restarts_unless_stopped() {
    let (_tmp, _root, p) = generated();
    for (name, def) in &p.services {
        assert_eq!(def.restart, RestartPolicy::UnlessStopped, "{name}");
    }
}

/// Containers run as the image's non-root user where the image allows: Grafana's image runs
/// as 472:0 (grafana/grafana Dockerfile `ARG GF_UID="472"`, `ARG GF_GID="0"`, `USER
/// "$GF_UID"`); the generated file used to override that with root. PostgreSQL, MongoDB,
/// RabbitMQ and InfluxDB start as root and drop to their user in their entrypoints
/// (docs/security.md, "Containers"); ThingsBoard's image runs as its own user
/// (thingsboard/thingsboard v4.2.1 msa/tb-node/docker/Dockerfile `USER ${pkg.user}`), which
/// the generated file used to override with root. None of these sets a `user:`.
#[test]
fn grafana_runs_as_the_images_non_root_user() {
    let (_tmp, _root, p) = generated();
    assert_eq!(p.services["grafana"].user.as_deref(), Some("472:0"));
    for name in [
        "postgres",
        "mongodb",
        "rabbitmq",
        "influxdb",
        "thingsboard-ce",
    ] {
        assert_eq!(p.services[name].user, None, "{name}");
    }
}

/// Every compose template carries the current version marker; the older generated files
/// (without it) and the operator's own files are told apart.
#[test]
fn compose_templates_carry_the_version_marker() {
    for s in catalog::Service::ALL {
        let text = project::template(s.compose_file()).unwrap();
        assert!(
            text.starts_with(&format!("{}\n", project::TEMPLATE_MARKER)),
            "{}",
            s.compose_file()
        );
        assert_eq!(project::template_age(text), project::TemplateAge::Current);
    }
    let v1 = "# DTaaS platform services. Generated by `dtaas-services project generate`.\nservices: {}\n";
    assert_eq!(project::template_age(v1), project::TemplateAge::Older);
    assert_eq!(
        project::template_age("services:\n  x:\n    image: y\n"),
        project::TemplateAge::NotGenerated
    );
}

/// The documented step for an existing project: `project generate --force` replaces compose
/// files from older templates with the current ones.
#[test]
fn generate_force_brings_older_compose_files_to_the_current_templates() {
    let tmp = tempfile::tempdir().unwrap();
    project::generate(tmp.path(), false).unwrap();
    let file = tmp.path().join("compose.services.yml");
    let old = std::fs::read_to_string(&file)
        .unwrap()
        .replace(&format!("{}\n", project::TEMPLATE_MARKER), "")
        .replace("restart: unless-stopped", "restart: always");
    std::fs::write(&file, &old).unwrap();
    assert_eq!(project::template_age(&old), project::TemplateAge::Older);
    project::generate(tmp.path(), true).unwrap();
    let new = std::fs::read_to_string(&file).unwrap();
    assert_eq!(project::template_age(&new), project::TemplateAge::Current);
    assert!(!new.contains("restart: always"));
}
