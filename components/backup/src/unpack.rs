//! Unpacking a service's archive without ever reaching outside its own state paths.
//!
//! An archive is data from elsewhere (a copy of a backup directory can be edited), and the
//! restore runs as root. So every entry is checked — a plain relative name inside one of
//! the service's paths, a regular file or a directory (no symbolic or hard link, device,
//! FIFO), within the size and entry count the manifest recorded — by [`check`] before the
//! restore touches anything, and again by [`extract`] while it writes. [`extract`] writes
//! into fresh temporary directories (0700, next to each destination) with no-follow
//! creates, and renames them into place only when the whole archive is in: a symlink
//! already present in the destination is never followed, and a refused archive leaves
//! nothing behind. Set-uid, set-gid and sticky bits are dropped.
//!
//! These no-follow helpers are local to this component on purpose (small and named);
//! the shared no-follow file-system component replaces them when it lands.

use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flate2::read::GzDecoder;

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

/// One checked entry: which of the paths it is in, its name below that path.
struct Checked<'a> {
    base: usize,
    rel: &'a Path,
    dir: bool,
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
        // Sparse files (preallocated segments: RabbitMQ's) are regular files too.
        if !dir && !kind.is_file() && !kind.is_gnu_sparse() {
            return Err(refuse(&name, refusal(kind).to_owned()));
        }
        let rel = name.strip_prefix(bases[base]).unwrap_or(Path::new(""));
        if !dir && rel.as_os_str().is_empty() {
            return Err(refuse(
                &name,
                "is a file where a directory belongs".to_owned(),
            ));
        }
        seen.entries += 1;
        seen.bytes = seen.bytes.saturating_add(entry.size());
        if seen.entries > limits.entries {
            return Err(too_large(archive, service, "entries", limits.entries));
        }
        if seen.bytes > limits.bytes {
            return Err(too_large(archive, service, "bytes", limits.bytes));
        }
        each(Checked { base, rel, dir }, &mut entry)?;
    }
    Ok(seen)
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
/// and sticky bits) and mtimes always.
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
    let stages = paths
        .iter()
        .map(|p| stage_for(archive, root, p))
        .collect::<Result<Vec<_>, _>>()?;
    let limits = match stages.first() {
        Some(stage) => limits.within(available_bytes(stage.path())?),
        None => limits,
    };
    let mut dirs: Vec<(PathBuf, Meta)> = Vec::new();
    walk(archive, paths, service, limits, |c, entry| {
        let dst = stages[c.base].path().join(c.rel);
        let meta = Meta::of(entry.header());
        if c.dir {
            if !c.rel.as_os_str().is_empty() {
                std::fs::create_dir_all(&dst).map_err(|e| io_err(&dst, &e))?;
            }
            dirs.push((dst, meta));
            return Ok(());
        }
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_err(parent, &e))?;
        }
        write_file(entry, &dst, &meta, owners)
    })?;
    // Directories last, deepest first: a read-only mode does not stop the files inside
    // from being written, and their mtimes stay as archived.
    dirs.sort_by_key(|(d, _)| std::cmp::Reverse(d.components().count()));
    for (dir, meta) in &dirs {
        meta.apply_to_dir(dir, owners)?;
    }
    if let Some(p) = paths
        .iter()
        .find(|p| std::fs::symlink_metadata(root.join(p)).is_ok())
    {
        return Err(BackupError::UnsafeEntry {
            archive: archive.to_owned(),
            entry: p.clone(),
            reason: format!(
                "cannot be restored: {} is in the way",
                root.join(p).display()
            ),
        });
    }
    for (stage, p) in stages.into_iter().zip(paths) {
        let dest = root.join(p);
        let kept = stage.keep();
        if let Err(e) = std::fs::rename(&kept, &dest) {
            let _ = std::fs::remove_dir_all(&kept);
            return Err(io_err(&dest, &e));
        }
    }
    Ok(())
}

/// Create the missing directories of `rel` below `root`, never through a symlink: an
/// existing component that is not a real directory is refused with `refuse(its path)`.
/// `root` itself, the project, is the caller's.
pub(crate) fn create_dirs_nofollow(
    root: &Path,
    rel: &Path,
    refuse: impl Fn(&Path) -> BackupError,
) -> Result<(), BackupError> {
    let mut at = root.to_owned();
    for c in rel.components() {
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() || !m.is_dir() => return Err(refuse(&at)),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir(&at).map_err(|e| io_err(&at, &e))?;
            }
            Err(e) => return Err(io_err(&at, &e)),
        }
    }
    Ok(())
}

/// A fresh 0700 directory next to `root/p`, after checking that no directory between
/// `root` and `root/p` is a symlink.
fn stage_for(archive: &Path, root: &Path, p: &str) -> Result<tempfile::TempDir, BackupError> {
    let dest = root.join(p);
    let parent = dest.parent().unwrap_or(root);
    let rel_parent = Path::new(p).parent().unwrap_or(Path::new(""));
    create_dirs_nofollow(root, rel_parent, |at| BackupError::UnsafeEntry {
        archive: archive.to_owned(),
        entry: p.to_owned(),
        reason: format!("cannot be restored: {} is not a directory", at.display()),
    })?;
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    tempfile::Builder::new()
        .prefix(&format!(".{name}.restoring-"))
        .tempdir_in(parent)
        .map_err(|e| io_err(parent, &e))
}

/// The metadata of an entry as it is restored.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: Option<SystemTime>,
}

impl Meta {
    fn of(h: &tar::Header) -> Meta {
        let id = |v: std::io::Result<u64>| v.ok().and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
        Meta {
            // No set-uid, set-gid or sticky bit from an archive.
            mode: h.mode().unwrap_or(0o700) & 0o777,
            uid: id(h.uid()),
            gid: id(h.gid()),
            mtime: h.mtime().ok().map(|s| UNIX_EPOCH + Duration::from_secs(s)),
        }
    }

    fn apply(&self, f: &std::fs::File, path: &Path, owners: bool) -> Result<(), BackupError> {
        if owners {
            std::os::unix::fs::fchown(f, Some(self.uid), Some(self.gid))
                .map_err(|e| io_err(path, &e))?;
        }
        f.set_permissions(std::fs::Permissions::from_mode(self.mode))
            .map_err(|e| io_err(path, &e))?;
        if let Some(t) = self.mtime {
            f.set_modified(t).map_err(|e| io_err(path, &e))?;
        }
        Ok(())
    }

    /// Applied through a no-follow open of the directory itself.
    fn apply_to_dir(&self, dir: &Path, owners: bool) -> Result<(), BackupError> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_DIRECTORY | nix::libc::O_CLOEXEC)
            .open(dir)
            .map_err(|e| io_err(dir, &e))?;
        self.apply(&f, dir, owners)
    }
}

/// Bytes free for an unprivileged writer on the file system of `dir`.
fn available_bytes(dir: &Path) -> Result<u64, BackupError> {
    let s = nix::sys::statvfs::statvfs(dir).map_err(|e| io_err(dir, &std::io::Error::from(e)))?;
    // The field types differ between platforms (u32 on some 32-bit ones).
    #[allow(clippy::useless_conversion)]
    let (blocks, size) = (
        u64::from(s.blocks_available()),
        u64::from(s.fragment_size()),
    );
    Ok(blocks.saturating_mul(size))
}

/// Write a regular file's content to `dst`, which must not exist yet (`O_EXCL`, no-follow);
/// runs of zeros become holes, so sparse files stay sparse.
fn write_file<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    dst: &Path,
    meta: &Meta,
    owners: bool,
) -> Result<(), BackupError> {
    use std::io::{Seek as _, SeekFrom, Write as _};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(dst)
        .map_err(|e| io_err(dst, &e))?;
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
