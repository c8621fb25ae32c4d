//! One service definition: image, command, environment, ports, mounts, healthcheck,
//! restart, logging and `depends_on`, checked key by key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use docker::{PortSpec, RestartPolicy};
use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::syntax::{parse_bytes, parse_duration, parse_port, shell_split};
use super::value::{as_map, bool_of, check_keys, invalid, opt_scalar, scalar, string_map};
use crate::ComposeError;
use crate::model::{Condition, Dependency, Healthcheck, Mount, Project, ServiceDef};

pub(super) fn command(
    v: &Value,
    file: &Path,
    at: &str,
) -> Result<Option<Vec<String>>, ComposeError> {
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

pub(super) fn ports(v: &Value, file: &Path, at: &str) -> Result<Vec<PortSpec>, ComposeError> {
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

pub(super) fn mounts(
    project: &Project,
    v: &Value,
    file: &Path,
    at: &str,
) -> Result<Vec<Mount>, ComposeError> {
    let Value::Array(items) = v else {
        return Err(invalid(file, at, "expected a list"));
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let (kind, source, target, read_only) = mount_spec(item, file, &at)?;
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

/// One `volumes` entry as (type, source, target, read-only): the long syntax (a mapping) or
/// the short one (`SOURCE:TARGET[:ro|rw]`, a bind when SOURCE starts with `.`, `/` or `~`).
fn mount_spec(
    item: &Value,
    file: &Path,
    at: &str,
) -> Result<(String, String, String, bool), ComposeError> {
    Ok(match item {
        Value::Object(m) => {
            check_keys(
                m,
                &["type", "source", "target", "read_only", "bind", "volume"],
                file,
                at,
            )?;
            let kind = opt_scalar(m, "type", file, at)?.unwrap_or_else(|| "volume".into());
            let source = opt_scalar(m, "source", file, at)?
                .ok_or_else(|| invalid(file, at, "`source` is required"))?;
            let target = opt_scalar(m, "target", file, at)?
                .ok_or_else(|| invalid(file, at, "`target` is required"))?;
            let ro = m
                .get("read_only")
                .map(|v| bool_of(v, file, &format!("{at}.read_only")))
                .transpose()?
                .unwrap_or(false);
            if kind != "bind" && kind != "volume" {
                return Err(invalid(
                    file,
                    at,
                    &format!("mount type `{kind}` is not supported"),
                ));
            }
            (kind, source, target, ro)
        }
        other => {
            let s = scalar(other, file, at)?;
            let parts: Vec<&str> = s.split(':').collect();
            let (source, target, mode) = match parts.as_slice() {
                [src, tgt] => (*src, *tgt, ""),
                [src, tgt, mode] => (*src, *tgt, *mode),
                _ => {
                    return Err(invalid(
                        file,
                        at,
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
                        at,
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
    })
}

pub(super) fn healthcheck(
    v: &Value,
    file: &Path,
    at: &str,
) -> Result<Option<Healthcheck>, ComposeError> {
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

pub(super) fn depends_on(
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

pub(super) fn service_def(
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
    let environment = environment(m.get("environment"), vars, file, &key("environment"))?;
    let networks = networks(m.get("networks"), file, &key("networks"))?;
    let restart = restart(
        opt_scalar(&m, "restart", file, &at)?.as_deref(),
        file,
        &key("restart"),
    )?;
    let logging = logging(m.get("logging"), file, &key("logging"))?;
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

/// `environment`: a mapping or a list of `KEY=VALUE`; a key without a value takes the
/// variable of the same name (unset when there is none).
fn environment(
    v: Option<&Value>,
    vars: &BTreeMap<String, String>,
    file: &Path,
    at: &str,
) -> Result<BTreeMap<String, Option<String>>, ComposeError> {
    let mut environment = BTreeMap::new();
    match v {
        None | Some(Value::Null) => {}
        Some(Value::Object(e)) => {
            for (k, v) in e {
                let v = if v.is_null() {
                    vars.get(k).cloned()
                } else {
                    Some(scalar(v, file, &format!("{at}.{k}"))?)
                };
                environment.insert(k.clone(), v);
            }
        }
        Some(Value::Array(a)) => {
            for (i, item) in a.iter().enumerate() {
                let s = scalar(item, file, &format!("{at}[{i}]"))?;
                match s.split_once('=') {
                    Some((k, v)) => environment.insert(k.to_owned(), Some(v.to_owned())),
                    None => environment.insert(s.clone(), vars.get(&s).cloned()),
                };
            }
        }
        Some(_) => {
            return Err(invalid(file, at, "expected a mapping or a list"));
        }
    }
    Ok(environment)
}

/// `networks`: a list of names or a mapping with `aliases`; `default` when absent; one
/// network at most.
fn networks(
    v: Option<&Value>,
    file: &Path,
    at: &str,
) -> Result<IndexMap<String, Vec<String>>, ComposeError> {
    let mut networks = IndexMap::new();
    match v {
        None | Some(Value::Null) => {
            networks.insert("default".to_owned(), Vec::new());
        }
        Some(Value::Array(a)) => {
            for (i, item) in a.iter().enumerate() {
                networks.insert(scalar(item, file, &format!("{at}[{i}]"))?, Vec::new());
            }
        }
        Some(Value::Object(n)) => {
            for (k, v) in n {
                let at = format!("{at}.{k}");
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
            return Err(invalid(file, at, "expected a list or a mapping"));
        }
    }
    if networks.len() > 1 {
        return Err(invalid(
            file,
            at,
            "joining more than one network is not supported",
        ));
    }
    Ok(networks)
}

/// `restart`: `no` (the default), `always`, `unless-stopped`, `on-failure[:N]`.
fn restart(policy: Option<&str>, file: &Path, at: &str) -> Result<RestartPolicy, ComposeError> {
    Ok(match policy {
        None | Some("no") => RestartPolicy::No,
        Some("always") => RestartPolicy::Always,
        Some("unless-stopped") => RestartPolicy::UnlessStopped,
        Some("on-failure") => RestartPolicy::OnFailure(None),
        Some(s) if s.starts_with("on-failure:") => RestartPolicy::OnFailure(Some(
            s["on-failure:".len()..]
                .parse()
                .map_err(|_| invalid(file, at, "invalid retry count"))?,
        )),
        Some(other) => {
            return Err(invalid(
                file,
                at,
                &format!("unknown restart policy `{other}`"),
            ));
        }
    })
}

/// A logging driver and its options.
type Logging = (String, BTreeMap<String, String>);

/// `logging`: the driver (`json-file` by default) and its options.
fn logging(v: Option<&Value>, file: &Path, at: &str) -> Result<Option<Logging>, ComposeError> {
    Ok(match v {
        None | Some(Value::Null) => None,
        Some(v) => {
            let l = as_map(v.clone(), file, at)?;
            check_keys(&l, &["driver", "options"], file, at)?;
            let driver = opt_scalar(&l, "driver", file, at)?.unwrap_or_else(|| "json-file".into());
            let options = l
                .get("options")
                .map(|o| string_map(o, file, &format!("{at}.options")))
                .transpose()?
                .unwrap_or_default();
            Some((driver, options))
        }
    })
}
