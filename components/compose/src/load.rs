use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use docker::{PortSpec, Protocol, RestartPolicy};
use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::ComposeError;
use crate::interpolate::interpolate;
use crate::model::{
    Condition, Dependency, Healthcheck, Mount, NetworkDef, Project, ProjectFiles, ServiceDef,
    VolumeDef,
};

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

/// Read, interpolate, validate and merge a project's compose files.
///
/// # Errors
/// A [`ComposeError`] naming the file and key at fault.
pub fn load_project(
    files: &ProjectFiles,
    vars: &BTreeMap<String, String>,
) -> Result<Project, ComposeError> {
    let mut services: IndexMap<String, (PathBuf, Map<String, Value>)> = IndexMap::new();
    let mut networks: IndexMap<String, (PathBuf, Value)> = IndexMap::new();
    let mut volumes: IndexMap<String, (PathBuf, Value)> = IndexMap::new();
    let mut config_files = Vec::new();
    for file in &files.files {
        let path = if file.is_absolute() {
            file.clone()
        } else {
            files.working_dir.join(file)
        };
        let text = std::fs::read_to_string(&path).map_err(|e| ComposeError::Read {
            file: path.clone(),
            message: e.to_string(),
        })?;
        let raw: Value = if text.trim().is_empty() {
            Value::Object(Map::new())
        } else {
            serde_saphyr::from_str(&text).map_err(|e| ComposeError::Yaml {
                file: path.clone(),
                message: e.to_string(),
            })?
        };
        // serde_json maps are sorted: recover the file order of the services.
        let order: Vec<String> = if text.trim().is_empty() {
            Vec::new()
        } else {
            serde_saphyr::from_str::<ServiceOrder>(&text)
                .map(|o| o.services.into_keys().collect())
                .unwrap_or_default()
        };
        let doc = interpolate_value(raw, "", vars, &path)?;
        let Value::Object(top) = doc else {
            return Err(invalid(&path, "(top level)", "expected a mapping"));
        };
        for (key, value) in top {
            if key.starts_with("x-") {
                continue;
            }
            if !TOP_KEYS.contains(&key.as_str()) {
                return Err(unsupported(&path, &key));
            }
            match key.as_str() {
                "services" => {
                    let mut defs: Vec<(String, Value)> =
                        as_map(value, &path, "services")?.into_iter().collect();
                    defs.sort_by_key(|(name, _)| order.iter().position(|o| o == name));
                    for (name, def) in defs {
                        let at = format!("services.{name}");
                        let def = as_map(def, &path, &at)?;
                        for k in def.keys() {
                            if !k.starts_with("x-") && !SERVICE_KEYS.contains(&k.as_str()) {
                                return Err(unsupported(&path, &format!("{at}.{k}")));
                            }
                        }
                        let entry = services
                            .entry(name)
                            .or_insert_with(|| (path.clone(), Map::new()));
                        entry.0.clone_from(&path);
                        entry.1.extend(def);
                    }
                }
                "networks" => {
                    for (k, v) in as_map(value, &path, "networks")? {
                        networks.insert(k, (path.clone(), v));
                    }
                }
                "volumes" => {
                    for (k, v) in as_map(value, &path, "volumes")? {
                        volumes.insert(k, (path.clone(), v));
                    }
                }
                _ => {}
            }
        }
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
    for (key, (file, v)) in networks {
        let def = network_def(&project.name, &key, v, &file)?;
        project.networks.insert(key, def);
    }
    for (key, (file, v)) in volumes {
        let def = volume_def(&project.name, &key, v, &file)?;
        project.volumes.insert(key, def);
    }
    for (name, (file, map)) in services {
        let def = service_def(&project, &name, map, vars, &file)?;
        for net in def.networks.keys() {
            if !project.networks.contains_key(net) {
                if net == "default" {
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
                } else {
                    return Err(invalid(
                        &file,
                        &format!("services.{name}.networks"),
                        &format!("network `{net}` is not declared under top-level networks"),
                    ));
                }
            }
        }
        project.services.insert(name, def);
    }
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
    Ok(project)
}

fn unsupported(file: &Path, key: &str) -> ComposeError {
    ComposeError::Unsupported {
        file: file.to_owned(),
        key: key.to_owned(),
    }
}

fn invalid(file: &Path, key: &str, message: &str) -> ComposeError {
    ComposeError::Invalid {
        file: file.to_owned(),
        key: key.to_owned(),
        message: message.to_owned(),
    }
}

fn interpolate_value(
    v: Value,
    at: &str,
    vars: &BTreeMap<String, String>,
    file: &Path,
) -> Result<Value, ComposeError> {
    let join = |k: &str| {
        if at.is_empty() {
            k.to_owned()
        } else {
            format!("{at}.{k}")
        }
    };
    Ok(match v {
        Value::String(s) => {
            Value::String(
                interpolate(&s, vars).map_err(|message| ComposeError::Interpolation {
                    file: file.to_owned(),
                    key: at.to_owned(),
                    message,
                })?,
            )
        }
        Value::Array(a) => Value::Array(
            a.into_iter()
                .enumerate()
                .map(|(i, v)| interpolate_value(v, &format!("{at}[{i}]"), vars, file))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let v = interpolate_value(v, &join(&k), vars, file)?;
                    Ok((k, v))
                })
                .collect::<Result<_, ComposeError>>()?,
        ),
        other => other,
    })
}

fn as_map(v: Value, file: &Path, at: &str) -> Result<Map<String, Value>, ComposeError> {
    match v {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        _ => Err(invalid(file, at, "expected a mapping")),
    }
}

fn check_keys(
    m: &Map<String, Value>,
    allowed: &[&str],
    file: &Path,
    at: &str,
) -> Result<(), ComposeError> {
    for k in m.keys() {
        if !k.starts_with("x-") && !allowed.contains(&k.as_str()) {
            return Err(unsupported(file, &format!("{at}.{k}")));
        }
    }
    Ok(())
}

fn scalar(v: &Value, file: &Path, at: &str) -> Result<String, ComposeError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(invalid(file, at, "expected a string")),
    }
}

fn opt_scalar(
    m: &Map<String, Value>,
    key: &str,
    file: &Path,
    at: &str,
) -> Result<Option<String>, ComposeError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => scalar(v, file, &format!("{at}.{key}")).map(Some),
    }
}

fn string_map(v: &Value, file: &Path, at: &str) -> Result<BTreeMap<String, String>, ComposeError> {
    let mut out = BTreeMap::new();
    match v {
        Value::Null => {}
        Value::Object(m) => {
            for (k, v) in m {
                let v = if v.is_null() {
                    String::new()
                } else {
                    scalar(v, file, &format!("{at}.{k}"))?
                };
                out.insert(k.clone(), v);
            }
        }
        Value::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                let s = scalar(item, file, &format!("{at}[{i}]"))?;
                let (k, v) = s.split_once('=').unwrap_or((&s, ""));
                out.insert(k.to_owned(), v.to_owned());
            }
        }
        _ => {
            return Err(invalid(
                file,
                at,
                "expected a mapping or a list of KEY=VALUE",
            ));
        }
    }
    Ok(out)
}

fn bool_of(v: &Value, file: &Path, at: &str) -> Result<bool, ComposeError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        _ => Err(invalid(file, at, "expected true or false")),
    }
}

fn network_def(
    project: &str,
    key: &str,
    v: Value,
    file: &Path,
) -> Result<NetworkDef, ComposeError> {
    let at = format!("networks.{key}");
    let m = as_map(v, file, &at)?;
    check_keys(&m, &["name", "driver", "external", "labels"], file, &at)?;
    let external = m
        .get("external")
        .map(|v| bool_of(v, file, &format!("{at}.external")))
        .transpose()?
        .unwrap_or(false);
    let name = opt_scalar(&m, "name", file, &at)?.unwrap_or_else(|| {
        if external {
            key.to_owned()
        } else {
            format!("{project}_{key}")
        }
    });
    Ok(NetworkDef {
        key: key.to_owned(),
        name,
        driver: opt_scalar(&m, "driver", file, &at)?,
        external,
        labels: m
            .get("labels")
            .map(|v| string_map(v, file, &format!("{at}.labels")))
            .transpose()?
            .unwrap_or_default(),
    })
}

fn volume_def(project: &str, key: &str, v: Value, file: &Path) -> Result<VolumeDef, ComposeError> {
    let at = format!("volumes.{key}");
    let m = as_map(v, file, &at)?;
    check_keys(&m, &["name", "external", "labels"], file, &at)?;
    let external = m
        .get("external")
        .map(|v| bool_of(v, file, &format!("{at}.external")))
        .transpose()?
        .unwrap_or(false);
    let name = opt_scalar(&m, "name", file, &at)?.unwrap_or_else(|| {
        if external {
            key.to_owned()
        } else {
            format!("{project}_{key}")
        }
    });
    Ok(VolumeDef {
        key: key.to_owned(),
        name,
        external,
        labels: m
            .get("labels")
            .map(|v| string_map(v, file, &format!("{at}.labels")))
            .transpose()?
            .unwrap_or_default(),
    })
}

/// Split a command line the way a POSIX shell would split words (quotes and backslashes).
pub(crate) fn shell_split(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unclosed single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err("unclosed double quote".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unclosed double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    cur.push(c);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

fn command(v: &Value, file: &Path, at: &str) -> Result<Option<Vec<String>>, ComposeError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => shell_split(s).map(Some).map_err(|m| invalid(file, at, &m)),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| scalar(v, file, &format!("{at}[{i}]")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        _ => Err(invalid(file, at, "expected a string or a list")),
    }
}

/// Parse a Go-style duration (`1m30s`, `500ms`, `10s`); a bare number is seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("missing unit in duration {s:?}"))?;
        let num: f64 = rest[..n]
            .parse()
            .map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..u] {
            "ns" => num / 1e9,
            "us" | "µs" => num / 1e6,
            "ms" => num / 1e3,
            "s" => num,
            "m" => num * 60.0,
            "h" => num * 3600.0,
            other => return Err(format!("unknown unit {other:?} in duration {s:?}")),
        };
        total += Duration::from_secs_f64(secs);
        rest = &rest[u..];
    }
    Ok(total)
}

/// Parse a byte size (`256m`, `1g`, `1024`, `64kb`).
pub(crate) fn parse_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid size {s:?}"))?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    Ok((n * mult as f64) as i64)
}

fn port_range(s: &str) -> Result<(u16, u16), String> {
    let parse = |p: &str| {
        p.trim()
            .parse::<u16>()
            .map_err(|_| format!("invalid port {p:?}"))
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse(a)?, parse(b)?);
            if b < a {
                return Err(format!("invalid port range {s:?}"));
            }
            Ok((a, b))
        }
        None => parse(s).map(|p| (p, p)),
    }
}

/// Parse one short-syntax port (`8080`, `8080:80`, `127.0.0.1:8080:80`, `5683-5688:5683-5688/udp`).
pub(crate) fn parse_port(s: &str) -> Result<Vec<PortSpec>, String> {
    let (spec, proto) = match s.rsplit_once('/') {
        Some((a, p)) => (a, p),
        None => (s, "tcp"),
    };
    let protocol = match proto {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        other => return Err(format!("unknown protocol {other:?}")),
    };
    let (host_ip, rest) = if let Some(r) = spec.strip_prefix('[') {
        let end = r.find(']').ok_or("unclosed `[` in host ip")?;
        (
            Some(r[..end].to_owned()),
            r[end + 1..].trim_start_matches(':'),
        )
    } else {
        let parts: Vec<&str> = spec.split(':').collect();
        if parts.len() == 3 {
            (Some(parts[0].to_owned()), &spec[parts[0].len() + 1..])
        } else {
            (None, spec)
        }
    };
    let (host, container) = match rest.rsplit_once(':') {
        Some((h, c)) => (Some(h), c),
        None => (None, rest),
    };
    let (c0, c1) = port_range(container)?;
    let host_range = match host {
        Some(h) if !h.is_empty() => Some(port_range(h)?),
        _ => None,
    };
    if let Some((h0, h1)) = host_range
        && h1 - h0 != c1 - c0
    {
        return Err(format!(
            "host and container port ranges differ in length in {s:?}"
        ));
    }
    let host_ip = host_ip.filter(|h| !h.is_empty());
    Ok((0..=(c1 - c0))
        .map(|i| PortSpec {
            container_port: c0 + i,
            protocol,
            host_ip: host_ip.clone(),
            host_port: host_range.map(|(h0, _)| h0 + i),
        })
        .collect())
}

fn ports(v: &Value, file: &Path, at: &str) -> Result<Vec<PortSpec>, ComposeError> {
    let Value::Array(items) = v else {
        return Err(invalid(file, at, "expected a list"));
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{at}[{i}]");
        match item {
            Value::Object(m) => {
                check_keys(
                    m,
                    &["target", "published", "host_ip", "protocol", "mode"],
                    file,
                    &at,
                )?;
                let target = opt_scalar(m, "target", file, &at)?
                    .ok_or_else(|| invalid(file, &at, "`target` is required"))?;
                let published = opt_scalar(m, "published", file, &at)?.unwrap_or_default();
                let mut s = match opt_scalar(m, "host_ip", file, &at)? {
                    Some(ip) if ip.contains(':') => format!("[{ip}]:{published}:{target}"),
                    Some(ip) => format!("{ip}:{published}:{target}"),
                    None if published.is_empty() => target,
                    None => format!("{published}:{target}"),
                };
                if let Some(p) = opt_scalar(m, "protocol", file, &at)? {
                    s = format!("{s}/{p}");
                }
                out.extend(parse_port(&s).map_err(|e| invalid(file, &at, &e))?);
            }
            other => {
                let s = scalar(other, file, &at)?;
                out.extend(parse_port(&s).map_err(|e| invalid(file, &at, &e))?);
            }
        }
    }
    Ok(out)
}

fn resolve_source(project: &Project, src: &str) -> PathBuf {
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

fn mounts(project: &Project, v: &Value, file: &Path, at: &str) -> Result<Vec<Mount>, ComposeError> {
    let Value::Array(items) = v else {
        return Err(invalid(file, at, "expected a list"));
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let (kind, source, target, read_only) = match item {
            Value::Object(m) => {
                check_keys(
                    m,
                    &["type", "source", "target", "read_only", "bind", "volume"],
                    file,
                    &at,
                )?;
                let kind = opt_scalar(m, "type", file, &at)?.unwrap_or_else(|| "volume".into());
                let source = opt_scalar(m, "source", file, &at)?
                    .ok_or_else(|| invalid(file, &at, "`source` is required"))?;
                let target = opt_scalar(m, "target", file, &at)?
                    .ok_or_else(|| invalid(file, &at, "`target` is required"))?;
                let ro = m
                    .get("read_only")
                    .map(|v| bool_of(v, file, &format!("{at}.read_only")))
                    .transpose()?
                    .unwrap_or(false);
                if kind != "bind" && kind != "volume" {
                    return Err(invalid(
                        file,
                        &at,
                        &format!("mount type `{kind}` is not supported"),
                    ));
                }
                (kind, source, target, ro)
            }
            other => {
                let s = scalar(other, file, &at)?;
                let parts: Vec<&str> = s.split(':').collect();
                let (source, target, mode) = match parts.as_slice() {
                    [src, tgt] => (*src, *tgt, ""),
                    [src, tgt, mode] => (*src, *tgt, *mode),
                    _ => {
                        return Err(invalid(
                            file,
                            &at,
                            "expected SOURCE:TARGET[:ro|rw] (anonymous volumes are not supported)",
                        ));
                    }
                };
                let ro = match mode {
                    "" | "rw" => false,
                    "ro" => true,
                    other => {
                        return Err(invalid(
                            file,
                            &at,
                            &format!("unsupported mount mode `{other}`"),
                        ));
                    }
                };
                let kind = if source.starts_with(['.', '/', '~']) {
                    "bind"
                } else {
                    "volume"
                };
                (kind.to_owned(), source.to_owned(), target.to_owned(), ro)
            }
        };
        if kind == "bind" {
            let source = if let Some(rest) = source.strip_prefix("~/") {
                return Err(invalid(
                    file,
                    &at,
                    &format!("`~/{rest}`: home-relative paths are not supported"),
                ));
            } else {
                resolve_source(project, &source)
            };
            out.push(Mount::Bind {
                source,
                target,
                read_only,
            });
        } else {
            if !project.volumes.contains_key(&source) {
                return Err(invalid(
                    file,
                    &at,
                    &format!("named volume `{source}` is not declared under top-level volumes"),
                ));
            }
            out.push(Mount::Volume {
                key: source,
                target,
                read_only,
            });
        }
    }
    Ok(out)
}

fn healthcheck(v: &Value, file: &Path, at: &str) -> Result<Option<Healthcheck>, ComposeError> {
    let m = as_map(v.clone(), file, at)?;
    check_keys(
        &m,
        &[
            "test",
            "interval",
            "timeout",
            "retries",
            "start_period",
            "disable",
        ],
        file,
        at,
    )?;
    if m.get("disable")
        .map(|v| bool_of(v, file, &format!("{at}.disable")))
        .transpose()?
        .unwrap_or(false)
    {
        return Ok(Some(Healthcheck {
            test: vec!["NONE".into()],
            interval: None,
            timeout: None,
            retries: None,
            start_period: None,
        }));
    }
    let test = match m.get("test") {
        None | Some(Value::Null) => {
            return Err(invalid(file, &format!("{at}.test"), "`test` is required"));
        }
        Some(Value::String(s)) => vec!["CMD-SHELL".to_owned(), s.clone()],
        Some(v) => {
            let list = command(v, file, &format!("{at}.test"))?.unwrap_or_default();
            if !matches!(
                list.first().map(String::as_str),
                Some("CMD" | "CMD-SHELL" | "NONE")
            ) {
                return Err(invalid(
                    file,
                    &format!("{at}.test"),
                    "a list must start with CMD, CMD-SHELL or NONE",
                ));
            }
            list
        }
    };
    let dur = |k: &str| -> Result<Option<Duration>, ComposeError> {
        opt_scalar(&m, k, file, at)?
            .map(|s| parse_duration(&s).map_err(|e| invalid(file, &format!("{at}.{k}"), &e)))
            .transpose()
    };
    let retries = opt_scalar(&m, "retries", file, at)?
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| invalid(file, &format!("{at}.retries"), "expected a whole number"))
        })
        .transpose()?;
    Ok(Some(Healthcheck {
        test,
        interval: dur("interval")?,
        timeout: dur("timeout")?,
        retries,
        start_period: dur("start_period")?,
    }))
}

fn depends_on(
    v: &Value,
    file: &Path,
    at: &str,
) -> Result<IndexMap<String, Dependency>, ComposeError> {
    let mut out = IndexMap::new();
    match v {
        Value::Null => {}
        Value::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                out.insert(
                    scalar(item, file, &format!("{at}[{i}]"))?,
                    Dependency {
                        condition: Condition::ServiceStarted,
                        restart: false,
                        required: true,
                    },
                );
            }
        }
        Value::Object(m) => {
            for (name, d) in m {
                let at = format!("{at}.{name}");
                let d = as_map(d.clone(), file, &at)?;
                check_keys(&d, &["condition", "restart", "required"], file, &at)?;
                let condition = match opt_scalar(&d, "condition", file, &at)?.as_deref() {
                    None | Some("service_started") => Condition::ServiceStarted,
                    Some("service_healthy") => Condition::ServiceHealthy,
                    Some("service_completed_successfully") => {
                        Condition::ServiceCompletedSuccessfully
                    }
                    Some(other) => {
                        return Err(invalid(
                            file,
                            &format!("{at}.condition"),
                            &format!("unknown condition `{other}`"),
                        ));
                    }
                };
                let flag = |k: &str, default: bool| -> Result<bool, ComposeError> {
                    d.get(k)
                        .map(|v| bool_of(v, file, &format!("{at}.{k}")))
                        .transpose()
                        .map(|b| b.unwrap_or(default))
                };
                out.insert(
                    name.clone(),
                    Dependency {
                        condition,
                        restart: flag("restart", false)?,
                        required: flag("required", true)?,
                    },
                );
            }
        }
        _ => return Err(invalid(file, at, "expected a list or a mapping")),
    }
    Ok(out)
}

fn service_def(
    project: &Project,
    name: &str,
    m: Map<String, Value>,
    vars: &BTreeMap<String, String>,
    file: &Path,
) -> Result<ServiceDef, ComposeError> {
    let at = format!("services.{name}");
    let key = |k: &str| format!("{at}.{k}");
    let image = opt_scalar(&m, "image", file, &at)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            invalid(
                file,
                &key("image"),
                "an image is required (build is not supported)",
            )
        })?;
    let mut environment = BTreeMap::new();
    match m.get("environment") {
        None | Some(Value::Null) => {}
        Some(Value::Object(e)) => {
            for (k, v) in e {
                let v = if v.is_null() {
                    vars.get(k).cloned()
                } else {
                    Some(scalar(v, file, &format!("{}.{k}", key("environment")))?)
                };
                environment.insert(k.clone(), v);
            }
        }
        Some(Value::Array(a)) => {
            for (i, item) in a.iter().enumerate() {
                let s = scalar(item, file, &format!("{}[{i}]", key("environment")))?;
                match s.split_once('=') {
                    Some((k, v)) => environment.insert(k.to_owned(), Some(v.to_owned())),
                    None => environment.insert(s.clone(), vars.get(&s).cloned()),
                };
            }
        }
        Some(_) => {
            return Err(invalid(
                file,
                &key("environment"),
                "expected a mapping or a list",
            ));
        }
    }
    let mut networks = IndexMap::new();
    match m.get("networks") {
        None | Some(Value::Null) => {
            networks.insert("default".to_owned(), Vec::new());
        }
        Some(Value::Array(a)) => {
            for (i, item) in a.iter().enumerate() {
                networks.insert(
                    scalar(item, file, &format!("{}[{i}]", key("networks")))?,
                    Vec::new(),
                );
            }
        }
        Some(Value::Object(n)) => {
            for (k, v) in n {
                let at = format!("{}.{k}", key("networks"));
                let v = as_map(v.clone(), file, &at)?;
                check_keys(&v, &["aliases"], file, &at)?;
                let aliases = match v.get("aliases") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(a) => command(a, file, &format!("{at}.aliases"))?.unwrap_or_default(),
                };
                networks.insert(k.clone(), aliases);
            }
        }
        Some(_) => {
            return Err(invalid(
                file,
                &key("networks"),
                "expected a list or a mapping",
            ));
        }
    }
    if networks.len() > 1 {
        return Err(invalid(
            file,
            &key("networks"),
            "joining more than one network is not supported",
        ));
    }
    let restart = match opt_scalar(&m, "restart", file, &at)?.as_deref() {
        None | Some("no") => RestartPolicy::No,
        Some("always") => RestartPolicy::Always,
        Some("unless-stopped") => RestartPolicy::UnlessStopped,
        Some("on-failure") => RestartPolicy::OnFailure(None),
        Some(s) if s.starts_with("on-failure:") => RestartPolicy::OnFailure(Some(
            s["on-failure:".len()..]
                .parse()
                .map_err(|_| invalid(file, &key("restart"), "invalid retry count"))?,
        )),
        Some(other) => {
            return Err(invalid(
                file,
                &key("restart"),
                &format!("unknown restart policy `{other}`"),
            ));
        }
    };
    let logging = match m.get("logging") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let l = as_map(v.clone(), file, &key("logging"))?;
            check_keys(&l, &["driver", "options"], file, &key("logging"))?;
            let driver = opt_scalar(&l, "driver", file, &key("logging"))?
                .unwrap_or_else(|| "json-file".into());
            let options = l
                .get("options")
                .map(|o| string_map(o, file, &format!("{}.options", key("logging"))))
                .transpose()?
                .unwrap_or_default();
            Some((driver, options))
        }
    };
    Ok(ServiceDef {
        name: name.to_owned(),
        image,
        container_name: opt_scalar(&m, "container_name", file, &at)?,
        command: m
            .get("command")
            .map(|v| command(v, file, &key("command")))
            .transpose()?
            .flatten(),
        entrypoint: m
            .get("entrypoint")
            .map(|v| command(v, file, &key("entrypoint")))
            .transpose()?
            .flatten(),
        environment,
        ports: m
            .get("ports")
            .map(|v| ports(v, file, &key("ports")))
            .transpose()?
            .unwrap_or_default(),
        volumes: m
            .get("volumes")
            .map(|v| mounts(project, v, file, &key("volumes")))
            .transpose()?
            .unwrap_or_default(),
        networks,
        restart,
        user: opt_scalar(&m, "user", file, &at)?,
        hostname: opt_scalar(&m, "hostname", file, &at)?,
        shm_size: opt_scalar(&m, "shm_size", file, &at)?
            .map(|s| parse_bytes(&s).map_err(|e| invalid(file, &key("shm_size"), &e)))
            .transpose()?,
        logging,
        healthcheck: m
            .get("healthcheck")
            .map(|v| healthcheck(v, file, &key("healthcheck")))
            .transpose()?
            .flatten(),
        depends_on: m
            .get("depends_on")
            .map(|v| depends_on(v, file, &key("depends_on")))
            .transpose()?
            .unwrap_or_default(),
        labels: m
            .get("labels")
            .map(|v| string_map(v, file, &key("labels")))
            .transpose()?
            .unwrap_or_default(),
    })
}
