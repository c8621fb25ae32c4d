//! One typed service definition to the model: what needs the project (bind sources
//! resolved against its directory, named volumes declared), the image required, and the
//! defaults (`restart: no`, the `default` network, the `json-file` log driver).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use docker::RestartPolicy;
use indexmap::IndexMap;

use super::de::{ListOrMap, Scalar, flag_or};
use super::file::{self, Entries, MountEntry};
use super::value::invalid;
use crate::ComposeError;
use crate::model::{Condition, Dependency, Healthcheck, Mount, Project, ServiceDef};

pub(super) fn service_def(
    project: &Project,
    name: &str,
    s: file::Service,
    vars: &BTreeMap<String, String>,
    file: &Path,
) -> Result<ServiceDef, ComposeError> {
    let at = format!("services.{name}");
    let image = s
        .image
        .map(|i| i.0)
        .filter(|i| !i.is_empty())
        .ok_or_else(|| {
            invalid(
                file,
                &format!("{at}.image"),
                "an image is required (build is not supported)",
            )
        })?;
    let volumes = s
        .volumes
        .unwrap_or_default()
        .0
        .into_iter()
        .enumerate()
        .map(|(i, m)| mount(project, m, file, &format!("{at}.volumes[{i}]")))
        .collect::<Result<_, _>>()?;
    Ok(ServiceDef {
        name: name.to_owned(),
        image,
        container_name: s.container_name.map(|c| c.0),
        command: s.command.map(|c| c.0),
        entrypoint: s.entrypoint.map(|c| c.0),
        environment: environment(s.environment, vars),
        ports: s
            .ports
            .into_iter()
            .flat_map(|l| l.0)
            .flat_map(|p| p.0)
            .collect(),
        volumes,
        networks: networks(s.networks, file, &format!("{at}.networks"))?,
        restart: s.restart.unwrap_or(RestartPolicy::No),
        user: s.user.map(|u| u.0),
        hostname: s.hostname.map(|h| h.0),
        shm_size: s.shm_size,
        logging: s.logging.map(|l| {
            let driver = l.driver.map_or_else(|| "json-file".to_owned(), |d| d.0);
            (driver, labels(l.options))
        }),
        healthcheck: s
            .healthcheck
            .map(|h| healthcheck(h, file, &format!("{at}.healthcheck")))
            .transpose()?,
        depends_on: depends_on(s.depends_on),
        labels: labels(s.labels),
    })
}

/// A bind resolved against the project directory, or a named volume that the project
/// declares.
fn mount(project: &Project, m: MountEntry, file: &Path, at: &str) -> Result<Mount, ComposeError> {
    if m.bind {
        return Ok(Mount::Bind {
            source: resolve_source(project, &m.source),
            target: m.target,
            read_only: m.read_only,
        });
    }
    if !project.volumes.contains_key(&m.source) {
        return Err(invalid(
            file,
            at,
            &format!(
                "named volume `{}` is not declared under top-level volumes",
                m.source
            ),
        ));
    }
    Ok(Mount::Volume {
        key: m.source,
        target: m.target,
        read_only: m.read_only,
    })
}

pub(super) fn resolve_source(project: &Project, src: &str) -> PathBuf {
    let p = Path::new(src);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        project.working_dir.join(p)
    };
    // Lexically normalise `.` and `..` so the bind string is stable.
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// `KEY=VALUE` pairs; a key without a value maps to the empty string.
pub(super) fn labels(e: Option<Entries>) -> BTreeMap<String, String> {
    match e {
        None => BTreeMap::new(),
        Some(ListOrMap::Map(m)) => m
            .into_iter()
            .map(|(k, v)| (k, v.map(|v| v.0).unwrap_or_default()))
            .collect(),
        Some(ListOrMap::List(items)) => items
            .into_iter()
            .map(|s| match s.0.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (s.0, String::new()),
            })
            .collect(),
    }
}

/// `environment`: a key without a value takes the variable of the same name (unset when
/// there is none).
fn environment(
    e: Option<Entries>,
    vars: &BTreeMap<String, String>,
) -> BTreeMap<String, Option<String>> {
    match e {
        None => BTreeMap::new(),
        Some(ListOrMap::Map(m)) => m
            .into_iter()
            .map(|(k, v)| {
                let v = v.map(|v| v.0).or_else(|| vars.get(&k).cloned());
                (k, v)
            })
            .collect(),
        Some(ListOrMap::List(items)) => items
            .into_iter()
            .map(|s| match s.0.split_once('=') {
                Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                None => {
                    let v = vars.get(&s.0).cloned();
                    (s.0, v)
                }
            })
            .collect(),
    }
}

/// `networks`: `default` when absent; one network at most.
fn networks(
    n: Option<ListOrMap<Scalar, IndexMap<String, Option<file::ServiceNetwork>>>>,
    file: &Path,
    at: &str,
) -> Result<IndexMap<String, Vec<String>>, ComposeError> {
    let networks: IndexMap<String, Vec<String>> = match n {
        None => IndexMap::from([("default".to_owned(), Vec::new())]),
        Some(ListOrMap::List(names)) => names.into_iter().map(|n| (n.0, Vec::new())).collect(),
        Some(ListOrMap::Map(m)) => m
            .into_iter()
            .map(|(k, v)| {
                let aliases = v.and_then(|v| v.aliases).map(|a| a.0).unwrap_or_default();
                (k, aliases)
            })
            .collect(),
    };
    if networks.len() > 1 {
        return Err(invalid(
            file,
            at,
            "joining more than one network is not supported",
        ));
    }
    Ok(networks)
}

/// `disable: true` is the engine's `["NONE"]`; otherwise a test is required.
fn healthcheck(h: file::Healthcheck, file: &Path, at: &str) -> Result<Healthcheck, ComposeError> {
    if flag_or(h.disable, false) {
        return Ok(Healthcheck {
            test: vec!["NONE".into()],
            interval: None,
            timeout: None,
            retries: None,
            start_period: None,
        });
    }
    let test = h
        .test
        .ok_or_else(|| invalid(file, &format!("{at}.test"), "`test` is required"))?;
    Ok(Healthcheck {
        test,
        interval: h.interval,
        timeout: h.timeout,
        retries: h.retries,
        start_period: h.start_period,
    })
}

/// `depends_on`: a list of names means `service_started`, required, no restart.
fn depends_on(
    d: Option<ListOrMap<Scalar, IndexMap<String, Option<file::DependsOn>>>>,
) -> IndexMap<String, Dependency> {
    let started = Dependency {
        condition: Condition::ServiceStarted,
        restart: false,
        required: true,
    };
    match d {
        None => IndexMap::new(),
        Some(ListOrMap::List(names)) => names.into_iter().map(|n| (n.0, started.clone())).collect(),
        Some(ListOrMap::Map(m)) => m
            .into_iter()
            .map(|(name, d)| {
                let dep = d.map_or_else(
                    || started.clone(),
                    |d| Dependency {
                        condition: d.condition.unwrap_or(Condition::ServiceStarted),
                        restart: flag_or(d.restart, false),
                        required: flag_or(d.required, true),
                    },
                );
                (name, dep)
            })
            .collect(),
    }
}
