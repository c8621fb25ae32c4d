//! [`SwarmServiceSpec`] -> the engine's `ServiceSpec` (the fields `docker stack deploy` sets,
//! Upstream: github.com/docker/cli cli/compose/convert/service.go `Service()`, at commit
//! 0163d9c0ee5a03e0f15c3ff7815f18b8d80bdde4).

use std::collections::HashMap;

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, EndpointSpecModeEnum, HealthConfig, Mount, MountTmpfsOptions, MountType,
    NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    ServiceSpecModeReplicatedJob, TaskSpec, TaskSpecContainerSpec, TaskSpecContainerSpecConfigs,
    TaskSpecContainerSpecFile, TaskSpecContainerSpecFile1, TaskSpecContainerSpecSecrets,
    TaskSpecPlacement, TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum,
};

use super::swarm::{SwarmFileRef, SwarmMount, SwarmRestart, SwarmServiceSpec};
use crate::{HealthSpec, PortSpec, Protocol};

fn nanos(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

fn map(m: &std::collections::BTreeMap<String, String>) -> HashMap<String, String> {
    m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn some_vec<T: Clone>(v: &[T]) -> Option<Vec<T>> {
    (!v.is_empty()).then(|| v.to_vec())
}

fn mount(m: &SwarmMount) -> Mount {
    match m {
        SwarmMount::Bind {
            source,
            target,
            read_only,
        } => Mount {
            typ: Some(MountType::BIND),
            source: Some(source.clone()),
            target: Some(target.clone()),
            read_only: Some(*read_only),
            ..Default::default()
        },
        SwarmMount::Tmpfs { target, size_bytes } => Mount {
            typ: Some(MountType::TMPFS),
            target: Some(target.clone()),
            tmpfs_options: Some(MountTmpfsOptions {
                size_bytes: Some(*size_bytes),
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}

fn health(h: &HealthSpec) -> HealthConfig {
    HealthConfig {
        test: Some(h.test.clone()),
        interval: h.interval.map(nanos),
        timeout: h.timeout.map(nanos),
        retries: h.retries,
        start_period: h.start_period.map(nanos),
        ..Default::default()
    }
}

fn restart(r: SwarmRestart) -> TaskSpecRestartPolicy {
    TaskSpecRestartPolicy {
        condition: Some(match r.condition {
            "none" => TaskSpecRestartPolicyConditionEnum::NONE,
            "on-failure" => TaskSpecRestartPolicyConditionEnum::ON_FAILURE,
            _ => TaskSpecRestartPolicyConditionEnum::ANY,
        }),
        max_attempts: (r.max_attempts > 0).then_some(i64::from(r.max_attempts)),
        ..Default::default()
    }
}

fn secrets(files: &[SwarmFileRef]) -> Vec<TaskSpecContainerSpecSecrets> {
    files
        .iter()
        .filter(|f| f.secret)
        .map(|f| TaskSpecContainerSpecSecrets {
            secret_name: Some(f.name.clone()),
            secret_id: Some(f.id.clone()),
            file: Some(TaskSpecContainerSpecFile {
                name: Some(f.target.clone()),
                uid: Some(f.uid.to_string()),
                gid: Some(f.gid.to_string()),
                mode: Some(f.mode),
            }),
        })
        .collect()
}

fn configs(files: &[SwarmFileRef]) -> Vec<TaskSpecContainerSpecConfigs> {
    files
        .iter()
        .filter(|f| !f.secret)
        .map(|f| TaskSpecContainerSpecConfigs {
            config_name: Some(f.name.clone()),
            config_id: Some(f.id.clone()),
            file: Some(TaskSpecContainerSpecFile1 {
                name: Some(f.target.clone()),
                uid: Some(f.uid.to_string()),
                gid: Some(f.gid.to_string()),
                mode: Some(f.mode),
            }),
            ..Default::default()
        })
        .collect()
}

fn port(p: &PortSpec) -> EndpointPortConfig {
    EndpointPortConfig {
        protocol: Some(match p.protocol {
            Protocol::Tcp => EndpointPortConfigProtocolEnum::TCP,
            Protocol::Udp => EndpointPortConfigProtocolEnum::UDP,
            Protocol::Sctp => EndpointPortConfigProtocolEnum::SCTP,
        }),
        target_port: Some(i64::from(p.container_port)),
        published_port: p.host_port.map(i64::from),
        publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
        ..Default::default()
    }
}

fn container(spec: &SwarmServiceSpec) -> TaskSpecContainerSpec {
    let files = &spec.files;
    TaskSpecContainerSpec {
        image: Some(spec.image.clone()),
        command: some_vec(&spec.entrypoint),
        args: some_vec(&spec.args),
        hostname: spec.hostname.clone(),
        env: some_vec(&spec.env),
        user: spec.user.clone(),
        labels: Some(map(spec.container_labels.as_ref().unwrap_or(&spec.labels))),
        mounts: some_vec(&spec.mounts.iter().map(mount).collect::<Vec<_>>()),
        health_check: spec.healthcheck.as_ref().map(health),
        secrets: some_vec(&secrets(files)),
        configs: some_vec(&configs(files)),
        stop_grace_period: spec.stop_grace_period.map(nanos),
        ..Default::default()
    }
}

/// The engine's service spec of `spec`.
pub(super) fn service_spec(spec: &SwarmServiceSpec) -> ServiceSpec {
    let networks = spec
        .networks
        .iter()
        .map(|n| NetworkAttachmentConfig {
            target: Some(n.clone()),
            aliases: some_vec(&spec.aliases),
            ..Default::default()
        })
        .collect();
    let mode = if spec.job {
        ServiceSpecMode {
            replicated_job: Some(ServiceSpecModeReplicatedJob {
                max_concurrent: Some(i64::from(spec.replicas)),
                total_completions: Some(i64::from(spec.replicas)),
            }),
            ..Default::default()
        }
    } else {
        ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(i64::from(spec.replicas)),
            }),
            ..Default::default()
        }
    };
    ServiceSpec {
        name: Some(spec.name.clone()),
        labels: Some(map(&spec.labels)),
        task_template: Some(TaskSpec {
            container_spec: Some(container(spec)),
            placement: Some(TaskSpecPlacement {
                constraints: Some(spec.constraints.clone()),
                ..Default::default()
            }),
            restart_policy: spec.restart.map(restart),
            networks: Some(networks),
            ..Default::default()
        }),
        mode: Some(mode),
        endpoint_spec: Some(EndpointSpec {
            mode: Some(if spec.dnsrr {
                EndpointSpecModeEnum::DNSRR
            } else {
                EndpointSpecModeEnum::VIP
            }),
            ports: some_vec(&spec.host_ports.iter().map(port).collect::<Vec<_>>()),
        }),
        ..Default::default()
    }
}
