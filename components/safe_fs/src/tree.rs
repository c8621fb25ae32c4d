use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, Gid, Uid};

use crate::dir::{Dir, Kind, Meta, Open};

/// Why an entry of a tree was left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// A directory on another device (a mount point): never entered.
    OtherDevice,
    /// A regular file with more than one hard link: changing its owner would change the
    /// owner of its other names too.
    HardLinked,
}

/// An entry left alone, relative to the directory worked on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub path: PathBuf,
    pub reason: SkipReason,
}

/// What [`Dir::empty`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Emptied {
    /// Entries removed (files, links, directories).
    pub removed: u64,
    /// Symbolic links removed as links (their targets untouched), relative paths.
    pub links: Vec<PathBuf>,
    /// Mount points left in place (with the directories that hold them).
    pub skipped: Vec<Skip>,
}

/// What [`Dir::chown_tree`] changed (or, planned, would change).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeChange {
    /// Entries whose owner differs, relative paths.
    pub changed: Vec<PathBuf>,
    pub skipped: Vec<Skip>,
}

impl Dir {
    /// Delete everything in this directory except the top-level names in `keep`; the
    /// directory itself, its owner and mode stay. Never follows a link (a link is removed
    /// as a link) and never enters another device (a mount point stays, reported).
    ///
    /// # Errors
    /// I/O errors; what was removed before stays removed.
    pub fn empty(&self, keep: &[&str]) -> io::Result<Emptied> {
        let dev = self.own_meta()?.dev;
        let mut out = Emptied::default();
        self.empty_below(dev, Path::new(""), keep, &mut out)?;
        Ok(out)
    }

    /// Returns whether every entry was removed.
    fn empty_below(
        &self,
        dev: u64,
        rel: &Path,
        keep: &[&str],
        out: &mut Emptied,
    ) -> io::Result<bool> {
        let mut all = true;
        for (name, meta) in self.entries()? {
            if keep.iter().any(|k| OsStr::new(k) == name) {
                continue;
            }
            let child = rel.join(&name);
            let flags = if meta.kind == Kind::Dir {
                if meta.dev != dev {
                    out.skipped.push(Skip {
                        path: child,
                        reason: SkipReason::OtherDevice,
                    });
                    all = false;
                    continue;
                }
                if !self.child_dir(&name)?.empty_below(dev, &child, &[], out)? {
                    all = false;
                    continue;
                }
                AtFlags::REMOVEDIR
            } else {
                AtFlags::empty()
            };
            rfs::unlinkat(self.fd(), name.as_os_str(), flags)?;
            if meta.kind == Kind::Symlink {
                out.links.push(child);
            }
            out.removed += 1;
        }
        Ok(all)
    }

    /// Remove `rel` (a file, a link as a link, or a directory tree as [`Dir::empty`] does);
    /// `None` when it was missing. A directory that holds a mount point stays.
    ///
    /// # Errors
    /// I/O errors; [`crate::Refused`] for a link among the parents of `rel`.
    pub fn remove_all(&self, rel: impl AsRef<Path>) -> io::Result<Option<Emptied>> {
        let rel = rel.as_ref();
        let Some(meta) = self.meta(rel)? else {
            return Ok(None);
        };
        let (parent, name) = self.parent_of(rel)?;
        let mut out = Emptied::default();
        let flags = if meta.kind == Kind::Dir {
            out = parent.child_dir(name)?.empty(&[])?;
            if !out.skipped.is_empty() {
                return Ok(Some(out));
            }
            AtFlags::REMOVEDIR
        } else {
            AtFlags::empty()
        };
        rfs::unlinkat(parent.fd(), name, flags)?;
        if meta.kind == Kind::Symlink {
            out.links.push(PathBuf::new());
        }
        out.removed += 1;
        Ok(Some(out))
    }

    /// Give every entry below this directory the owner `uid`/`gid` (`None` leaves that id):
    /// directories and regular files through their own descriptors, links as links; regular
    /// files with more than one hard link and mount points are skipped and reported. With
    /// `apply` false nothing changes and the result says what would.
    ///
    /// # Errors
    /// I/O errors.
    pub fn chown_tree(
        &self,
        uid: Option<u32>,
        gid: Option<u32>,
        apply: bool,
    ) -> io::Result<TreeChange> {
        let dev = self.own_meta()?.dev;
        let mut out = TreeChange::default();
        let owners = Owners {
            uid,
            gid,
            apply,
            dev,
        };
        self.chown_below(&owners, Path::new(""), &mut out)?;
        Ok(out)
    }

    fn chown_below(&self, o: &Owners, rel: &Path, out: &mut TreeChange) -> io::Result<()> {
        for (name, meta) in self.entries()? {
            let child = rel.join(&name);
            match meta.kind {
                Kind::Dir if meta.dev != o.dev => out.skipped.push(Skip {
                    path: child,
                    reason: SkipReason::OtherDevice,
                }),
                Kind::Dir => {
                    let sub = self.child_dir(&name)?;
                    sub.chown_below(o, &child, out)?;
                    if o.differs(&meta) {
                        if o.apply {
                            sub.set_owner(o.uid, o.gid)?;
                        }
                        out.changed.push(child);
                    }
                }
                Kind::File if meta.nlink > 1 && o.differs(&meta) => out.skipped.push(Skip {
                    path: child,
                    reason: SkipReason::HardLinked,
                }),
                Kind::File if o.differs(&meta) => {
                    if o.apply {
                        // Opened without following a link and re-checked (nlink) by `open`.
                        let file = self.open(&name, Open::read())?;
                        rfs::fchown(&file, o.uid.map(Uid::from_raw), o.gid.map(Gid::from_raw))?;
                    }
                    out.changed.push(child);
                }
                Kind::Symlink | Kind::Fifo | Kind::Socket | Kind::Device if o.differs(&meta) => {
                    if o.apply {
                        rfs::chownat(
                            self.fd(),
                            name.as_os_str(),
                            o.uid.map(Uid::from_raw),
                            o.gid.map(Gid::from_raw),
                            AtFlags::SYMLINK_NOFOLLOW,
                        )?;
                    }
                    out.changed.push(child);
                }
                _ => {}
            }
        }
        Ok(())
    }
}

struct Owners {
    uid: Option<u32>,
    gid: Option<u32>,
    apply: bool,
    dev: u64,
}

impl Owners {
    fn differs(&self, m: &Meta) -> bool {
        self.uid.is_some_and(|u| u != m.uid) || self.gid.is_some_and(|g| g != m.gid)
    }
}
