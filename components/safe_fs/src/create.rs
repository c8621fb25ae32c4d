//! Creating, linking and renaming below an open directory: every create is exclusive and
//! no-follow (nothing already there, a link included, is ever written through or
//! replaced), a rename moves a name (a link as a link) between directories reached
//! without following links, and a symbolic link is created only when its target stays,
//! read as text, inside the tree it belongs to ([`link_stays_within`]).

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Component, Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{self as rfs, Mode, OFlags, RenameFlags, Timespec, Timestamps};
use rustix::io::Errno;

use crate::dir::Dir;
use crate::error::Refused;

/// Whether a symbolic link at `link` (a path relative to the top of a tree, e.g. `a/b/l`
/// for `<tree>/a/b/l`) whose target is `target` points inside that tree, decided from the
/// text alone: the target is relative, made of `..` components first (climbing real
/// directories from the link's own, never above the top) and then plain names only. A
/// `..` after a name is refused, because the name may itself be a link and `..` then
/// climbs from where that link points; absolute targets are refused (they name the host's
/// files, not the tree's). So no chain of such links leads out of the tree.
#[must_use]
pub fn link_stays_within(link: &Path, target: &Path) -> bool {
    let Some(parent) = link.parent() else {
        return false;
    };
    let mut depth = 0usize;
    for c in parent.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return false,
        }
    }
    let mut names = 0usize;
    for c in target.components() {
        match c {
            Component::ParentDir if names == 0 => {
                let Some(d) = depth.checked_sub(1) else {
                    return false;
                };
                depth = d;
            }
            Component::Normal(_) => names += 1,
            Component::CurDir => {}
            _ => return false,
        }
    }
    !target.as_os_str().is_empty()
}

impl Dir {
    /// Create the new directory `rel` (its parent must exist, no link in the path) with
    /// exactly `mode`, and open it. Fails with `AlreadyExists` when anything (a link
    /// included) has that name.
    ///
    /// # Errors
    /// I/O errors or [`Refused`].
    pub fn create_dir_new(&self, rel: impl AsRef<Path>, mode: u32) -> io::Result<Dir> {
        let (dir, name) = self.parent_of(rel.as_ref())?;
        rfs::mkdirat(dir.fd(), name, Mode::from_raw_mode(mode & 0o700))?;
        let d = dir.child_dir(name)?;
        d.set_mode(mode)?;
        Ok(d)
    }

    /// A new, empty directory here named `<prefix><random>`, created with `mode` (0700 for
    /// a staging directory), and its name.
    ///
    /// # Errors
    /// I/O errors.
    pub fn create_temp_dir(&self, prefix: &str, mode: u32) -> io::Result<(OsString, Dir)> {
        let mut last = io::Error::from(Errno::EXIST);
        for n in 0..64u32 {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let name = OsString::from(format!("{prefix}{}{n}{nanos:x}", std::process::id()));
            match self.create_dir_new(&name, mode) {
                Ok(d) => return Ok((name, d)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Create the new regular file `rel` (`O_CREAT | O_EXCL | O_NOFOLLOW` in its parent,
    /// reached without following links) with `mode`, open for writing. Fails with
    /// `AlreadyExists` when anything, a dangling link included, has that name.
    ///
    /// # Errors
    /// I/O errors or [`Refused`].
    pub fn create_file_new(&self, rel: impl AsRef<Path>, mode: u32) -> io::Result<File> {
        let (dir, name) = self.parent_of(rel.as_ref())?;
        let flags = OFlags::WRONLY
            | OFlags::CREATE
            | OFlags::EXCL
            | OFlags::NOFOLLOW
            | OFlags::CLOEXEC
            | OFlags::NOCTTY;
        let fd = rfs::openat(dir.fd(), name, flags, Mode::from_raw_mode(mode & 0o600))?;
        rfs::fchmod(&fd, Mode::from_raw_mode(mode))?;
        Ok(File::from(fd))
    }

    /// Create the symbolic link `rel` pointing to `target`, only when the target stays
    /// inside this directory's tree ([`link_stays_within`] of `rel`); nothing is followed
    /// and nothing already there is replaced.
    ///
    /// # Errors
    /// [`Refused::LinkOutside`]; `AlreadyExists`; I/O errors.
    pub fn symlink_within(&self, rel: impl AsRef<Path>, target: &Path) -> io::Result<()> {
        let rel = rel.as_ref();
        if !link_stays_within(rel, target) {
            return Err(Refused::LinkOutside {
                path: self.path().join(rel),
                target: target.to_owned(),
            }
            .into());
        }
        let (dir, name) = self.parent_of(rel)?;
        Ok(rfs::symlinkat(target, dir.fd(), name)?)
    }

    /// What the symbolic link `rel` points to (the link is read, never followed).
    ///
    /// # Errors
    /// `InvalidInput` when `rel` is not a link; I/O errors or [`Refused`].
    pub fn read_link(&self, rel: impl AsRef<Path>) -> io::Result<PathBuf> {
        let (dir, name) = self.parent_of(rel.as_ref())?;
        let target = rfs::readlinkat(dir.fd(), name, Vec::new())?;
        Ok(PathBuf::from(OsStr::from_bytes(target.as_bytes())))
    }

    /// Rename `from` to `to` (both below this directory, their parents reached without
    /// following links; the names themselves are moved as they are, a link as a link).
    /// Never replaces: `AlreadyExists` when `to` exists.
    ///
    /// # Errors
    /// I/O errors or [`Refused`].
    pub fn rename_new(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
        let (from_dir, from_name) = self.parent_of(from.as_ref())?;
        let (to_dir, to_name) = self.parent_of(to.as_ref())?;
        rfs::renameat_with(
            from_dir.fd(),
            from_name,
            to_dir.fd(),
            to_name,
            RenameFlags::NOREPLACE,
        )?;
        let _ = rfs::fsync(to_dir.fd());
        Ok(())
    }

    /// Set this directory's modification time (the access time too) through its
    /// descriptor.
    ///
    /// # Errors
    /// I/O errors.
    pub fn set_mtime(&self, secs: i64) -> io::Result<()> {
        let t = Timespec {
            tv_sec: secs,
            tv_nsec: 0,
        };
        let times = Timestamps {
            last_access: t,
            last_modification: t,
        };
        Ok(rfs::futimens(self.fd(), &times)?)
    }

    /// Bytes an unprivileged writer may still write on this directory's file system.
    ///
    /// # Errors
    /// I/O errors.
    pub fn available_bytes(&self) -> io::Result<u64> {
        let s = rfs::fstatvfs(self.fd())?;
        Ok(s.f_bavail.saturating_mul(s.f_frsize))
    }

    /// Whether `rel` names nothing (not even a dangling link).
    ///
    /// # Errors
    /// I/O errors; [`Refused`] for a link among its parents.
    pub fn is_free(&self, rel: impl AsRef<Path>) -> io::Result<bool> {
        Ok(self.meta(rel)?.is_none())
    }
}
