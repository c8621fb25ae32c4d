//! `exec` with attached streams: the command's stdin fed from a reader while its stdout
//! goes to a sink chunk by chunk and the tail of its stderr is kept.

use std::io::Read as _;

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::TryStreamExt as _;
use tokio::io::AsyncWriteExt as _;

use super::BollardEngine;
use super::convert::log_chunk;
use crate::{DockerError, EXEC_STDERR_KEEP, ExecInput, ExecOutput, ExecSink, ExecSpec, LogStream};

impl BollardEngine {
    /// Run `spec` in container `id`: create the exec, attach, feed `stdin` and read the
    /// output concurrently, then inspect the exit code.
    pub(super) async fn exec_attached(
        &self,
        id: &str,
        spec: &ExecSpec,
        stdin: Option<ExecInput>,
        sink: ExecSink<'_>,
    ) -> Result<ExecOutput, DockerError> {
        let created = self
            .docker
            .create_exec(id, create_options(spec, stdin.is_some()))
            .await
            .map_err(|e| self.map("container", e))?;
        let started = self
            .docker
            .start_exec(
                &created.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: None,
                }),
            )
            .await
            .map_err(|e| self.map("exec", e))?;
        let mut out = ExecOutput::default();
        if let StartExecResults::Attached {
            mut output,
            mut input,
        } = started
        {
            // Feed stdin while the output is read: a command writing much before it has read
            // all its input (psql reporting errors) would otherwise block both sides.
            let feed = async move {
                let fed = match stdin {
                    Some(reader) => copy_blocking_reader(reader, &mut input).await,
                    None => Ok(()),
                };
                // A command that exits without reading stdin closes the pipe: not an error.
                let _ = input.shutdown().await;
                fed.map_err(|e| DockerError::Other {
                    message: format!("the command's input could not be read: {e}"),
                })
            };
            let read = async {
                while let Some(chunk) = output.try_next().await.map_err(|e| self.map("exec", e))? {
                    let c = log_chunk(chunk);
                    match c.stream {
                        LogStream::Stdout => sink(&c.bytes).map_err(|e| DockerError::Other {
                            message: format!("the command's output could not be written: {e}"),
                        })?,
                        LogStream::Stderr => {
                            out.stderr.extend(c.bytes);
                            let over = out.stderr.len().saturating_sub(EXEC_STDERR_KEEP);
                            out.stderr.drain(..over);
                        }
                    }
                }
                Ok::<(), DockerError>(())
            };
            // The first failure ends both sides (a stuck writer must not outlive its reader).
            tokio::try_join!(feed, read)?;
        }
        let inspected = self
            .docker
            .inspect_exec(&created.id)
            .await
            .map_err(|e| self.map("exec", e))?;
        out.exit_code = inspected.exit_code.unwrap_or(-1);
        Ok(out)
    }
}

/// The exec to create: `spec`'s command, environment (never argv for secrets), user and
/// directory, stdout and stderr attached, stdin when there is input, no TTY.
fn create_options(spec: &ExecSpec, attach_stdin: bool) -> CreateExecOptions<String> {
    CreateExecOptions {
        attach_stdin: Some(attach_stdin),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        env: (!spec.env.is_empty()).then(|| spec.env.clone()),
        cmd: Some(spec.cmd.clone()),
        user: spec.user.clone(),
        working_dir: spec.working_dir.clone(),
        ..Default::default()
    }
}

/// Copy a blocking reader (a file, a gzip decoder) into an async writer in bounded chunks,
/// reading on a blocking thread. A writer that closes early (the command exited) ends the
/// copy without an error; a failing reader is the error.
async fn copy_blocking_reader(
    mut reader: ExecInput,
    writer: &mut (impl tokio::io::AsyncWrite + Unpin),
) -> std::io::Result<()> {
    const CHUNK: usize = 64 * 1024;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    let reading = tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let item = match reader.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => Ok(buf[..n].to_vec()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let failed = item.is_err();
            if tx.blocking_send(item).is_err() || failed {
                return;
            }
        }
    });
    let mut result = Ok(());
    while let Some(item) = rx.recv().await {
        match item {
            Ok(chunk) => {
                if writer.write_all(&chunk).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    drop(rx);
    let _ = reading.await;
    result
}
