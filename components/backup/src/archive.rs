//! tar + gzip of project-relative directories, with owners, modes and mtimes.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use crate::BackupError;
use crate::error::io_err;
use crate::manifest::HashingFile;

/// Write `out` as a tar.gz of the `paths` (relative to `root`, stored under those names);
/// returns its size and sha256. Symlinks are stored as symlinks.
pub(crate) fn create(
    root: &Path,
    paths: &[String],
    out: &Path,
) -> Result<(u64, String), BackupError> {
    let file = HashingFile::create(out)?;
    let gz = GzEncoder::new(file, Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    tar.mode(tar::HeaderMode::Complete);
    for rel in paths {
        let src = root.join(rel);
        tar.append_dir_all(rel, &src)
            .map_err(|e| io_err(&src, &e))?;
    }
    let gz = tar.into_inner().map_err(|e| io_err(out, &e))?;
    let file = gz.finish().map_err(|e| io_err(out, &e))?;
    file.finish()
}

/// A gzip file written chunk by chunk (a streamed database dump), hashed as it is written.
pub(crate) struct GzipFile {
    gz: GzEncoder<HashingFile>,
    path: PathBuf,
}

impl GzipFile {
    pub(crate) fn create(path: &Path) -> Result<Self, BackupError> {
        Ok(Self {
            gz: GzEncoder::new(HashingFile::create(path)?, Compression::default()),
            path: path.to_owned(),
        })
    }

    pub(crate) fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.gz.write_all(chunk)
    }

    /// Finish the stream; returns the file's size and sha256.
    pub(crate) fn finish(self) -> Result<(u64, String), BackupError> {
        let mut file = self.gz.finish().map_err(|e| io_err(&self.path, &e))?;
        file.flush().map_err(|e| io_err(&self.path, &e))?;
        file.finish()
    }
}

/// A reader of the decompressed content of a gzip file (fed to a restore as it is read).
pub(crate) fn gunzip_reader(path: &Path) -> Result<GzDecoder<std::fs::File>, BackupError> {
    let f = std::fs::File::open(path).map_err(|e| io_err(path, &e))?;
    Ok(GzDecoder::new(f))
}

/// Unpack `archive` under `root`. Every entry must lie inside one of `paths`, and no entry
/// may lead through a symlink below those paths (one the archive itself created earlier,
/// e.g. `data/x/l -> /` then `data/x/l/etc`): else [`BackupError::UnsafeEntry`]. Owners are
/// restored when `owners` (root only), modes and mtimes always.
pub(crate) fn extract(
    archive: &Path,
    root: &Path,
    paths: &[String],
    service: &str,
    owners: bool,
) -> Result<(), BackupError> {
    let f = std::fs::File::open(archive).map_err(|e| io_err(archive, &e))?;
    let mut tar = tar::Archive::new(GzDecoder::new(f));
    tar.set_preserve_permissions(true);
    tar.set_preserve_mtime(true);
    tar.set_preserve_ownerships(owners);
    tar.set_overwrite(true);
    let allowed: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    let unsafe_entry = |entry: String| BackupError::UnsafeEntry {
        archive: archive.to_owned(),
        service: service.to_owned(),
        entry,
    };
    let mut dirs = Vec::new();
    for entry in tar.entries().map_err(|e| io_err(archive, &e))? {
        let mut entry = entry.map_err(|e| io_err(archive, &e))?;
        let name = entry.path().map_err(|e| io_err(archive, &e))?.into_owned();
        let normal = name.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        });
        let Some(base) = allowed
            .iter()
            .find(|a| name.starts_with(a))
            .filter(|_| normal)
        else {
            return Err(unsafe_entry(name.display().to_string()));
        };
        let is_dir = entry.header().entry_type().is_dir();
        // A directory is created and later chmod'ed/chown'ed at its own path, so that path
        // must not be a symlink either; other entries replace a symlink at their path.
        if let Some(link) = symlink_on_the_way(root, base, &name, is_dir) {
            return Err(unsafe_entry(format!(
                "{} (through the symlink {})",
                name.display(),
                link.display()
            )));
        }
        if is_dir {
            // Directories last (deepest first), so a read-only mode does not stop the files
            // inside from being written and their mtimes stay as archived.
            std::fs::create_dir_all(root.join(&name)).map_err(|e| io_err(root.join(&name), &e))?;
            dirs.push((base.clone(), entry_header(&entry, name)));
            continue;
        }
        entry
            .unpack_in(root)
            .map_err(|e| io_err(root.join(&name), &e))?;
    }
    dirs.sort_by_key(|(_, d)| std::cmp::Reverse(d.0.components().count()));
    for (base, (name, mode, uid, gid, mtime)) in dirs {
        let path = root.join(&name);
        if symlink_on_the_way(root, &base, &name, true).is_some() {
            continue;
        }
        // O_NOFOLLOW: the fix-ups act on the directory itself, never on a symlink's target.
        let f = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_DIRECTORY)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => continue,
            Err(e) => return Err(io_err(&path, &e)),
        };
        if owners {
            std::os::unix::fs::fchown(&f, Some(uid), Some(gid)).map_err(|e| io_err(&path, &e))?;
        }
        f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
            .map_err(|e| io_err(&path, &e))?;
        if let Some(t) = mtime {
            f.set_modified(t).map_err(|e| io_err(&path, &e))?;
        }
    }
    Ok(())
}

/// The first existing symlink among `name`'s ancestors from `base` (an allowed path, which
/// the archive creates itself) down to its parent, or down to `name` itself with `itself`.
fn symlink_on_the_way(root: &Path, base: &Path, name: &Path, itself: bool) -> Option<PathBuf> {
    let mut prefix = PathBuf::new();
    let depth = name.components().count();
    let last = if itself {
        depth
    } else {
        depth.saturating_sub(1)
    };
    for (i, c) in name.components().enumerate().take(last) {
        prefix.push(c);
        if i + 1 < base.components().count() {
            continue;
        }
        match std::fs::symlink_metadata(root.join(&prefix)) {
            Ok(m) if m.file_type().is_symlink() => return Some(prefix),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

type DirMeta = (PathBuf, u32, u32, u32, Option<std::time::SystemTime>);

fn entry_header<R: Read>(entry: &tar::Entry<'_, R>, name: PathBuf) -> DirMeta {
    let h = entry.header();
    let mode = h.mode().unwrap_or(0o755) & 0o7777;
    let uid = h
        .uid()
        .ok()
        .and_then(|u| u32::try_from(u).ok())
        .unwrap_or(0);
    let gid = h
        .gid()
        .ok()
        .and_then(|g| u32::try_from(g).ok())
        .unwrap_or(0);
    let mtime = h
        .mtime()
        .ok()
        .map(|s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s));
    (name, mode, uid, gid, mtime)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn directories_round_trip_with_modes_and_symlinks() {
        let src = tempfile::tempdir().unwrap();
        let d = src.path().join("data/svc");
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/file"), b"hello").unwrap();
        std::fs::write(d.join(".cookie"), b"secret").unwrap();
        std::fs::set_permissions(d.join(".cookie"), std::fs::Permissions::from_mode(0o400))
            .unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink("sub/file", d.join("link")).unwrap();
        std::fs::create_dir_all(src.path().join("config/x")).unwrap();
        std::fs::write(src.path().join("config/x/influx-configs"), b"[default]").unwrap();
        let out = src.path().join("a.tar.gz");
        let paths = vec!["data/svc".to_owned(), "config/x".to_owned()];
        let (size, sha) = create(src.path(), &paths, &out).unwrap();
        assert_eq!(size, std::fs::metadata(&out).unwrap().len());
        assert_eq!(sha, crate::manifest::sha256_file(&out).unwrap());

        let dst = tempfile::tempdir().unwrap();
        extract(&out, dst.path(), &paths, "svc", false).unwrap();
        let e = dst.path().join("data/svc");
        assert_eq!(std::fs::read(e.join("sub/file")).unwrap(), b"hello");
        assert_eq!(std::fs::read(e.join(".cookie")).unwrap(), b"secret");
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&e.join(".cookie")), 0o400);
        assert_eq!(mode(&e), 0o700);
        assert_eq!(
            std::fs::read_link(e.join("link")).unwrap(),
            Path::new("sub/file")
        );
        assert_eq!(
            std::fs::read(dst.path().join("config/x/influx-configs")).unwrap(),
            b"[default]"
        );
    }

    #[test]
    fn entries_outside_the_service_paths_are_refused() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("data/other")).unwrap();
        std::fs::write(src.path().join("data/other/f"), b"x").unwrap();
        let out = src.path().join("a.tar.gz");
        create(src.path(), &["data/other".to_owned()], &out).unwrap();
        let dst = tempfile::tempdir().unwrap();
        let err = extract(&out, dst.path(), &["data/svc".to_owned()], "svc", false).unwrap_err();
        assert!(
            err.to_string()
                .contains("entry data/other/ is outside the paths of svc"),
            "{err}"
        );
        assert!(!dst.path().join("data/other/f").exists());
    }

    /// A tar.gz of `entries`: (name, Some(symlink target) | None for a directory of `mode`).
    fn crafted(out: &Path, entries: &[(&str, Option<&Path>, u32)]) {
        let gz = GzEncoder::new(std::fs::File::create(out).unwrap(), Compression::default());
        let mut tar = tar::Builder::new(gz);
        for (name, target, mode) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_mode(*mode);
            h.set_size(0);
            match target {
                Some(t) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    tar.append_link(&mut h, name, t).unwrap();
                }
                None if name.ends_with("/f") => {
                    h.set_entry_type(tar::EntryType::Regular);
                    tar.append_data(&mut h, name, &b""[..]).unwrap();
                }
                None => {
                    h.set_entry_type(tar::EntryType::Directory);
                    tar.append_data(&mut h, name, &b""[..]).unwrap();
                }
            }
        }
        tar.into_inner().unwrap().finish().unwrap();
    }

    #[test]
    fn entries_through_a_symlink_of_the_same_archive_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::set_permissions(outside.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let o = outside.path();
        let cases: [&[(&str, Option<&Path>, u32)]; 4] = [
            // chmod of the symlink's target through a directory entry at the link's path
            &[("data/svc/l", Some(o), 0o777), ("data/svc/l", None, 0o777)],
            // a directory created (and chmod'ed) beyond the link
            &[
                ("data/svc/l", Some(o), 0o777),
                ("data/svc/l/etc", None, 0o777),
            ],
            // a file written beyond the link
            &[
                ("data/svc/l", Some(o), 0o777),
                ("data/svc/l/f", None, 0o644),
            ],
            // the service path itself a link
            &[("data/svc", Some(o), 0o777), ("data/svc/etc", None, 0o777)],
        ];
        for entries in cases {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("a.tar.gz");
            crafted(&out, entries);
            let dst = tempfile::tempdir().unwrap();
            let err =
                extract(&out, dst.path(), &["data/svc".to_owned()], "svc", false).unwrap_err();
            assert!(matches!(err, BackupError::UnsafeEntry { .. }), "{err}");
            assert!(
                err.to_string().contains("(through the symlink data/svc"),
                "{err}"
            );
            assert_eq!(mode(o), 0o700, "{entries:?}");
            assert_eq!(std::fs::read_dir(o).unwrap().count(), 0, "{entries:?}");
        }
    }

    #[test]
    fn symlinks_themselves_are_restored_with_the_modes_of_their_directories() {
        let dst = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a.tar.gz");
        crafted(
            &out,
            &[
                ("data/svc", None, 0o750),
                ("data/svc/abs", Some(Path::new("/etc")), 0o777),
                ("data/svc/sub", None, 0o700),
            ],
        );
        extract(&out, dst.path(), &["data/svc".to_owned()], "svc", false).unwrap();
        let svc = dst.path().join("data/svc");
        assert_eq!(
            std::fs::read_link(svc.join("abs")).unwrap(),
            Path::new("/etc")
        );
        let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&svc), 0o750);
        assert_eq!(mode(&svc.join("sub")), 0o700);
    }

    #[test]
    fn gzip_round_trips_chunk_by_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dump.sql.gz");
        let mut gz = GzipFile::create(&out).unwrap();
        gz.write(b"SELECT ").unwrap();
        gz.write(b"1;\n").unwrap();
        let (size, sha) = gz.finish().unwrap();
        assert_eq!(size, std::fs::metadata(&out).unwrap().len());
        assert_eq!(sha.len(), 64);
        let mut back = String::new();
        gunzip_reader(&out)
            .unwrap()
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, "SELECT 1;\n");
    }
}
