//! Compose files to the [`Project`] model: read, interpolate, check the keys and merge the
//! files (later files override earlier ones per service); `value` walks the document,
//! `syntax` parses the string short syntaxes, `service` builds one service definition.

mod service;
mod syntax;
mod value;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::{Map, Value};

use self::service::service_def;
#[cfg(test)]
pub(crate) use self::syntax::{parse_bytes, parse_duration, parse_port, shell_split};
use self::value::{
    as_map, bool_of, check_keys, interpolate_value, invalid, opt_scalar, string_map, unsupported,
};
use crate::ComposeError;
use crate::model::{NetworkDef, Project, ProjectFiles, ServiceDef, VolumeDef};

#[derive(serde::Deserialize)]
struct ServiceOrder {
    #[serde(default)]
    services: IndexMap<String, serde::de::IgnoredAny>,
}

const TOP_KEYS: &[&str] = &["services", "networks", "volumes", "name", "version"];
const SERVICE_KEYS: &[&str] = &[
    "image",
    "container_name",
    "command",
    "entrypoint",
    "environment",
    "ports",
    "volumes",
    "networks",
    "restart",
    "user",
    "hostname",
    "shm_size",
    "logging",
    "healthcheck",
    "depends_on",
    "labels",
];

/// The top-level entries of the files read so far, each with the file that defined it last.
#[derive(Default)]
struct Merged {
    services: IndexMap<String, (PathBuf, Map<String, Value>)>,
    networks: IndexMap<String, (PathBuf, Value)>,
    volumes: IndexMap<String, (PathBuf, Value)>,
}

/// Read, interpolate, validate and merge a project's compose files.
///
/// # Errors
/// A [`ComposeError`] naming the file and key at fault.
pub fn load_project(
    files: &ProjectFiles,
    vars: &BTreeMap<String, String>,
) -> Result<Project, ComposeError> {
    let mut merged = Merged::default();
    let mut config_files = Vec::new();
    for file in &files.files {
        let path = if file.is_absolute() {
            file.clone()
        } else {
            files.working_dir.join(file)
        };
        let (top, order) = read_file(&path, vars)?;
        merge(&mut merged, top, &order, &path)?;
        config_files.push(path);
    }
    let mut project = Project {
        name: files.name.clone(),
        working_dir: files.working_dir.clone(),
        config_files,
        services: IndexMap::new(),
        networks: IndexMap::new(),
        volumes: IndexMap::new(),
    };
    for (key, (file, v)) in merged.networks {
        let def = network_def(&project.name, &key, v, &file)?;
        project.networks.insert(key, def);
    }
    for (key, (file, v)) in merged.volumes {
        let def = volume_def(&project.name, &key, v, &file)?;
        project.volumes.insert(key, def);
    }
    for (name, (file, map)) in merged.services {
        let def = service_def(&project, &name, map, vars, &file)?;
        add_default_network(&mut project, &def, &file)?;
        project.services.insert(name, def);
    }
    check_dependencies(&project)?;
    Ok(project)
}

/// One file: read, parsed as YAML, interpolated; its top-level mapping and the order of
/// its services (serde_json maps are sorted).
fn read_file(
    path: &Path,
    vars: &BTreeMap<String, String>,
) -> Result<(Map<String, Value>, Vec<String>), ComposeError> {
    let text = std::fs::read_to_string(path).map_err(|e| ComposeError::Read {
        file: path.to_owned(),
        message: e.to_string(),
    })?;
    let raw: Value = if text.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_saphyr::from_str(&text).map_err(|e| ComposeError::Yaml {
            file: path.to_owned(),
            message: e.to_string(),
        })?
    };
    let order: Vec<String> = if text.trim().is_empty() {
        Vec::new()
    } else {
        serde_saphyr::from_str::<ServiceOrder>(&text)
            .map(|o| o.services.into_keys().collect())
            .unwrap_or_default()
    };
    let doc = interpolate_value(raw, "", vars, path)?;
    let Value::Object(top) = doc else {
        return Err(invalid(path, "(top level)", "expected a mapping"));
    };
    Ok((top, order))
}

/// Merge one file's top level into `merged`: a service's keys override those of earlier
/// files; networks and volumes are replaced whole. Unsupported keys are rejected.
fn merge(
    merged: &mut Merged,
    top: Map<String, Value>,
    order: &[String],
    path: &Path,
) -> Result<(), ComposeError> {
    for (key, value) in top {
        if key.starts_with("x-") {
            continue;
        }
        if !TOP_KEYS.contains(&key.as_str()) {
            return Err(unsupported(path, &key));
        }
        match key.as_str() {
            "services" => {
                let mut defs: Vec<(String, Value)> =
                    as_map(value, path, "services")?.into_iter().collect();
                defs.sort_by_key(|(name, _)| order.iter().position(|o| o == name));
                for (name, def) in defs {
                    let at = format!("services.{name}");
                    let def = as_map(def, path, &at)?;
                    for k in def.keys() {
                        if !k.starts_with("x-") && !SERVICE_KEYS.contains(&k.as_str()) {
                            return Err(unsupported(path, &format!("{at}.{k}")));
                        }
                    }
                    let entry = merged
                        .services
                        .entry(name)
                        .or_insert_with(|| (path.to_owned(), Map::new()));
                    path.clone_into(&mut entry.0);
                    entry.1.extend(def);
                }
            }
            "networks" => {
                for (k, v) in as_map(value, path, "networks")? {
                    merged.networks.insert(k, (path.to_owned(), v));
                }
            }
            "volumes" => {
                for (k, v) in as_map(value, path, "volumes")? {
                    merged.volumes.insert(k, (path.to_owned(), v));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Every network `def` joins must be declared, except `default`, which is added.
fn add_default_network(
    project: &mut Project,
    def: &ServiceDef,
    file: &Path,
) -> Result<(), ComposeError> {
    for net in def.networks.keys() {
        if project.networks.contains_key(net) {
            continue;
        }
        if net != "default" {
            return Err(invalid(
                file,
                &format!("services.{}.networks", def.name),
                &format!("network `{net}` is not declared under top-level networks"),
            ));
        }
        project.networks.insert(
            "default".to_owned(),
            NetworkDef {
                key: "default".to_owned(),
                name: format!("{}_default", project.name),
                driver: None,
                external: false,
                labels: BTreeMap::new(),
            },
        );
    }
    Ok(())
}

/// Every `depends_on` names a defined service.
fn check_dependencies(project: &Project) -> Result<(), ComposeError> {
    for (name, s) in &project.services {
        for dep in s.depends_on.keys() {
            if !project.services.contains_key(dep) {
                return Err(ComposeError::Invalid {
                    file: project.config_files.last().cloned().unwrap_or_default(),
                    key: format!("services.{name}.depends_on"),
                    message: format!("depends on undefined service `{dep}`"),
                });
            }
        }
    }
    Ok(())
}

/// What top-level networks and volumes share: the allowed keys checked, `external`, `name`
/// (default `<project>_<key>`, the key itself when external) and `labels`.
struct Resource {
    map: Map<String, Value>,
    name: String,
    external: bool,
    labels: BTreeMap<String, String>,
}

fn resource(
    project: &str,
    key: &str,
    v: Value,
    file: &Path,
    at: &str,
    allowed: &[&str],
) -> Result<Resource, ComposeError> {
    let m = as_map(v, file, at)?;
    check_keys(&m, allowed, file, at)?;
    let external = m
        .get("external")
        .map(|v| bool_of(v, file, &format!("{at}.external")))
        .transpose()?
        .unwrap_or(false);
    let name = opt_scalar(&m, "name", file, at)?.unwrap_or_else(|| {
        if external {
            key.to_owned()
        } else {
            format!("{project}_{key}")
        }
    });
    let labels = m
        .get("labels")
        .map(|v| string_map(v, file, &format!("{at}.labels")))
        .transpose()?
        .unwrap_or_default();
    Ok(Resource {
        map: m,
        name,
        external,
        labels,
    })
}

fn network_def(
    project: &str,
    key: &str,
    v: Value,
    file: &Path,
) -> Result<NetworkDef, ComposeError> {
    let at = format!("networks.{key}");
    let allowed = ["name", "driver", "external", "labels"];
    let r = resource(project, key, v, file, &at, &allowed)?;
    Ok(NetworkDef {
        key: key.to_owned(),
        driver: opt_scalar(&r.map, "driver", file, &at)?,
        name: r.name,
        external: r.external,
        labels: r.labels,
    })
}

fn volume_def(project: &str, key: &str, v: Value, file: &Path) -> Result<VolumeDef, ComposeError> {
    let at = format!("volumes.{key}");
    let r = resource(project, key, v, file, &at, &["name", "external", "labels"])?;
    Ok(VolumeDef {
        key: key.to_owned(),
        name: r.name,
        external: r.external,
        labels: r.labels,
    })
}
