use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::BackupError;
use crate::error::io_err;

/// The manifest's file name inside a backup directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// The manifest format this version writes and reads.
pub const FORMAT: u32 = 1;

/// How one service's data was saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackupKind {
    /// A gzip'd tar of the service's state directories (project-relative paths), taken with
    /// the service stopped.
    Archive,
    /// A gzip'd `pg_dumpall` (roles and every database) taken from the running server.
    PgDumpall,
}

/// One service in a backup: its file, size and sha256.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceBackup {
    /// The compose service name (`postgres`, `thingsboard-ce`).
    pub service: String,
    pub kind: BackupKind,
    /// The image the service ran when the backup was taken.
    pub image: String,
    /// The project-relative directories in the archive (for [`BackupKind::Archive`]).
    pub paths: Vec<String>,
    /// The file name inside the backup directory.
    pub file: String,
    pub size: u64,
    /// Lower-case hex sha256 of the file.
    pub sha256: String,
    /// Bytes of content once unpacked (file contents of an archive, the SQL of a dump);
    /// a restore refuses a file that unpacks to more. Absent in older manifests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpacked_size: Option<u64>,
    /// Entries of an archive (directories, files and kept links); a restore refuses more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// What the archive left out of the state paths, with why (sockets, FIFOs, links
    /// pointing outside; docs/data-safety.md, "What an archive holds").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<LeftOut>,
}

/// An entry of a service's state paths that a backup did not archive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LeftOut {
    /// Project-relative path.
    pub path: String,
    /// Why, e.g. `a socket, a runtime object the service makes again: not archived`.
    pub reason: String,
}

/// `manifest.json`: what a backup holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// RFC 3339, UTC.
    pub created: String,
    /// The compose project name.
    pub project: String,
    /// The version of dtaas-services that wrote it.
    pub tool_version: String,
    pub services: Vec<ServiceBackup>,
}

impl Manifest {
    /// The entry of a compose service.
    #[must_use]
    pub fn service(&self, name: &str) -> Option<&ServiceBackup> {
        self.services.iter().find(|s| s.service == name)
    }

    /// Read `manifest.json` of a backup directory (no checksum is verified here).
    ///
    /// # Errors
    /// [`BackupError::BadManifest`] when it is missing, not JSON of this shape, of another
    /// format version, or names a file outside the directory.
    pub fn read(dir: &Path) -> Result<Manifest, BackupError> {
        let path = dir.join(MANIFEST_FILE);
        let bad = |message: String| BackupError::BadManifest {
            path: path.clone(),
            message,
        };
        let text = std::fs::read(&path).map_err(|e| bad(e.to_string()))?;
        let m: Manifest = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
        if m.format != FORMAT {
            return Err(bad(format!(
                "format {} (this version reads format {FORMAT})",
                m.format
            )));
        }
        for s in &m.services {
            if !safe_file_name(&s.file) {
                return Err(bad(format!(
                    "file name {:?} is not a plain file name",
                    s.file
                )));
            }
            for p in &s.paths {
                if !safe_rel_path(p) {
                    return Err(bad(format!("path {p:?} is not inside the project")));
                }
            }
        }
        Ok(m)
    }

    /// Write it as `manifest.json` in `dir` (pretty JSON, synced).
    ///
    /// # Errors
    /// [`BackupError::Io`].
    pub fn write(&self, dir: &Path) -> Result<(), BackupError> {
        let path = dir.join(MANIFEST_FILE);
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| BackupError::Io {
            path: path.clone(),
            message: e.to_string(),
        })?;
        json.push(b'\n');
        let mut f = create_private_file(&path)?;
        f.write_all(&json).map_err(|e| io_err(&path, &e))?;
        f.sync_all().map_err(|e| io_err(&path, &e))
    }
}

/// Create (or truncate) a backup file with mode 0600 whatever the umask: backups hold
/// password hashes, GitLab's secrets and RabbitMQ's Erlang cookie. Opened through
/// `safe_fs` from its directory (which must not be a link): a link or a hard-linked file at
/// `path` is refused, never written through.
pub(crate) fn create_private_file(path: &Path) -> Result<std::fs::File, BackupError> {
    let err = |e: std::io::Error| io_err(path, &e);
    let (dir, name) = safe_fs::Dir::for_file(path, None).map_err(err)?;
    let f = dir.open(&name, safe_fs::Open::create(0o600)).map_err(err)?;
    f.set_len(0).map_err(err)?;
    // An existing file keeps its mode through open(2): set it.
    f.set_permissions(
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600),
    )
    .map_err(err)?;
    Ok(f)
}

/// A file name without directories, `..` or a leading dot.
fn safe_file_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

/// A relative path of normal components only.
pub(crate) fn safe_rel_path(p: &str) -> bool {
    let path = Path::new(p);
    !p.is_empty()
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Read the manifest of `dir` and check the size and sha256 of the files of `services`
/// (every service in the manifest when `None`) before anything is touched.
///
/// # Errors
/// [`BackupError::BadManifest`], [`BackupError::NotInBackup`] for a requested service the
/// backup does not hold, [`BackupError::MissingFile`], and [`BackupError::Corrupted`]
/// naming the first file whose size or checksum does not match.
pub fn verify(dir: &Path, services: Option<&[String]>) -> Result<Manifest, BackupError> {
    let m = Manifest::read(dir)?;
    let wanted: Vec<&ServiceBackup> = match services {
        None => m.services.iter().collect(),
        Some(names) => names
            .iter()
            .map(|n| {
                m.service(n).ok_or_else(|| BackupError::NotInBackup {
                    dir: dir.to_owned(),
                    service: n.clone(),
                    held: m.services.iter().map(|s| s.service.clone()).collect(),
                })
            })
            .collect::<Result<_, _>>()?,
    };
    for s in wanted {
        check_file(&dir.join(&s.file), s.size, &s.sha256)?;
    }
    Ok(m)
}

/// Check one file's size, then its sha256.
pub(crate) fn check_file(path: &Path, size: u64, sha256: &str) -> Result<(), BackupError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(BackupError::MissingFile {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(io_err(path, &e)),
    };
    if meta.len() != size {
        return Err(BackupError::Corrupted {
            path: path.to_owned(),
            what: "the size",
            expected: size.to_string(),
            actual: meta.len().to_string(),
        });
    }
    let actual = sha256_file(path)?;
    if !actual.eq_ignore_ascii_case(sha256) {
        return Err(BackupError::Corrupted {
            path: path.to_owned(),
            what: "the sha256",
            expected: sha256.to_owned(),
            actual,
        });
    }
    Ok(())
}

/// The lower-case hex sha256 of a file, read in chunks.
///
/// # Errors
/// [`BackupError::Io`].
pub fn sha256_file(path: &Path) -> Result<String, BackupError> {
    let mut f = std::fs::File::open(path).map_err(|e| io_err(path, &e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(|e| io_err(path, &e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// A writer that counts and hashes what goes through it into a file.
pub(crate) struct HashingFile {
    path: PathBuf,
    file: std::fs::File,
    hasher: Sha256,
    len: u64,
}

impl HashingFile {
    pub(crate) fn create(path: &Path) -> Result<HashingFile, BackupError> {
        let file = create_private_file(path)?;
        Ok(HashingFile {
            path: path.to_owned(),
            file,
            hasher: Sha256::new(),
            len: 0,
        })
    }

    /// Sync the file; its size and hex sha256.
    pub(crate) fn finish(mut self) -> Result<(u64, String), BackupError> {
        self.file.flush().map_err(|e| io_err(&self.path, &e))?;
        self.file.sync_all().map_err(|e| io_err(&self.path, &e))?;
        Ok((self.len, hex::encode(self.hasher.finalize())))
    }
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dir: &Path, content: &[u8]) -> Manifest {
        std::fs::write(dir.join("rabbitmq.tar.gz"), content).unwrap();
        Manifest {
            format: FORMAT,
            created: "2025-01-02T03:04:05Z".into(),
            project: "p".into(),
            tool_version: "0.1.0".into(),
            services: vec![ServiceBackup {
                service: "rabbitmq".into(),
                kind: BackupKind::Archive,
                image: "rabbitmq:4".into(),
                paths: vec!["data/rabbitmq".into()],
                file: "rabbitmq.tar.gz".into(),
                size: content.len() as u64,
                sha256: sha256_file(&dir.join("rabbitmq.tar.gz")).unwrap(),
                unpacked_size: None,
                entries: None,
                left_out: Vec::new(),
            }],
        }
    }

    #[test]
    fn hashing_file_reports_the_size_and_sha256_of_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let mut w = HashingFile::create(&p).unwrap();
        w.write_all(b"abc").unwrap();
        let (len, sha) = w.finish().unwrap();
        assert_eq!(len, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_file(&p).unwrap(), sha);
    }

    #[test]
    fn manifest_round_trips_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let m = sample(dir.path(), b"archive bytes");
        m.write(dir.path()).unwrap();
        let json = std::fs::read_to_string(dir.path().join(MANIFEST_FILE)).unwrap();
        insta::assert_snapshot!(json, @r#"
        {
          "format": 1,
          "created": "2025-01-02T03:04:05Z",
          "project": "p",
          "tool_version": "0.1.0",
          "services": [
            {
              "service": "rabbitmq",
              "kind": "archive",
              "image": "rabbitmq:4",
              "paths": [
                "data/rabbitmq"
              ],
              "file": "rabbitmq.tar.gz",
              "size": 13,
              "sha256": "cc9c340301ad4ba5e54aa24b442ff938d1ed84f7f32c4c5a73773c58af37bd1b"
            }
          ]
        }
        "#);
        assert_eq!(verify(dir.path(), None).unwrap(), m);
        assert_eq!(
            verify(dir.path(), Some(&["rabbitmq".to_owned()])).unwrap(),
            m
        );
    }

    #[test]
    fn a_changed_byte_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let m = sample(dir.path(), b"archive bytes");
        m.write(dir.path()).unwrap();
        std::fs::write(dir.path().join("rabbitmq.tar.gz"), b"archive bytez").unwrap();
        let err = verify(dir.path(), None).unwrap_err();
        assert!(
            matches!(
                err,
                BackupError::Corrupted {
                    what: "the sha256",
                    ..
                }
            ),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("rabbitmq.tar.gz is corrupted: the sha256 is"),
            "{msg}"
        );
        assert!(msg.ends_with("nothing was restored"), "{msg}");
    }

    #[test]
    fn a_truncated_or_missing_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let m = sample(dir.path(), b"archive bytes");
        m.write(dir.path()).unwrap();
        std::fs::write(dir.path().join("rabbitmq.tar.gz"), b"archive").unwrap();
        let err = verify(dir.path(), None).unwrap_err();
        assert!(
            err.to_string()
                .contains("the size is 7, the manifest says 13"),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("rabbitmq.tar.gz")).unwrap();
        let err = verify(dir.path(), None).unwrap_err();
        assert!(matches!(err, BackupError::MissingFile { .. }), "{err}");
    }

    #[test]
    fn a_service_the_backup_does_not_hold_is_named() {
        let dir = tempfile::tempdir().unwrap();
        sample(dir.path(), b"x").write(dir.path()).unwrap();
        let err = verify(dir.path(), Some(&["grafana".to_owned()])).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("holds no grafana; it holds: rabbitmq"),
            "{err}"
        );
        assert!(err.is_usage());
    }

    #[test]
    fn unsafe_names_and_other_formats_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = sample(dir.path(), b"x");
        m.services[0].file = "../x".into();
        m.write(dir.path()).unwrap();
        let err = Manifest::read(dir.path()).unwrap_err();
        assert!(err.to_string().contains("not a plain file name"), "{err}");
        let mut m = sample(dir.path(), b"x");
        m.services[0].paths = vec!["/etc".into()];
        m.write(dir.path()).unwrap();
        assert!(Manifest::read(dir.path()).is_err());
        let mut m = sample(dir.path(), b"x");
        m.format = 2;
        m.write(dir.path()).unwrap();
        let err = Manifest::read(dir.path()).unwrap_err();
        assert!(err.to_string().contains("format 2"), "{err}");
        std::fs::write(dir.path().join(MANIFEST_FILE), b"not json").unwrap();
        assert!(matches!(
            Manifest::read(dir.path()).unwrap_err(),
            BackupError::BadManifest { .. }
        ));
    }
}
