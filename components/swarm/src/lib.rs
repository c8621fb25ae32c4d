//! swarm: the swarm mode of the service commands (docs/multi-host.md). The project's
//! compose model (the same files and variables as in compose mode) and the catalog become
//! Docker Swarm services as `docker stack deploy` makes them: named `<project>_<service>`,
//! labelled `com.docker.stack.namespace=<project>` and `com.docker.stack.image`, on an
//! attachable overlay network with `endpoint_mode: dnsrr`; stateful services pinned by
//! `<SERVICE>_NODE`, their data directories created on that node, single files (certificates,
//! configuration) as Swarm configs and secrets; `depends_on` as deploy order with a wait for
//! each service's running (healthy) task. [`translate`] is the pure translation, [`start`],
//! [`stop`], [`status`] and [`remove`] act on a swarm manager's engine.
//!
//! It returns reports and typed errors; it never prints or reads the environment.

mod error;
mod ops;
mod placement;
mod spec;

pub use error::SwarmError;
pub use ops::{
    RemoveReport, StartOptions, StartReport, StatusReport, StopReport, TaskRow, remove, start,
    status, stop,
};
pub use placement::{Pin, check_manager_host, node_key, pins_from};
pub use spec::{Stack, StackFile, StackService, translate};

/// The label every object of a stack carries (`docker stack ps/services <project>`).
pub const LABEL_NAMESPACE: &str = "com.docker.stack.namespace";
/// The label of a service's image as written in the compose file.
pub const LABEL_IMAGE: &str = "com.docker.stack.image";

#[cfg(test)]
mod tests;
