//! The YAML document between parsing and typing: interpolated value by value (before any
//! type is known, as Compose does), then deserialized into the typed structs of
//! `file.rs`, every error naming the file and the key path (`services.db.ports[1]`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::Segment;

use super::de::UNSUPPORTED;
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

/// Deserialize `v`, found at key path `at` of `file` (empty: the whole file), into `T`.
/// An error names the file and the key path; a key `T` has no field for is
/// [`ComposeError::Unsupported`].
pub(super) fn decode<T: DeserializeOwned>(
    v: Value,
    file: &Path,
    at: &str,
) -> Result<T, ComposeError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let mut key = at.to_owned();
        for segment in e.path() {
            match segment {
                Segment::Seq { index } => {
                    let _ = write!(key, "[{index}]");
                }
                Segment::Map { key: k } | Segment::Enum { variant: k } => push_key(&mut key, k),
                Segment::Unknown => {}
            }
        }
        let message = e.into_inner().to_string();
        if let Some(k) = message
            .strip_prefix(UNSUPPORTED)
            .and_then(|m| m.strip_suffix('`'))
        {
            push_key(&mut key, k);
            return unsupported(file, &key);
        }
        if key.is_empty() {
            key.push_str("(top level)");
        }
        invalid(file, &key, &message)
    })
}

fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}
