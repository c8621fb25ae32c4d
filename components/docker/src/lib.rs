//! docker: the only crate that talks to the Docker Engine API (through bollard).
//!
//! It offers an [`Engine`] trait with the operations the compose engine and the service
//! commands need (containers, networks, volumes, images, exec, logs, wait), a bollard
//! adapter [`BollardEngine`] that connects through `DOCKER_HOST` and negotiates the API
//! version, and domain errors ([`DockerError`]) instead of HTTP status codes. With the
//! `fake` feature it also offers an in-memory [`FakeEngine`] for unit tests.
//!
//! It knows nothing of compose files, DTaaS services or settings, and never prints.

mod bollard_engine;
mod engine;
mod error;
#[cfg(feature = "fake")]
mod fake;
mod listed;
mod types;

pub use bollard_engine::{
    BollardEngine, SwarmFileRef, SwarmMount, SwarmNode, SwarmObject, SwarmRestart,
    SwarmServiceInfo, SwarmServiceSpec, SwarmTask,
};
pub use engine::{BoxStream, Engine};
pub use error::DockerError;
#[cfg(feature = "fake")]
pub use fake::{FakeEngine, FakeEvent};
pub use listed::Listed;
pub use types::{
    ContainerDetails, ContainerInfo, ContainerSpec, ContainerState, EXEC_STDERR_KEEP,
    EngineVersion, ExecInput, ExecOutput, ExecSink, ExecSpec, Health, HealthSpec, ImageInfo,
    LogChunk, LogStream, LogsOptions, NetworkInfo, NetworkSpec, PortSpec, Protocol, PullProgress,
    RestartPolicy, VolumeInfo, VolumeSpec, split_image_ref,
};
