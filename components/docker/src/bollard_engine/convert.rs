//! Between bollard's types and the engine interface's: errors, durations, labels, the
//! create-container body, port bindings and log chunks.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, HostConfigLogConfig,
    NetworkingConfig, PortBinding, PortSummary, PortSummaryTypeEnum, RestartPolicyNameEnum,
};

use crate::error::parse_port_clash;
use crate::{ContainerSpec, DockerError, LogChunk, LogStream, PortSpec, Protocol, RestartPolicy};

pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        src = s.source();
    }
    out
}

pub(super) fn map_error(host: &str, what: &str, e: BollardError) -> DockerError {
    match e {
        BollardError::DockerResponseServerError {
            status_code,
            message,
        } => match status_code {
            404 => DockerError::NotFound {
                what: what.to_owned(),
                message,
            },
            409 => DockerError::Conflict { message },
            _ => match parse_port_clash(&message) {
                Some(port) => DockerError::PortAllocated { port, holder: None },
                None => DockerError::Other { message },
            },
        },
        e @ (BollardError::IOError { .. }
        | BollardError::HyperLegacyError { .. }
        | BollardError::HttpClientError { .. }
        | BollardError::SocketNotFoundError(_)
        | BollardError::RequestTimeoutError) => DockerError::EngineUnreachable {
            host: redact::url(host),
            reason: redact::text(&error_chain(&e)),
        },
        e => DockerError::Other {
            message: redact::text(&error_chain(&e)),
        },
    }
}

pub(super) fn to_map(labels: Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    labels.unwrap_or_default().into_iter().collect()
}

fn nanos(d: Option<Duration>) -> Option<i64> {
    d.map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

pub(super) fn secs(d: Option<Duration>) -> Option<i32> {
    d.map(|d| i32::try_from(d.as_secs()).unwrap_or(i32::MAX))
}

pub(super) fn create_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    let mut exposed = Vec::new();
    for p in &spec.ports {
        let key = format!("{}/{}", p.container_port, p.protocol);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        port_bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: p.host_ip.clone(),
                host_port: p.host_port.map(|p| p.to_string()),
            });
    }
    let restart = match spec.restart {
        RestartPolicy::No => (RestartPolicyNameEnum::NO, None),
        RestartPolicy::Always => (RestartPolicyNameEnum::ALWAYS, None),
        RestartPolicy::UnlessStopped => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
        RestartPolicy::OnFailure(n) => (RestartPolicyNameEnum::ON_FAILURE, n),
    };
    let host_config = HostConfig {
        binds: (!spec.binds.is_empty()).then(|| spec.binds.clone()),
        port_bindings: (!port_bindings.is_empty()).then_some(port_bindings),
        restart_policy: Some(bollard::models::RestartPolicy {
            name: Some(restart.0),
            maximum_retry_count: restart.1,
        }),
        shm_size: spec.shm_size,
        log_config: spec
            .log_config
            .as_ref()
            .map(|(driver, opts)| HostConfigLogConfig {
                typ: Some(driver.clone()),
                config: Some(opts.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            }),
        network_mode: spec.network.as_ref().map(|(n, _)| n.clone()),
        ..Default::default()
    };
    let networking_config = spec.network.as_ref().map(|(n, aliases)| NetworkingConfig {
        endpoints_config: Some(HashMap::from([(
            n.clone(),
            EndpointSettings {
                aliases: (!aliases.is_empty()).then(|| aliases.clone()),
                ..Default::default()
            },
        )])),
    });
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: spec.cmd.clone(),
        entrypoint: spec.entrypoint.clone(),
        env: (!spec.env.is_empty()).then(|| spec.env.clone()),
        labels: Some(
            spec.labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        user: spec.user.clone(),
        hostname: spec.hostname.clone(),
        working_dir: spec.working_dir.clone(),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        healthcheck: spec.healthcheck.as_ref().map(|h| HealthConfig {
            test: Some(h.test.clone()),
            interval: nanos(h.interval),
            timeout: nanos(h.timeout),
            retries: h.retries,
            start_period: nanos(h.start_period),
            start_interval: None,
        }),
        tty: Some(spec.tty),
        stop_timeout: spec.stop_timeout,
        host_config: Some(host_config),
        networking_config,
        ..Default::default()
    }
}

/// Port bindings (`"5432/tcp" -> [{HostIp, HostPort}]`) as sorted [`PortSpec`]s.
pub(super) fn port_specs(map: HashMap<String, Option<Vec<PortBinding>>>) -> Vec<PortSpec> {
    let mut ports = Vec::new();
    for (key, bindings) in map {
        let (port, proto) = key.split_once('/').unwrap_or((&key, "tcp"));
        let Ok(container_port) = port.parse::<u16>() else {
            continue;
        };
        let protocol = match proto {
            "udp" => Protocol::Udp,
            "sctp" => Protocol::Sctp,
            _ => Protocol::Tcp,
        };
        for b in bindings.unwrap_or_default() {
            ports.push(PortSpec {
                container_port,
                protocol,
                host_ip: b.host_ip.filter(|h| !h.is_empty()),
                host_port: b.host_port.and_then(|p| p.parse().ok()),
            });
        }
    }
    ports.sort();
    ports.dedup();
    ports
}

/// The list's ports that are bound on the host, as sorted [`PortSpec`]s (the same as an
/// inspect's `NetworkSettings.Ports`).
pub(super) fn listed_ports(ports: Vec<PortSummary>) -> Vec<PortSpec> {
    let mut out: Vec<PortSpec> = ports
        .into_iter()
        .filter_map(|p| {
            Some(PortSpec {
                container_port: p.private_port,
                protocol: match p.typ {
                    Some(PortSummaryTypeEnum::UDP) => Protocol::Udp,
                    Some(PortSummaryTypeEnum::SCTP) => Protocol::Sctp,
                    _ => Protocol::Tcp,
                },
                host_ip: p.ip.filter(|h| !h.is_empty()),
                host_port: Some(p.public_port?),
            })
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

pub(super) fn log_chunk(out: bollard::container::LogOutput) -> LogChunk {
    use bollard::container::LogOutput as L;
    match out {
        L::StdErr { message } => LogChunk {
            stream: LogStream::Stderr,
            bytes: message.to_vec(),
        },
        L::StdOut { message } | L::Console { message } | L::StdIn { message } => LogChunk {
            stream: LogStream::Stdout,
            bytes: message.to_vec(),
        },
    }
}
