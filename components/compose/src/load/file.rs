//! The compose format as typed structs, deserialized by serde from the interpolated
//! document: what each mapping may hold (any other key but `x-` is unsupported), with the
//! string short syntaxes parsed where they are read, so that an error names its key
//! path. What needs the whole project (declared volumes and networks, the image,
//! defaults) is checked by `service.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use docker::{PortSpec, RestartPolicy};
use indexmap::IndexMap;
use serde::de::{self, IgnoredAny};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::de::{
    Extensions, Flag, List, ListOrMap, Mapping, Scalar, ShortOrLong, StringOrList, Words,
};
use super::syntax::{parse_bytes, parse_duration, parse_port};
use crate::model::Condition;

/// `KEY: value` pairs: a mapping (a null value: no value) or a list of `KEY[=VALUE]`.
pub(super) type Entries = ListOrMap<Scalar, BTreeMap<String, Option<Scalar>>>;

/// One compose file. Services stay mappings: a later file overrides them key by key
/// (each file's services are checked as [`Service`] on their own first).
#[derive(Deserialize)]
#[serde(expecting = "a mapping")]
pub(super) struct ComposeFile {
    pub services: Option<Mapping<Option<Mapping<Value>>>>,
    pub networks: Option<Mapping<Option<Network>>>,
    pub volumes: Option<Mapping<Option<Volume>>>,
    #[serde(rename = "name")]
    _name: Option<IgnoredAny>,
    #[serde(rename = "version")]
    _version: Option<IgnoredAny>,
    #[serde(flatten)]
    _ext: Extensions,
}

/// One service definition.
#[derive(Deserialize)]
#[serde(expecting = "a mapping")]
pub(super) struct Service {
    pub image: Option<Scalar>,
    pub container_name: Option<Scalar>,
    pub command: Option<Words>,
    pub entrypoint: Option<Words>,
    pub environment: Option<Entries>,
    pub ports: Option<List<Port>>,
    pub volumes: Option<List<MountEntry>>,
    pub networks: Option<ListOrMap<Scalar, IndexMap<String, Option<ServiceNetwork>>>>,
    #[serde(default, deserialize_with = "restart")]
    pub restart: Option<RestartPolicy>,
    pub user: Option<Scalar>,
    pub hostname: Option<Scalar>,
    #[serde(default, deserialize_with = "bytes")]
    pub shm_size: Option<i64>,
    pub logging: Option<Logging>,
    pub healthcheck: Option<Healthcheck>,
    pub depends_on: Option<ListOrMap<Scalar, IndexMap<String, Option<DependsOn>>>>,
    pub labels: Option<Entries>,
    #[serde(flatten)]
    _ext: Extensions,
}

/// One `ports` entry: `[HOST_IP:][HOST:]CONTAINER[/PROTOCOL]` (ranges allowed, so one
/// entry may publish several ports) or the long syntax.
pub(super) struct Port(pub Vec<PortSpec>);

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let short = match ShortOrLong::<PortLong>::deserialize(d)? {
            ShortOrLong::Short(s) => s,
            ShortOrLong::Long(l) => l.short(),
        };
        parse_port(&short).map(Port).map_err(de::Error::custom)
    }
}

#[derive(Deserialize)]
#[serde(expecting = "a mapping")]
struct PortLong {
    target: Scalar,
    published: Option<Scalar>,
    host_ip: Option<Scalar>,
    protocol: Option<Scalar>,
    #[serde(rename = "mode")]
    _mode: Option<IgnoredAny>,
    #[serde(flatten)]
    _ext: Extensions,
}

impl PortLong {
    /// The same port in the short syntax.
    fn short(self) -> String {
        let target = self.target.0;
        let published = self.published.map(|p| p.0).unwrap_or_default();
        let s = match self.host_ip.map(|i| i.0) {
            Some(ip) if ip.contains(':') => format!("[{ip}]:{published}:{target}"),
            Some(ip) => format!("{ip}:{published}:{target}"),
            None if published.is_empty() => target,
            None => format!("{published}:{target}"),
        };
        match self.protocol {
            Some(p) => format!("{s}/{}", p.0),
            None => s,
        }
    }
}

/// One `volumes` entry: the short syntax `SOURCE:TARGET[:ro|rw]` (a bind when SOURCE
/// starts with `.`, `/` or `~`, else a named volume) or the long one (`type` bind or
/// volume).
pub(super) struct MountEntry {
    pub bind: bool,
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

impl<'de> Deserialize<'de> for MountEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = match ShortOrLong::<MountLong>::deserialize(d)? {
            ShortOrLong::Short(s) => short_mount(&s).map_err(de::Error::custom)?,
            ShortOrLong::Long(l) => {
                let kind = l.kind.map_or_else(|| "volume".to_owned(), |k| k.0);
                if kind != "bind" && kind != "volume" {
                    return Err(de::Error::custom(format!(
                        "mount type `{kind}` is not supported"
                    )));
                }
                MountEntry {
                    bind: kind == "bind",
                    source: l.source.0,
                    target: l.target.0,
                    read_only: l.read_only.is_some_and(|f| f.0),
                }
            }
        };
        if let Some(rest) = m.source.strip_prefix("~/").filter(|_| m.bind) {
            return Err(de::Error::custom(format!(
                "`~/{rest}`: home-relative paths are not supported"
            )));
        }
        Ok(m)
    }
}

fn short_mount(s: &str) -> Result<MountEntry, String> {
    let (source, target, mode) = match s.split(':').collect::<Vec<_>>().as_slice() {
        [src, tgt] => ((*src).to_owned(), (*tgt).to_owned(), ""),
        [src, tgt, mode] => ((*src).to_owned(), (*tgt).to_owned(), *mode),
        _ => {
            return Err(
                "expected SOURCE:TARGET[:ro|rw] (anonymous volumes are not supported)".into(),
            );
        }
    };
    let read_only = match mode {
        "" | "rw" => false,
        "ro" => true,
        other => return Err(format!("unsupported mount mode `{other}`")),
    };
    Ok(MountEntry {
        bind: source.starts_with(['.', '/', '~']),
        source,
        target,
        read_only,
    })
}

#[derive(Deserialize)]
#[serde(expecting = "a mapping")]
struct MountLong {
    #[serde(rename = "type")]
    kind: Option<Scalar>,
    source: Scalar,
    target: Scalar,
    read_only: Option<Flag>,
    #[serde(rename = "bind")]
    _bind: Option<IgnoredAny>,
    #[serde(rename = "volume")]
    _volume: Option<IgnoredAny>,
    #[serde(flatten)]
    _ext: Extensions,
}

/// A service's entry under one network.
#[derive(Deserialize)]
#[serde(expecting = "a mapping")]
pub(super) struct ServiceNetwork {
    pub aliases: Option<Words>,
    #[serde(flatten)]
    _ext: Extensions,
}

/// `logging`: a driver and its options.
#[derive(Deserialize)]
#[serde(expecting = "a mapping")]
pub(super) struct Logging {
    pub driver: Option<Scalar>,
    pub options: Option<Entries>,
    #[serde(flatten)]
    _ext: Extensions,
}

/// `healthcheck`, with the test in the engine's form (`["CMD-SHELL", "..."]` for a string).
#[derive(Deserialize)]
#[serde(expecting = "a mapping")]
pub(super) struct Healthcheck {
    #[serde(default, deserialize_with = "health_test")]
    pub test: Option<Vec<String>>,
    #[serde(default, deserialize_with = "duration")]
    pub interval: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub timeout: Option<Duration>,
    #[serde(default, deserialize_with = "whole")]
    pub retries: Option<i64>,
    #[serde(default, deserialize_with = "duration")]
    pub start_period: Option<Duration>,
    pub disable: Option<Flag>,
    #[serde(flatten)]
    _ext: Extensions,
}

/// One `depends_on` entry of the long syntax.
#[derive(Deserialize)]
#[serde(expecting = "a mapping")]
pub(super) struct DependsOn {
    #[serde(default, deserialize_with = "condition")]
    pub condition: Option<Condition>,
    pub restart: Option<Flag>,
    pub required: Option<Flag>,
    #[serde(flatten)]
    _ext: Extensions,
}

/// A top-level network.
#[derive(Default, Deserialize)]
#[serde(expecting = "a mapping")]
pub(super) struct Network {
    pub name: Option<Scalar>,
    pub driver: Option<Scalar>,
    pub external: Option<Flag>,
    pub labels: Option<Entries>,
    #[serde(flatten)]
    _ext: Extensions,
}

/// A top-level named volume.
#[derive(Default, Deserialize)]
#[serde(expecting = "a mapping")]
pub(super) struct Volume {
    pub name: Option<Scalar>,
    pub external: Option<Flag>,
    pub labels: Option<Entries>,
    #[serde(flatten)]
    _ext: Extensions,
}

/// An optional scalar parsed by `parse`, its error naming the key.
fn parsed<'de, D: Deserializer<'de>, T>(
    d: D,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, D::Error> {
    Option::<Scalar>::deserialize(d)?
        .map(|s| parse(&s.0).map_err(de::Error::custom))
        .transpose()
}

fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    parsed(d, parse_duration)
}

fn bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    parsed(d, parse_bytes)
}

fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    parsed(d, |s| {
        s.parse::<i64>()
            .map_err(|_| "expected a whole number".to_owned())
    })
}

/// `restart`: `no`, `always`, `unless-stopped`, `on-failure[:N]`.
fn restart<'de, D: Deserializer<'de>>(d: D) -> Result<Option<RestartPolicy>, D::Error> {
    parsed(d, |s| match s {
        "no" => Ok(RestartPolicy::No),
        "always" => Ok(RestartPolicy::Always),
        "unless-stopped" => Ok(RestartPolicy::UnlessStopped),
        "on-failure" => Ok(RestartPolicy::OnFailure(None)),
        s if s.starts_with("on-failure:") => s["on-failure:".len()..]
            .parse()
            .map(|n| RestartPolicy::OnFailure(Some(n)))
            .map_err(|_| "invalid retry count".to_owned()),
        other => Err(format!("unknown restart policy `{other}`")),
    })
}

fn condition<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Condition>, D::Error> {
    parsed(d, |s| match s {
        "service_started" => Ok(Condition::ServiceStarted),
        "service_healthy" => Ok(Condition::ServiceHealthy),
        "service_completed_successfully" => Ok(Condition::ServiceCompletedSuccessfully),
        other => Err(format!("unknown condition `{other}`")),
    })
}

/// A healthcheck test: a string runs in a shell (`CMD-SHELL`); a list starts with `CMD`,
/// `CMD-SHELL` or `NONE`.
fn health_test<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Ok(match Option::<StringOrList>::deserialize(d)? {
        None => None,
        Some(StringOrList::String(s)) => Some(vec!["CMD-SHELL".to_owned(), s]),
        Some(StringOrList::List(list)) => {
            if !matches!(
                list.first().map(String::as_str),
                Some("CMD" | "CMD-SHELL" | "NONE")
            ) {
                return Err(de::Error::custom(
                    "a list must start with CMD, CMD-SHELL or NONE",
                ));
            }
            Some(list)
        }
    })
}
