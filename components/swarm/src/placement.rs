//! Where a service runs (`<SERVICE>_NODE`) and how the tool reaches the manager.

use std::collections::BTreeMap;

use crate::SwarmError;

/// A service's pin: a node hostname or a node label.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Pin {
    Hostname(String),
    Label { key: String, value: String },
}

impl Pin {
    /// The placement constraint (`node.hostname==h`, `node.labels.k==v`).
    #[must_use]
    pub fn constraint(&self) -> String {
        match self {
            Pin::Hostname(h) => format!("node.hostname=={h}"),
            Pin::Label { key, value } => format!("node.labels.{key}=={value}"),
        }
    }

    /// Whether node `n` satisfies the pin.
    #[must_use]
    pub fn matches(&self, n: &docker::SwarmNode) -> bool {
        match self {
            Pin::Hostname(h) => n.hostname == *h,
            Pin::Label { key, value } => n.labels.get(key) == Some(value),
        }
    }
}

/// The settings key pinning `service` (`POSTGRES_NODE`, `THINGSBOARD_NODE`, ...).
#[must_use]
pub fn node_key(service: catalog::Service) -> String {
    let image = service.image_key();
    format!("{}_NODE", image.strip_suffix("_IMAGE").unwrap_or(image))
}

fn word_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

fn parse(key: &str, raw: &str) -> Result<Pin, SwarmError> {
    let bad = |why: &str| {
        SwarmError::Config(format!(
            "{key}: invalid node {raw:?} ({why}; expected a node hostname such as host-b, \
             or a node label such as dtaas.node==db)"
        ))
    };
    let v = raw.trim();
    let pin = match v.split_once("==").or_else(|| v.split_once('=')) {
        Some((k, val)) => Pin::Label {
            key: k.to_owned(),
            value: val.to_owned(),
        },
        None => Pin::Hostname(v.to_owned()),
    };
    match &pin {
        Pin::Hostname(h) if !word_ok(h) => Err(bad("not a host name")),
        Pin::Label { key: k, value } if !word_ok(k) || !word_ok(value) => {
            Err(bad("not a label==value"))
        }
        _ => Ok(pin),
    }
}

/// The pins set in the project's variables, by compose service name (unset or empty: the
/// service floats).
///
/// # Errors
/// [`SwarmError::Config`] naming the key of a value that is neither a host name nor a label.
pub fn pins_from(vars: &BTreeMap<String, String>) -> Result<BTreeMap<String, Pin>, SwarmError> {
    let mut out = BTreeMap::new();
    for s in catalog::Service::ALL {
        let key = node_key(s);
        if let Some(raw) = vars.get(&key).filter(|v| !v.trim().is_empty()) {
            out.insert(s.compose_name().to_owned(), parse(&key, raw)?);
        }
    }
    Ok(out)
}

/// `localhost`, or an address that parses as a loopback IP (a name that merely starts with
/// `127.` is another host).
fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Refuse a manager the tool would reach over plain tcp on another host: an engine API is
/// root on its host, so a remote manager is reached only with TLS client certificates
/// (`DOCKER_TLS_VERIFY` set, certificates in `DOCKER_CERT_PATH`: `ca.pem`, `cert.pem`,
/// `key.pem`), or over ssh. `allow_plain` is the test engines' escape (their API is on a
/// network of their own).
///
/// # Errors
/// [`SwarmError::Config`] naming `DOCKER_HOST`.
pub fn check_manager_host(
    docker_host: Option<&str>,
    tls_verify: bool,
    allow_plain: bool,
) -> Result<(), SwarmError> {
    let Some(host) = docker_host.map(str::trim).filter(|h| !h.is_empty()) else {
        return Ok(());
    };
    let Some(rest) = host
        .strip_prefix("tcp://")
        .or_else(|| host.strip_prefix("http://"))
    else {
        return Ok(());
    };
    let name = rest.rsplit_once(':').map_or(rest, |(h, _)| h);
    if tls_verify || allow_plain || is_loopback(name) {
        return Ok(());
    }
    Err(SwarmError::Config(format!(
        "DOCKER_HOST={host}: swarm mode reaches a remote manager only over TLS with client \
         certificates; set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (ca.pem, cert.pem, \
         key.pem), or use ssh://; nothing was done"
    )))
}
