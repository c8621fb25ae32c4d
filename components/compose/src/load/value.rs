//! Walking the interpolated YAML document: typed values out of `serde_json::Value`s, each
//! error naming the file and the key path (`services.db.ports[1]`).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::ComposeError;
use crate::interpolate::interpolate;

pub(super) fn unsupported(file: &Path, key: &str) -> ComposeError {
    ComposeError::Unsupported {
        file: file.to_owned(),
        key: key.to_owned(),
    }
}

pub(super) fn invalid(file: &Path, key: &str, message: &str) -> ComposeError {
    ComposeError::Invalid {
        file: file.to_owned(),
        key: key.to_owned(),
        message: message.to_owned(),
    }
}

pub(super) fn interpolate_value(
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

pub(super) fn as_map(v: Value, file: &Path, at: &str) -> Result<Map<String, Value>, ComposeError> {
    match v {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        _ => Err(invalid(file, at, "expected a mapping")),
    }
}

pub(super) fn check_keys(
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

pub(super) fn scalar(v: &Value, file: &Path, at: &str) -> Result<String, ComposeError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(invalid(file, at, "expected a string")),
    }
}

pub(super) fn opt_scalar(
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

pub(super) fn string_map(
    v: &Value,
    file: &Path,
    at: &str,
) -> Result<BTreeMap<String, String>, ComposeError> {
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

pub(super) fn bool_of(v: &Value, file: &Path, at: &str) -> Result<bool, ComposeError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        _ => Err(invalid(file, at, "expected true or false")),
    }
}
