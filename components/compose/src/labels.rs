//! The label keys Docker Compose v2 writes, and ours.

pub(crate) const PROJECT: &str = "com.docker.compose.project";
pub(crate) const SERVICE: &str = "com.docker.compose.service";
pub(crate) const CONTAINER_NUMBER: &str = "com.docker.compose.container-number";
pub(crate) const ONEOFF: &str = "com.docker.compose.oneoff";
pub(crate) const CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub(crate) const DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub(crate) const IMAGE: &str = "com.docker.compose.image";
pub(crate) const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub(crate) const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub(crate) const VERSION: &str = "com.docker.compose.version";
pub(crate) const SLUG: &str = "com.docker.compose.slug";
pub(crate) const NETWORK: &str = "com.docker.compose.network";
pub(crate) const VOLUME: &str = "com.docker.compose.volume";
/// The compose version we write, so `docker compose` treats the containers as its own.
pub(crate) const COMPOSE_VERSION: &str = "2.40.3";
/// Our own hash of the service definition: present only on containers we created.
pub(crate) const DTAAS_HASH: &str = "org.dtaas.services.config-hash";

/// The containers of `service` in compose project `project` (any state), found by the labels
/// Docker Compose v2 writes, without loading the project's files: what the service crates
/// use to exec into a service's container.
///
/// # Errors
/// Engine errors.
pub async fn service_containers<E: docker::Engine>(
    engine: &E,
    project: &str,
    service: &str,
) -> Result<Vec<docker::ContainerInfo>, docker::DockerError> {
    engine
        .list_containers(&[(PROJECT, Some(project)), (SERVICE, Some(service))])
        .await
}
