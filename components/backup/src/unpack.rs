//! Unpacking a service's archive without ever reaching outside its own state paths.
//!
//! An archive is data from elsewhere (a copy of a backup directory can be edited), and the
//! restore runs as root. So every entry is checked — a plain relative name inside one of
//! the service's paths; a regular file, a directory, or a symbolic link whose target stays
//! inside that same path (`safe_fs::link_stays_within`); no hard link, device or FIFO;
//! within the size and entry count the manifest recorded — by [`check`] before the
//! restore touches anything, and again by [`extract`] while it writes. [`extract`] writes
//! through `safe_fs` into fresh temporary directories (0700, next to each destination)
//! with exclusive no-follow creates, creates a link only after checking its target again,
//! and renames the directories into place (never replacing anything) only when the whole
//! archive is in: a symlink already present in the destination is never followed, and a
//! refused archive leaves nothing behind. Set-uid, set-gid and sticky bits are dropped.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use flate2::read::GzDecoder;
use safe_fs::Dir;

use crate::BackupError;
use crate::error::io_err;
use crate::manifest::ServiceBackup;

/// The most entries one archive may unpack to, whatever its manifest says.
pub(crate) const MAX_ENTRIES: u64 = 10_000_000;

/// How much one archive may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Bytes of file content (sparse files count their full length).
    pub(crate) bytes: u64,
    /// Entries (directories and files).
    pub(crate) entries: u64,
}

impl Limits {
    /// The content size and entry count the manifest recorded for `entry` (an older
    /// manifest without them: any size, [`MAX_ENTRIES`]); never more than
    /// [`MAX_ENTRIES`] entries. [`extract`] also never writes more than the free space
    /// of the destination.
    pub(crate) fn of(entry: &ServiceBackup) -> Limits {
        Limits {
            bytes: entry.unpacked_size.unwrap_or(u64::MAX),
            entries: entry.entries.map_or(MAX_ENTRIES, |n| n.min(MAX_ENTRIES)),
        }
    }

    /// At most `available` bytes.
    fn within(self, available: u64) -> Limits {
        Limits {
            bytes: self.bytes.min(available),
            ..self
        }
    }
}

/// What an archive holds (as [`measure`] counts it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Content {
    pub(crate) bytes: u64,
    pub(crate) entries: u64,
}

/// One checked entry: which of the paths it is in, its name below that path, and the
/// target of a link.
struct Checked<'a> {
    base: usize,
    rel: &'a Path,
    dir: bool,
    link: Option<PathBuf>,
}

/// Why an entry is refused (appended to its name in [`BackupError::UnsafeEntry`]).
fn refusal(kind: tar::EntryType) -> &'static str {
    match kind {
        tar::EntryType::Symlink => "is a symbolic link",
        tar::EntryType::Link => "is a hard link",
        tar::EntryType::Char => "is a character device",
        tar::EntryType::Block => "is a block device",
        tar::EntryType::Fifo => "is a FIFO",
        _ => "is neither a regular file nor a directory",
    }
}

/// Read `archive` entry by entry, check each, and hand the checked ones to `each`.
fn walk<F>(
    archive: &Path,
    paths: &[String],
    service: &str,
    limits: Limits,
    mut each: F,
) -> Result<Content, BackupError>
where
    F: FnMut(Checked<'_>, &mut tar::Entry<'_, GzDecoder<std::fs::File>>) -> Result<(), BackupError>,
{
    let f = std::fs::File::open(archive).map_err(|e| io_err(archive, &e))?;
    let mut tar = tar::Archive::new(GzDecoder::new(f));
    let bases: Vec<&Path> = paths.iter().map(Path::new).collect();
    let refuse = |entry: &Path, reason: String| BackupError::UnsafeEntry {
        archive: archive.to_owned(),
        entry: entry.display().to_string(),
        reason,
    };
    let mut seen = Content {
        bytes: 0,
        entries: 0,
    };
    for entry in tar.entries().map_err(|e| io_err(archive, &e))? {
        let mut entry = entry.map_err(|e| io_err(archive, &e))?;
        let name = entry.path().map_err(|e| io_err(archive, &e))?.into_owned();
        let plain = name.components().all(|c| matches!(c, Component::Normal(_)));
        let Some(base) = bases
            .iter()
            .position(|b| name.starts_with(b))
            .filter(|_| plain)
        else {
            return Err(refuse(&name, format!("is outside the paths of {service}")));
        };
        let kind = entry.header().entry_type();
        let dir = kind.is_dir();
        let symlink = kind == tar::EntryType::Symlink;
        // Sparse files (preallocated segments: RabbitMQ's) are regular files too.
        if !dir && !symlink && !kind.is_file() && !kind.is_gnu_sparse() {
            return Err(refuse(&name, refusal(kind).to_owned()));
        }
        let rel = name.strip_prefix(bases[base]).unwrap_or(Path::new(""));
        if !dir && rel.as_os_str().is_empty() {
            let what = if symlink { "a symbolic link" } else { "a file" };
            return Err(refuse(
                &name,
                format!("is {what} where a directory belongs"),
            ));
        }
        let link = if symlink {
            Some(link_target(&entry, archive, &name, rel, bases[base])?)
        } else {
            None
        };
        seen.entries += 1;
        seen.bytes = seen.bytes.saturating_add(entry.size());
        if seen.entries > limits.entries {
            return Err(too_large(archive, service, "entries", limits.entries));
        }
        if seen.bytes > limits.bytes {
            return Err(too_large(archive, service, "bytes", limits.bytes));
        }
        each(
            Checked {
                base,
                rel,
                dir,
                link,
            },
            &mut entry,
        )?;
    }
    Ok(seen)
}

/// The target of the symbolic link entry `name` (at `rel` below its state path `base`):
/// refused unless it stays inside `base` (`safe_fs::link_stays_within`).
fn link_target<R: Read>(
    entry: &tar::Entry<'_, R>,
    archive: &Path,
    name: &Path,
    rel: &Path,
    base: &Path,
) -> Result<PathBuf, BackupError> {
    let target = entry
        .link_name()
        .map_err(|e| io_err(archive, &e))?
        .map(std::borrow::Cow::into_owned)
        .unwrap_or_default();
    if safe_fs::link_stays_within(rel, &target) {
        return Ok(target);
    }
    Err(BackupError::UnsafeEntry {
        archive: archive.to_owned(),
        entry: name.display().to_string(),
        reason: format!(
            "is a symbolic link to {} (outside {})",
            target.display(),
            base.display()
        ),
    })
}

fn too_large(archive: &Path, service: &str, what: &'static str, limit: u64) -> BackupError {
    BackupError::ArchiveTooLarge {
        archive: archive.to_owned(),
        service: service.to_owned(),
        what,
        limit,
    }
}

/// Check every entry of `archive` without writing anything.
///
/// # Errors
/// [`BackupError::UnsafeEntry`], [`BackupError::ArchiveTooLarge`], or a read error.
pub(crate) fn check(
    archive: &Path,
    paths: &[String],
    service: &str,
    limits: Limits,
) -> Result<(), BackupError> {
    walk(archive, paths, service, limits, |_, _| Ok(())).map(|_| ())
}

/// What a backup just wrote holds (it is read back whole, so an archive that would be
/// refused at restore — a link in the data — fails the backup instead).
pub(crate) fn measure(
    archive: &Path,
    paths: &[String],
    service: &str,
) -> Result<Content, BackupError> {
    let unlimited = Limits {
        bytes: u64::MAX,
        entries: MAX_ENTRIES,
    };
    walk(archive, paths, service, unlimited, |_, _| Ok(()))
}

/// Unpack `archive` into `root`: each of `paths` (absent: the caller set the current data
/// aside) is created from a fresh temporary directory renamed into place once every entry
/// is in. Owners are restored when `owners` (root only), modes (without set-uid, set-gid
/// and sticky bits) and mtimes always (links keep the process's owner).
///
/// # Errors
/// Those of [`check`]; [`BackupError::UnsafeEntry`] when a destination or one of its
/// parents is a symlink or the destination exists; file-system errors. Nothing is left
/// at the destinations on error.
pub(crate) fn extract(
    archive: &Path,
    root: &Path,
    paths: &[String],
    service: &str,
    owners: bool,
    limits: Limits,
) -> Result<(), BackupError> {
    let project = Dir::open_root(root).map_err(|e| io_err(root, &e))?;
    let stages = paths
        .iter()
        .map(|p| Stage::new(archive, &project, p))
        .collect::<Result<Vec<_>, _>>()?;
    let limits = match stages.first() {
        Some(stage) => limits.within(
            stage
                .dir
                .available_bytes()
                .map_err(|e| io_err(stage.dir.path(), &e))?,
        ),
        None => limits,
    };
    let mut dirs: Vec<(usize, PathBuf, Meta)> = Vec::new();
    walk(archive, paths, service, limits, |c, entry| {
        let stage = &stages[c.base];
        let at = |e: &std::io::Error| io_err(stage.dir.path().join(c.rel), e);
        let meta = Meta::of(entry.header());
        if c.dir {
            if !c.rel.as_os_str().is_empty() {
                stage.dir.create_dir_all(c.rel, 0o700).map_err(|e| at(&e))?;
            }
            dirs.push((c.base, c.rel.to_owned(), meta));
            return Ok(());
        }
        if let Some(parent) = c.rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            stage
                .dir
                .create_dir_all(parent, 0o700)
                .map_err(|e| at(&e))?;
        }
        if let Some(target) = &c.link {
            return stage.dir.symlink_within(c.rel, target).map_err(|e| at(&e));
        }
        let f = stage
            .dir
            .create_file_new(c.rel, 0o600)
            .map_err(|e| at(&e))?;
        write_file(entry, f, &stage.dir.path().join(c.rel), &meta, owners)
    })?;
    // Directories last, deepest first: a read-only mode does not stop the files inside
    // from being written, and their mtimes stay as archived.
    dirs.sort_by_key(|(_, d, _)| std::cmp::Reverse(d.components().count()));
    for (base, rel, meta) in &dirs {
        let stage = &stages[*base];
        let d = stage
            .dir
            .open_dir(rel)
            .map_err(|e| io_err(stage.dir.path().join(rel), &e))?;
        meta.apply_to_dir(&d, owners)?;
    }
    for stage in &stages {
        if !stage.parent.is_free(&stage.dest).unwrap_or(false) {
            return Err(stage.in_the_way(archive));
        }
    }
    for stage in stages {
        stage.place(archive)?;
    }
    Ok(())
}

/// Create each of `paths` below `root` (a fresh, empty data directory for a dump to be
/// replayed into) with its missing parents, never through a link.
///
/// # Errors
/// [`BackupError::Io`] naming the path (a link in it is refused).
pub(crate) fn create_empty_dirs(root: &Path, paths: &[String]) -> Result<(), BackupError> {
    let project = Dir::open_root(root).map_err(|e| io_err(root, &e))?;
    for p in paths {
        project
            .create_dir_all(p, 0o755)
            .map_err(|e| io_err(root.join(p), &e))?;
    }
    Ok(())
}

/// A fresh 0700 directory next to the destination `root/p`, reached (and its missing
/// parents created) without following a link; removed again unless it is placed.
struct Stage {
    parent: Dir,
    name: OsString,
    dir: Dir,
    dest: OsString,
    rel: String,
    placed: bool,
}

impl Stage {
    fn new(archive: &Path, project: &Dir, p: &str) -> Result<Stage, BackupError> {
        let refuse = |e: std::io::Error| BackupError::UnsafeEntry {
            archive: archive.to_owned(),
            entry: p.to_owned(),
            reason: format!("cannot be restored: {e}"),
        };
        let path = Path::new(p);
        let dest = path.file_name().unwrap_or_default().to_owned();
        let parent = project
            .create_dir_all(path.parent().unwrap_or(Path::new("")), 0o755)
            .map_err(refuse)?;
        let prefix = format!(".{}.restoring-", dest.to_string_lossy());
        let (name, dir) = parent
            .create_temp_dir(&prefix, 0o700)
            .map_err(|e| io_err(parent.path(), &e))?;
        Ok(Stage {
            parent,
            name,
            dir,
            dest,
            rel: p.to_owned(),
            placed: false,
        })
    }

    fn in_the_way(&self, archive: &Path) -> BackupError {
        BackupError::UnsafeEntry {
            archive: archive.to_owned(),
            entry: self.rel.clone(),
            reason: format!(
                "cannot be restored: {} is in the way",
                self.parent.path().join(&self.dest).display()
            ),
        }
    }

    /// Rename the stage to its destination, which must still be free.
    fn place(mut self, archive: &Path) -> Result<(), BackupError> {
        match self.parent.rename_new(&self.name, &self.dest) {
            Ok(()) => {
                self.placed = true;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(self.in_the_way(archive))
            }
            Err(e) => Err(io_err(self.parent.path().join(&self.dest), &e)),
        }
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        if !self.placed {
            let _ = self.parent.remove_all(&self.name);
        }
    }
}

/// The metadata of an entry as it is restored.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: Option<u64>,
}

impl Meta {
    fn of(h: &tar::Header) -> Meta {
        let id = |v: std::io::Result<u64>| v.ok().and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
        Meta {
            // No set-uid, set-gid or sticky bit from an archive.
            mode: h.mode().unwrap_or(0o700) & 0o777,
            uid: id(h.uid()),
            gid: id(h.gid()),
            mtime: h.mtime().ok(),
        }
    }

    fn apply(&self, f: &std::fs::File, path: &Path, owners: bool) -> Result<(), BackupError> {
        use std::os::unix::fs::PermissionsExt as _;
        if owners {
            std::os::unix::fs::fchown(f, Some(self.uid), Some(self.gid))
                .map_err(|e| io_err(path, &e))?;
        }
        f.set_permissions(std::fs::Permissions::from_mode(self.mode))
            .map_err(|e| io_err(path, &e))?;
        if let Some(t) = self.mtime {
            f.set_modified(UNIX_EPOCH + Duration::from_secs(t))
                .map_err(|e| io_err(path, &e))?;
        }
        Ok(())
    }

    /// Applied through the directory's own descriptor.
    fn apply_to_dir(&self, dir: &Dir, owners: bool) -> Result<(), BackupError> {
        let err = |e: std::io::Error| io_err(dir.path(), &e);
        if owners {
            dir.set_owner(Some(self.uid), Some(self.gid)).map_err(err)?;
        }
        dir.set_mode(self.mode).map_err(err)?;
        if let Some(t) = self.mtime {
            dir.set_mtime(i64::try_from(t).unwrap_or(i64::MAX))
                .map_err(err)?;
        }
        Ok(())
    }
}

/// Write a regular file's content to `f` (just created, exclusive and no-follow); runs of
/// zeros become holes, so sparse files stay sparse.
fn write_file<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    mut f: std::fs::File,
    dst: &Path,
    meta: &Meta,
    owners: bool,
) -> Result<(), BackupError> {
    use std::io::{Seek as _, SeekFrom, Write as _};
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0u64;
    loop {
        let n = entry.read(&mut buf).map_err(|e| io_err(dst, &e))?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().all(|b| *b == 0) {
            f.seek(SeekFrom::Current(n as i64))
                .map_err(|e| io_err(dst, &e))?;
        } else {
            f.write_all(&buf[..n]).map_err(|e| io_err(dst, &e))?;
        }
        len += n as u64;
    }
    f.set_len(len).map_err(|e| io_err(dst, &e))?;
    meta.apply(&f, dst, owners)
}

#[cfg(test)]
mod tests;
