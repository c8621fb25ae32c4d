//! The one-off `run` (like `docker compose run --rm`, killed at its timeout) and `exec`
//! in a service's running container.

use std::time::Duration;

use docker::{
    DockerError, Engine, ExecInput, ExecOutput, ExecSink, ExecSpec, LogStream, LogsOptions,
    RestartPolicy,
};
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};

use super::{Compose, UpOptions};
use crate::labels as l;
use crate::{ComposeError, ProgressSink};

/// Options of a one-off [`Compose::run`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Extra `KEY=value` variables (they override the service's).
    pub env: Vec<(String, String)>,
    pub user: Option<String>,
    /// Replaces the service's command.
    pub command: Option<Vec<String>>,
    /// Kill the one-off container when it runs longer.
    pub timeout: Option<Duration>,
}

/// How a one-off container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    pub container: String,
    /// `None` when it was killed at the timeout.
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl<E: Engine> Compose<'_, E> {
    /// Run a one-off container of `service` (like `docker compose run --rm`): its
    /// dependencies are brought up first; the one-off container is killed at the timeout
    /// (never the service's own container) and always removed.
    ///
    /// # Errors
    /// Unknown service, engine errors, failed dependencies.
    pub async fn run(&self, service: &str, opts: &RunOptions) -> Result<RunOutput, ComposeError> {
        let services = self.check_services(&[service.to_owned()])?;
        self.check_bind_sources(&services)?;
        let def = self.project.services[service].clone();
        let deps: Vec<String> = def.depends_on.keys().cloned().collect();
        if !deps.is_empty() {
            self.up(&deps, &UpOptions::default()).await?;
        }
        self.ensure_networks(&services).await?;
        self.ensure_volumes(&services).await?;
        let images = self
            .ensure_images(&services, &mut Vec::new(), &ProgressSink::none())
            .await?;
        let image_id = images.get(&def.image).cloned().unwrap_or_default();
        let mut spec = self.container_spec(&def, &image_id);
        let slug = {
            let seed = format!(
                "{}-{}-{:?}",
                self.project.name,
                std::process::id(),
                std::time::SystemTime::now()
            );
            hex::encode(Sha256::digest(seed.as_bytes()))
        };
        spec.name = format!("{}-{service}-run-{}", self.project.name, &slug[..12]);
        spec.labels.remove(l::CONTAINER_NUMBER);
        spec.labels.insert(l::ONEOFF.into(), "True".into());
        spec.labels.insert(l::SLUG.into(), slug);
        spec.ports.clear();
        spec.restart = RestartPolicy::No;
        for (k, v) in &opts.env {
            spec.env
                .retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != k);
            spec.env.push(format!("{k}={v}"));
        }
        if let Some(u) = &opts.user {
            spec.user = Some(u.clone());
        }
        if let Some(c) = &opts.command {
            spec.cmd = Some(c.clone());
        }
        let id = self.engine.create_container(&spec).await?;
        let result = self.run_created(&id, &spec.name, opts.timeout).await;
        let removed = self.engine.remove_container(&id, true, true).await;
        let out = result?;
        removed?;
        Ok(out)
    }

    async fn run_created(
        &self,
        id: &str,
        name: &str,
        timeout: Option<Duration>,
    ) -> Result<RunOutput, ComposeError> {
        self.engine.start_container(id).await?;
        let waited = match timeout {
            Some(t) => tokio::time::timeout(t, self.engine.wait_container(id))
                .await
                .ok(),
            None => Some(self.engine.wait_container(id).await),
        };
        let (exit_code, timed_out) = match waited {
            Some(code) => (Some(code?), false),
            None => {
                match self.engine.kill_container(id, None).await {
                    Ok(()) | Err(DockerError::Conflict { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                let _ = self.engine.wait_container(id).await;
                (None, true)
            }
        };
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut logs = self.engine.logs(
            id,
            &LogsOptions {
                follow: false,
                tail: None,
                ..LogsOptions::default()
            },
        );
        while let Some(chunk) = logs.try_next().await? {
            match chunk.stream {
                LogStream::Stdout => stdout.extend(chunk.bytes),
                LogStream::Stderr => stderr.extend(chunk.bytes),
            }
        }
        Ok(RunOutput {
            container: name.to_owned(),
            exit_code,
            timed_out,
            stdout,
            stderr,
        })
    }

    /// Run a command in a service's running container.
    ///
    /// # Errors
    /// Unknown service, engine errors (not running: [`DockerError::Conflict`]).
    pub async fn exec(&self, service: &str, spec: &ExecSpec) -> Result<ExecOutput, ComposeError> {
        self.check_services(&[service.to_owned()])?;
        Ok(self
            .engine
            .exec(&self.project.container_name(service), spec)
            .await?)
    }

    /// [`Compose::exec`] with stdin read from `stdin` and stdout handed to `sink` as they
    /// flow (see [`Engine::exec_streaming`]): for data of any size.
    ///
    /// # Errors
    /// Unknown service, engine errors, a failing `stdin` or `sink`.
    pub async fn exec_streaming(
        &self,
        service: &str,
        spec: &ExecSpec,
        stdin: Option<ExecInput>,
        sink: ExecSink<'_>,
    ) -> Result<ExecOutput, ComposeError> {
        self.check_services(&[service.to_owned()])?;
        Ok(self
            .engine
            .exec_streaming(&self.project.container_name(service), spec, stdin, sink)
            .await?)
    }
}
