//! PostgreSQL's backup and restore through its own clients in its container:
//! `pg_dumpall` streamed through gzip to disk, and the dump replayed with `psql`.

use std::path::Path;

use catalog::Service;
use docker::{Engine, ExecInput, ExecOutput, ExecSink, ExecSpec};

use crate::data_safety::{DataSafety, check_exec};
use crate::manifest::{BackupKind, ServiceBackup};
use crate::{BackupError, archive};

/// The dump's file name in a backup directory.
pub(crate) const PG_DUMP_FILE: &str = "postgres.sql.gz";

impl<E: Engine> DataSafety<'_, E> {
    /// `postgres.sql.gz` in `dir`: `pg_dumpall` of the running server, streamed through
    /// gzip to disk as it is written (the server keeps serving).
    pub(crate) async fn dump_postgres(
        &self,
        dir: &Path,
        image: String,
    ) -> Result<ServiceBackup, BackupError> {
        let s = Service::Postgres;
        let mut gz = archive::GzipFile::create(&dir.join(PG_DUMP_FILE))?;
        let mut sink = |chunk: &[u8]| gz.write(chunk);
        let out = self
            .exec_pg(
                vec!["pg_dumpall".into(), "--no-password".into()],
                None,
                &mut sink,
            )
            .await?;
        check_exec(s, "pg_dumpall", &out)?;
        let w = gz.finish()?;
        Ok(ServiceBackup {
            service: s.compose_name().to_owned(),
            kind: BackupKind::PgDumpall,
            image,
            paths: Vec::new(),
            file: PG_DUMP_FILE.to_owned(),
            size: w.size,
            sha256: w.sha256,
            unpacked_size: Some(w.unpacked_size),
            entries: None,
        })
    }

    /// Replay the dump `file` with `psql` in the (fresh, ready) server's container; it is
    /// decompressed as psql reads it.
    pub(crate) async fn replay_dump(&self, file: &Path) -> Result<(), BackupError> {
        let sql = archive::gunzip_reader(file)?;
        let mut discard_stdout = |_: &[u8]| Ok(());
        let out = self
            .exec_pg(
                vec![
                    "psql".into(),
                    "-X".into(),
                    "-q".into(),
                    "-v".into(),
                    "ON_ERROR_STOP=0".into(),
                ],
                Some(Box::new(sql)),
                &mut discard_stdout,
            )
            .await?;
        check_psql_restore(Service::Postgres, &out)
    }

    /// Run a PostgreSQL client command in the postgres container as the configured
    /// superuser; the password goes through the exec environment, never argv.
    async fn exec_pg(
        &self,
        cmd: Vec<String>,
        stdin: Option<ExecInput>,
        sink: ExecSink<'_>,
    ) -> Result<ExecOutput, BackupError> {
        let def = self.def(Service::Postgres)?;
        let var = |k: &str| def.environment.get(k).cloned().flatten();
        let mut env = vec!["PGDATABASE=postgres".to_owned()];
        if let Some(u) = var("POSTGRES_USER") {
            env.push(format!("PGUSER={u}"));
        }
        if let Some(p) = var("POSTGRES_PASSWORD") {
            env.push(format!("PGPASSWORD={p}"));
        }
        let spec = ExecSpec {
            cmd,
            env,
            user: None,
            working_dir: None,
            stdin: None,
        };
        Ok(self
            .lifecycle
            .compose()
            .exec_streaming(Service::Postgres.compose_name(), &spec, stdin, sink)
            .await?)
    }
}

/// psql runs the whole dump (ON_ERROR_STOP=0): on a freshly initialised cluster the
/// superuser role and the configured database already exist, and only those errors are
/// expected.
fn check_psql_restore(s: Service, out: &ExecOutput) -> Result<(), BackupError> {
    check_exec(s, "psql", out)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("ERROR:") && !l.contains("already exists"))
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    Err(BackupError::Exec {
        service: s.compose_name().to_owned(),
        command: "psql".into(),
        code: 0,
        stderr: errors
            .iter()
            .take(5)
            .copied()
            .collect::<Vec<_>>()
            .join("; "),
    })
}

#[cfg(test)]
mod tests;
