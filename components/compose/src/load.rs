//! Compose files to the [`Project`] model: each file read, interpolated and deserialized
//! into typed structs (any key the structs do not know, except `x-`, is unsupported),
//! then merged (a later file overrides a service key by key, a network or volume whole).
//! `value` interpolates and deserializes (every error naming file and key path), `file`
//! is the typed format, `de` the value shapes it needs a visitor for, `syntax` the string
//! short syntaxes, `service` turns one service into the model.

mod de;
mod file;
mod service;
mod syntax;
mod value;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::{Map, Value};

use self::de::flag_or;
use self::file::{ComposeFile, Network, Service, Volume};
use self::service::{labels, service_def};
use self::value::{decode, interpolate_value, invalid};
use crate::ComposeError;
use crate::model::{NetworkDef, Project, ProjectFiles, ServiceDef, VolumeDef};

#[derive(serde::Deserialize)]
struct ServiceOrder {
    #[serde(default)]
    services: IndexMap<String, serde::de::IgnoredAny>,
}

/// The top-level entries of the files read so far; a service with the file that defined it
/// last.
#[derive(Default)]
struct Merged {
    services: IndexMap<String, (PathBuf, Map<String, Value>)>,
    networks: IndexMap<String, Option<Network>>,
    volumes: IndexMap<String, Option<Volume>>,
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
        merge(&mut merged, decode(top, &path, "")?, &order, &path)?;
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
    for (key, n) in merged.networks {
        let def = network_def(&project.name, &key, n);
        project.networks.insert(key, def);
    }
    for (key, v) in merged.volumes {
        let def = volume_def(&project.name, &key, v);
        project.volumes.insert(key, def);
    }
    for (name, (file, map)) in merged.services {
        let raw = decode(Value::Object(map), &file, &format!("services.{name}"))?;
        let def = service_def(&project, &name, raw, vars, &file)?;
        add_default_network(&mut project, &def, &file)?;
        project.services.insert(name, def);
    }
    check_dependencies(&project)?;
    Ok(project)
}

/// One file: read, parsed as YAML, interpolated; the document and the order of its
/// services (serde_json maps are sorted).
fn read_file(
    path: &Path,
    vars: &BTreeMap<String, String>,
) -> Result<(Value, Vec<String>), ComposeError> {
    let text = std::fs::read_to_string(path).map_err(|e| ComposeError::Read {
        file: path.to_owned(),
        message: e.to_string(),
    })?;
    if text.trim().is_empty() {
        return Ok((Value::Object(Map::new()), Vec::new()));
    }
    let raw: Value = serde_saphyr::from_str(&text).map_err(|e| ComposeError::Yaml {
        file: path.to_owned(),
        message: e.to_string(),
    })?;
    let order = serde_saphyr::from_str::<ServiceOrder>(&text)
        .map(|o| o.services.into_keys().collect())
        .unwrap_or_default();
    Ok((interpolate_value(raw, "", vars, path)?, order))
}

/// Merge one file into `merged`: a service's keys override those of earlier files (each
/// file's service checked on its own first, so an error names the file it is in);
/// networks and volumes are replaced whole.
fn merge(
    merged: &mut Merged,
    file: ComposeFile,
    order: &[String],
    path: &Path,
) -> Result<(), ComposeError> {
    let mut services: Vec<_> = file.services.unwrap_or_default().0.into_iter().collect();
    services.sort_by_key(|(name, _)| order.iter().position(|o| o == name));
    for (name, def) in services {
        let def: Map<String, Value> = def.unwrap_or_default().0.into_iter().collect();
        decode::<Service>(
            Value::Object(def.clone()),
            path,
            &format!("services.{name}"),
        )?;
        let entry = merged
            .services
            .entry(name)
            .or_insert_with(|| (path.to_owned(), Map::new()));
        path.clone_into(&mut entry.0);
        entry.1.extend(def);
    }
    for (k, n) in file.networks.unwrap_or_default().0 {
        merged.networks.insert(k, n);
    }
    for (k, v) in file.volumes.unwrap_or_default().0 {
        merged.volumes.insert(k, v);
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

/// A resource's engine name: `name:` when given, else `<project>_<key>` (the key itself
/// when external).
fn resource_name(project: &str, key: &str, name: Option<String>, external: bool) -> String {
    name.unwrap_or_else(|| {
        if external {
            key.to_owned()
        } else {
            format!("{project}_{key}")
        }
    })
}

fn network_def(project: &str, key: &str, n: Option<Network>) -> NetworkDef {
    let n = n.unwrap_or_default();
    let external = flag_or(n.external, false);
    NetworkDef {
        key: key.to_owned(),
        name: resource_name(project, key, n.name.map(|s| s.0), external),
        driver: n.driver.map(|d| d.0),
        external,
        labels: labels(n.labels),
    }
}

fn volume_def(project: &str, key: &str, v: Option<Volume>) -> VolumeDef {
    let v = v.unwrap_or_default();
    let external = flag_or(v.external, false);
    VolumeDef {
        key: key.to_owned(),
        name: resource_name(project, key, v.name.map(|s| s.0), external),
        external,
        labels: labels(v.labels),
    }
}

#[cfg(test)]
pub(crate) mod tests;
