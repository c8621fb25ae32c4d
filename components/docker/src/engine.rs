use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::{
    ContainerInfo, ContainerSpec, DockerError, EngineVersion, ExecInput, ExecOutput, ExecSink,
    ExecSpec, ImageInfo, LogChunk, LogsOptions, NetworkInfo, NetworkSpec, PullProgress, VolumeInfo,
    VolumeSpec,
};

/// A boxed, sendable stream.
pub type BoxStream<T> = Pin<Box<dyn futures_util::Stream<Item = T> + Send + 'static>>;

/// The Docker engine operations the compose engine and the service commands use.
///
/// Containers are addressed by id or name. Implementations: [`crate::BollardEngine`]
/// (the real engine) and, with the `fake` feature, `FakeEngine`.
pub trait Engine: Send + Sync {
    /// The engine's address, for messages (`unix:///var/run/docker.sock`).
    fn host(&self) -> String;

    /// The engine's version and API version.
    fn version(&self) -> impl Future<Output = Result<EngineVersion, DockerError>> + Send;

    /// Containers in every state whose labels match all of `labels`
    /// (`(key, Some(value))` for `key=value`, `(key, None)` for the key alone).
    fn list_containers(
        &self,
        labels: &[(&str, Option<&str>)],
    ) -> impl Future<Output = Result<Vec<ContainerInfo>, DockerError>> + Send;

    /// One container, by id or name.
    fn inspect_container(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<ContainerInfo, DockerError>> + Send;

    /// Create a container; returns its id.
    fn create_container(
        &self,
        spec: &ContainerSpec,
    ) -> impl Future<Output = Result<String, DockerError>> + Send;

    /// Start a container (already running is fine).
    fn start_container(&self, id: &str) -> impl Future<Output = Result<(), DockerError>> + Send;

    /// Stop a container, killing it after `timeout` (the engine's default when `None`).
    /// Already stopped is fine.
    fn stop_container(
        &self,
        id: &str,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<(), DockerError>> + Send;

    /// Restart a container.
    fn restart_container(
        &self,
        id: &str,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<(), DockerError>> + Send;

    /// Send a signal (`SIGKILL` when `None`).
    fn kill_container(
        &self,
        id: &str,
        signal: Option<&str>,
    ) -> impl Future<Output = Result<(), DockerError>> + Send;

    /// Remove a container; `force` kills a running one, `volumes` removes its anonymous volumes.
    fn remove_container(
        &self,
        id: &str,
        force: bool,
        volumes: bool,
    ) -> impl Future<Output = Result<(), DockerError>> + Send;

    /// Wait until the container stops; returns its exit code.
    fn wait_container(&self, id: &str) -> impl Future<Output = Result<i64, DockerError>> + Send;

    /// The container's output.
    fn logs(&self, id: &str, options: &LogsOptions) -> BoxStream<Result<LogChunk, DockerError>>;

    /// Run a command in a running container and capture its output and exit code.
    fn exec(
        &self,
        id: &str,
        spec: &ExecSpec,
    ) -> impl Future<Output = Result<ExecOutput, DockerError>> + Send;

    /// [`Engine::exec`] for data of any size (database dumps): `stdin` is fed while the
    /// output is read, stdout goes to `sink` chunk by chunk and is never held whole; the
    /// returned `stdout` is empty and `stderr` holds its last [`crate::EXEC_STDERR_KEEP`] bytes.
    /// `spec.stdin` is ignored. A failing `stdin` or `sink` ends the exec with
    /// [`DockerError::Other`] naming which side failed.
    fn exec_streaming(
        &self,
        id: &str,
        spec: &ExecSpec,
        stdin: Option<ExecInput>,
        sink: ExecSink<'_>,
    ) -> impl Future<Output = Result<ExecOutput, DockerError>> + Send;

    /// One network, by name or id.
    fn inspect_network(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<NetworkInfo, DockerError>> + Send;

    /// Create a network; returns its id.
    fn create_network(
        &self,
        spec: &NetworkSpec,
    ) -> impl Future<Output = Result<String, DockerError>> + Send;

    /// Remove a network.
    fn remove_network(&self, name: &str) -> impl Future<Output = Result<(), DockerError>> + Send;

    /// One volume, by name.
    fn inspect_volume(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<VolumeInfo, DockerError>> + Send;

    /// Create a named volume.
    fn create_volume(
        &self,
        spec: &VolumeSpec,
    ) -> impl Future<Output = Result<VolumeInfo, DockerError>> + Send;

    /// Remove a named volume.
    fn remove_volume(
        &self,
        name: &str,
        force: bool,
    ) -> impl Future<Output = Result<(), DockerError>> + Send;

    /// Volumes whose labels match all of `labels`.
    fn list_volumes(
        &self,
        labels: &[(&str, Option<&str>)],
    ) -> impl Future<Output = Result<Vec<VolumeInfo>, DockerError>> + Send;

    /// A local image; [`DockerError::NotFound`] when it is not present.
    fn inspect_image(
        &self,
        image: &str,
    ) -> impl Future<Output = Result<ImageInfo, DockerError>> + Send;

    /// Pull an image; the stream ends after the last event. A failure ends the stream with
    /// [`DockerError::ImageMissing`].
    fn pull_image(&self, image: &str) -> BoxStream<Result<PullProgress, DockerError>>;
}

/// Format label filters the way the engine's `label` filter expects them.
pub(crate) fn label_filters(labels: &[(&str, Option<&str>)]) -> Vec<String> {
    labels
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => (*k).to_owned(),
        })
        .collect()
}

/// Whether `have` matches all label filters.
#[cfg_attr(not(feature = "fake"), allow(dead_code))]
pub(crate) fn labels_match(
    have: &BTreeMap<String, String>,
    labels: &[(&str, Option<&str>)],
) -> bool {
    labels.iter().all(|(k, v)| match (have.get(*k), v) {
        (Some(h), Some(v)) => h == v,
        (Some(_), None) => true,
        (None, _) => false,
    })
}
