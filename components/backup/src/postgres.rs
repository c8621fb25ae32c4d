//! PostgreSQL's backup and restore through its own clients in its container:
//! `pg_dumpall` streamed through gzip to disk, and the dump replayed with `psql`.

use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::{Arc, Mutex};

use catalog::Service;
use docker::{Engine, ExecInput, ExecOutput, ExecSink, ExecSpec};
use flate2::read::GzDecoder;

use crate::data_safety::{DataSafety, check_exec};
use crate::dump::{Piece, Script, quote_ident};
use crate::error::io_err;
use crate::manifest::{BackupKind, ServiceBackup};
use crate::unpack::Limits;
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
                "postgres",
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
            left_out: Vec::new(),
        })
    }

    /// Replay the dump `file` (of `entry`) with `psql` in the (fresh, ready) server's
    /// container, as the `postgres` user with `ON_ERROR_STOP=1`: checked whole first
    /// ([`dump`]), then fed as it is decompressed, one psql per database (split at the
    /// dump's `\connect` lines), each started in restricted mode with a random key so that
    /// psql itself refuses any backslash command. The fresh cluster already has the
    /// configured superuser and database: the dump's `CREATE ROLE` of that user is left
    /// out, and that database is dropped first when the dump creates it (it is empty).
    pub(crate) async fn replay_dump(
        &self,
        file: &Path,
        entry: &ServiceBackup,
    ) -> Result<(), BackupError> {
        let def = self.def(Service::Postgres)?;
        let var = |k: &str| def.environment.get(k).cloned().flatten();
        let user = var("POSTGRES_USER");
        let limit = Limits::of(entry).bytes;
        let open = || -> Result<_, BackupError> {
            let script = Script::new(
                BufReader::new(archive::gunzip_reader(file)?),
                file,
                limit,
                user.as_deref(),
            );
            Ok(script)
        };
        let creates = open()?.check_all()?;
        let shared = Arc::new(Mutex::new(Shared {
            script: open()?,
            next_db: None,
        }));
        let key = random_key()?;
        let mut prelude = format!("\\restrict {key}\n");
        if let Some(db) = var("POSTGRES_DB").filter(|d| creates.contains(d) && d != "postgres") {
            prelude.push_str(&format!("DROP DATABASE IF EXISTS {};\n", quote_ident(&db)));
        }
        let mut db = "postgres".to_owned();
        loop {
            let feed = Feed {
                shared: Arc::clone(&shared),
                pending: std::mem::take(&mut prelude).into_bytes(),
                pos: 0,
                ended: false,
            };
            let mut discard_stdout = |_: &[u8]| Ok(());
            let psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"];
            let out = self
                .exec_pg(
                    psql.map(str::to_owned).to_vec(),
                    &db,
                    Some(Box::new(feed)),
                    &mut discard_stdout,
                )
                .await?;
            check_exec(Service::Postgres, "psql", &out)?;
            let next = shared.lock().map_err(|_| poisoned(file))?.next_db.take();
            match next {
                Some(next) => {
                    db = next;
                    prelude = format!("\\restrict {key}\n");
                }
                None => return Ok(()),
            }
        }
    }

    /// Run a PostgreSQL client command in the postgres container as the `postgres` user,
    /// connected to `database` as the configured superuser; the password goes through the
    /// exec environment, never argv.
    async fn exec_pg(
        &self,
        cmd: Vec<String>,
        database: &str,
        stdin: Option<ExecInput>,
        sink: ExecSink<'_>,
    ) -> Result<ExecOutput, BackupError> {
        let def = self.def(Service::Postgres)?;
        let var = |k: &str| def.environment.get(k).cloned().flatten();
        let mut env = vec![format!("PGDATABASE={database}")];
        if let Some(u) = var("POSTGRES_USER") {
            env.push(format!("PGUSER={u}"));
        }
        if let Some(p) = var("POSTGRES_PASSWORD") {
            env.push(format!("PGPASSWORD={p}"));
        }
        let spec = ExecSpec {
            cmd,
            env,
            // Never root: a client of the database needs no more (the images' `postgres`
            // user, uid 999 upstream and in the test image).
            user: Some("postgres".to_owned()),
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

/// The script being replayed, shared by the psql of each database in turn.
struct Shared {
    script: Script<BufReader<GzDecoder<std::fs::File>>>,
    /// The database the script continues in (its `\connect`), once a part ended there.
    next_db: Option<String>,
}

/// The stdin of one psql: `pending` first (the prelude), then the script's lines up to its
/// next `\connect` or its end.
struct Feed {
    shared: Arc<Mutex<Shared>>,
    pending: Vec<u8>,
    pos: usize,
    ended: bool,
}

impl Read for Feed {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.pos < self.pending.len() {
                let n = out.len().min(self.pending.len() - self.pos);
                out[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.ended {
                return Ok(0);
            }
            let mut shared = self
                .shared
                .lock()
                .map_err(|_| std::io::Error::other("dump reader poisoned"))?;
            match shared.script.next_piece() {
                Ok(Piece::Feed(line)) => {
                    self.pending = line;
                    self.pos = 0;
                }
                Ok(Piece::Skip) => {}
                Ok(Piece::Connect(db)) => {
                    shared.next_db = Some(db);
                    self.ended = true;
                }
                Ok(Piece::End) => self.ended = true,
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            }
        }
    }
}

fn poisoned(file: &Path) -> BackupError {
    BackupError::Io {
        path: file.to_owned(),
        message: "the dump reader failed".to_owned(),
    }
}

/// A fresh key for psql's restricted mode (alphanumeric, as psql requires).
fn random_key() -> Result<String, BackupError> {
    let mut bytes = [0u8; 24];
    let path = Path::new("/dev/urandom");
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| io_err(path, &e))?;
    Ok(hex::encode(bytes))
}

/// Check the dump `file` of `entry` whole, without running anything.
///
/// # Errors
/// [`BackupError::DumpRefused`], [`BackupError::ArchiveTooLarge`], read errors.
pub(crate) fn check_dump(file: &Path, entry: &ServiceBackup) -> Result<(), BackupError> {
    let reader = BufReader::new(archive::gunzip_reader(file)?);
    Script::new(reader, file, Limits::of(entry).bytes, None).check_all()?;
    Ok(())
}

#[cfg(test)]
mod tests;
