use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{self as rfs, AtFlags, CWD, FileType, Gid, Mode, OFlags, Uid};
use rustix::io::Errno;

use crate::error::Refused;

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// What a path is (never what a link points to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// A named pipe.
    Fifo,
    /// A unix domain socket.
    Socket,
    /// A character or block device.
    Device,
}

impl Kind {
    /// What it is, in words (`a FIFO`).
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Kind::File => "a regular file",
            Kind::Dir => "a directory",
            Kind::Symlink => "a symbolic link",
            Kind::Fifo => "a FIFO",
            Kind::Socket => "a socket",
            Kind::Device => "a device",
        }
    }
}

/// The metadata of a path itself (`lstat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    /// Permission bits (`& 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    pub size: u64,
    pub dev: u64,
    pub ino: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
}

impl Meta {
    // The field types of `stat` differ between architectures: the casts are no-ops on some.
    #[allow(clippy::unnecessary_cast)]
    pub(crate) fn of(s: &rfs::Stat) -> Self {
        let kind = match FileType::from_raw_mode(s.st_mode as rfs::RawMode) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            FileType::Fifo => Kind::Fifo,
            FileType::Socket => Kind::Socket,
            _ => Kind::Device,
        };
        Meta {
            kind,
            mode: s.st_mode as u32 & 0o7777,
            uid: s.st_uid,
            gid: s.st_gid,
            nlink: s.st_nlink as u64,
            size: s.st_size as u64,
            dev: s.st_dev as u64,
            ino: s.st_ino as u64,
            mtime: s.st_mtime as i64,
        }
    }
}

/// How [`Dir::open`] opens a file. Links are refused whatever the access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    write: bool,
    create: Option<u32>,
    hard_links: bool,
}

impl Open {
    /// Read only; the file must exist.
    #[must_use]
    pub fn read() -> Self {
        Open {
            write: false,
            create: None,
            hard_links: false,
        }
    }
    /// Read only, also a regular file with more than one hard link: only for a caller
    /// that has checked that every name of the file is inside the tree it works on (a
    /// backup counting the names it met).
    #[must_use]
    pub fn read_hard_linked() -> Self {
        Open {
            hard_links: true,
            ..Open::read()
        }
    }
    /// Read and write; the file must exist.
    #[must_use]
    pub fn write() -> Self {
        Open {
            write: true,
            create: None,
            hard_links: false,
        }
    }
    /// Read and write, created with `mode` when missing (an existing file keeps its mode).
    #[must_use]
    pub fn create(mode: u32) -> Self {
        Open {
            write: true,
            create: Some(mode),
            hard_links: false,
        }
    }
}

/// Who owns a file written by [`Dir::write_atomic`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The process's user (a new file).
    Process,
    /// Whoever owns the regular file being replaced (the process's user when there is none,
    /// or when the path is a link), so an edit made with sudo does not hand a user's file
    /// to root.
    Keep,
    /// These ids (`None` leaves that id as the process's).
    Set { uid: Option<u32>, gid: Option<u32> },
}

/// An open directory: every path below it is reached without following a link.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
}

/// Open `rel` below `root` (the trusted project directory) refusing a link in any
/// component of `rel`, and a regular file with more than one hard link.
///
/// # Errors
/// Any I/O error; a refusal is an [`io::Error`] carrying [`Refused`].
pub fn open_nofollow(root: &Path, rel: &Path, how: Open) -> io::Result<File> {
    Dir::open_root(root)?.open(rel, how)
}

/// The normal components of `rel`; absolute paths and `..` are refused.
fn components(rel: &Path) -> io::Result<Vec<&OsStr>> {
    rel.components()
        .filter(|c| *c != Component::CurDir)
        .map(|c| match c {
            Component::Normal(n) => Ok(n),
            _ => Err(Refused::NotBelow(rel.to_owned()).into_io()),
        })
        .collect()
}

fn uid(u: Option<u32>) -> Option<Uid> {
    u.map(Uid::from_raw)
}

fn gid(g: Option<u32>) -> Option<Gid> {
    g.map(Gid::from_raw)
}

impl Dir {
    /// Open the trusted directory `path` (the project): links in `path` itself are the
    /// operator's choice and followed; nothing below it is.
    ///
    /// # Errors
    /// Any I/O error (`NotFound`, not a directory).
    pub fn open_root(path: &Path) -> io::Result<Dir> {
        let fd = rfs::openat(
            CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Dir {
            fd,
            path: path.to_owned(),
        })
    }

    /// The path this directory was reached by (for messages).
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A second handle on the same directory.
    ///
    /// # Errors
    /// Out of file descriptors.
    pub fn try_clone(&self) -> io::Result<Dir> {
        Ok(Dir {
            fd: self.fd.try_clone()?,
            path: self.path.clone(),
        })
    }

    /// The error for `name` that could not be opened as a directory: a link is refused.
    fn explain(&self, name: &OsStr, e: Errno) -> io::Error {
        if matches!(e, Errno::LOOP | Errno::NOTDIR)
            && rfs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
                .is_ok_and(|s| Meta::of(&s).kind == Kind::Symlink)
        {
            return Refused::Symlink(self.path.join(name)).into_io();
        }
        e.into()
    }

    pub(crate) fn child_dir(&self, name: &OsStr) -> io::Result<Dir> {
        let fd = rfs::openat(&self.fd, name, DIR_FLAGS, Mode::empty())
            .map_err(|e| self.explain(name, e))?;
        Ok(Dir {
            fd,
            path: self.path.join(name),
        })
    }

    /// The directory `rel` below this one (`""` is this one).
    ///
    /// # Errors
    /// `NotFound`, not a directory, or [`Refused::Symlink`] naming the link.
    pub fn open_dir(&self, rel: impl AsRef<Path>) -> io::Result<Dir> {
        let mut dir = self.try_clone()?;
        for name in components(rel.as_ref())? {
            dir = dir.child_dir(name)?;
        }
        Ok(dir)
    }

    /// [`Dir::open_dir`], creating missing directories with exactly `mode` (existing ones
    /// keep theirs).
    ///
    /// # Errors
    /// As [`Dir::open_dir`]; a link is never replaced or followed.
    pub fn create_dir_all(&self, rel: impl AsRef<Path>, mode: u32) -> io::Result<Dir> {
        let mut dir = self.try_clone()?;
        for name in components(rel.as_ref())? {
            dir = match dir.child_dir(name) {
                Ok(d) => d,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // Only a directory this call made gets `mode` (past the umask); one that
                    // appeared meanwhile keeps its own mode, never widened.
                    let made = match rfs::mkdirat(&dir.fd, name, Mode::from_raw_mode(mode)) {
                        Ok(()) => true,
                        Err(Errno::EXIST) => false,
                        Err(e) => return Err(e.into()),
                    };
                    let d = dir.child_dir(name)?;
                    if made {
                        rfs::fchmod(&d.fd, Mode::from_raw_mode(mode))?;
                    }
                    d
                }
                Err(e) => return Err(e),
            };
        }
        Ok(dir)
    }

    /// The parent directory of `rel` (opened without following links) and the last name.
    pub(crate) fn parent_of<'a>(&self, rel: &'a Path) -> io::Result<(Dir, &'a OsStr)> {
        let names = components(rel)?;
        let Some((last, parents)) = names.split_last() else {
            return Err(Refused::NotBelow(rel.to_owned()).into_io());
        };
        let mut dir = self.try_clone()?;
        for name in parents {
            dir = dir.child_dir(name)?;
        }
        Ok((dir, last))
    }

    /// The metadata of `rel` itself (a link is reported as [`Kind::Symlink`]); `None` when
    /// it or a parent is missing.
    ///
    /// # Errors
    /// I/O errors; a link among the parents is [`Refused::Symlink`].
    pub fn meta(&self, rel: impl AsRef<Path>) -> io::Result<Option<Meta>> {
        let rel = rel.as_ref();
        if components(rel)?.is_empty() {
            return self.own_meta().map(Some);
        }
        let (dir, name) = match self.parent_of(rel) {
            Ok(x) => x,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        match rfs::statat(&dir.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(s) => Ok(Some(Meta::of(&s))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The metadata of this directory.
    ///
    /// # Errors
    /// I/O errors.
    pub fn own_meta(&self) -> io::Result<Meta> {
        Ok(Meta::of(&rfs::fstat(&self.fd)?))
    }

    /// chmod this directory through its descriptor.
    ///
    /// # Errors
    /// I/O errors.
    pub fn set_mode(&self, mode: u32) -> io::Result<()> {
        Ok(rfs::fchmod(&self.fd, Mode::from_raw_mode(mode))?)
    }

    /// chown this directory through its descriptor (`None` leaves that id).
    ///
    /// # Errors
    /// I/O errors.
    pub fn set_owner(&self, u: Option<u32>, g: Option<u32>) -> io::Result<()> {
        Ok(rfs::fchown(&self.fd, uid(u), gid(g))?)
    }

    /// Open the regular file `rel`: a link in any component is refused, so is a file with
    /// more than one hard link (reading it could publish, and changing it could change,
    /// a file outside the project). chmod/chown the result through the [`File`].
    ///
    /// # Errors
    /// I/O errors or [`Refused`].
    pub fn open(&self, rel: impl AsRef<Path>, how: Open) -> io::Result<File> {
        let rel = rel.as_ref();
        let (dir, name) = self.parent_of(rel)?;
        let mut flags = OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
        flags |= if how.write {
            OFlags::RDWR
        } else {
            OFlags::RDONLY
        };
        if how.create.is_some() {
            flags |= OFlags::CREATE;
        }
        let mode = Mode::from_raw_mode(how.create.unwrap_or(0));
        let fd = rfs::openat(&dir.fd, name, flags, mode).map_err(|e| match e {
            Errno::LOOP => Refused::Symlink(dir.path.join(name)).into_io(),
            e => io::Error::from(e),
        })?;
        let meta = Meta::of(&rfs::fstat(&fd)?);
        if meta.kind != Kind::File {
            return Err(Refused::NotRegular(dir.path.join(name)).into_io());
        }
        if meta.nlink > 1 && !how.hard_links {
            return Err(Refused::HardLink {
                path: dir.path.join(name),
                links: meta.nlink,
            }
            .into_io());
        }
        // Back to blocking I/O (O_NONBLOCK only kept a FIFO from hanging the open).
        let flags = rfs::fcntl_getfl(&fd)? - OFlags::NONBLOCK;
        rfs::fcntl_setfl(&fd, flags)?;
        Ok(File::from(fd))
    }

    /// The content of the regular file `rel` (see [`Dir::open`]).
    ///
    /// # Errors
    /// I/O errors or [`Refused`].
    pub fn read(&self, rel: impl AsRef<Path>) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.open(rel, Open::read())?.read_to_end(&mut buf)?;
        Ok(buf)
    }

    /// Remove the file (or link: the link itself) `rel`; `false` when it was missing.
    ///
    /// # Errors
    /// I/O errors (a directory is `EISDIR`), [`Refused`] for a link among the parents.
    pub fn remove_file(&self, rel: impl AsRef<Path>) -> io::Result<bool> {
        let (dir, name) = match self.parent_of(rel.as_ref()) {
            Ok(x) => x,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        match rfs::unlinkat(&dir.fd, name, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(Errno::NOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The entries of this directory with their own metadata, sorted by name.
    ///
    /// # Errors
    /// I/O errors.
    pub fn entries(&self) -> io::Result<Vec<(OsString, Meta)>> {
        use std::os::unix::ffi::OsStrExt as _;
        let fd = rfs::openat(&self.fd, ".", DIR_FLAGS, Mode::empty())?;
        let mut out = Vec::new();
        for entry in rfs::Dir::new(fd)? {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let name = OsStr::from_bytes(name).to_owned();
            match rfs::statat(&self.fd, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(s) => out.push((name, Meta::of(&s))),
                Err(Errno::NOENT) => {}
                Err(e) => return Err(e.into()),
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Write `bytes` to `rel` atomically: a temp file in the same directory created with
    /// `mode` and `owner` before any byte lands, synced, renamed over `rel` (a link or a
    /// hard link at `rel` is replaced, never written through), the directory synced. The
    /// parent directory must exist and no component may be a link.
    ///
    /// # Errors
    /// I/O errors or [`Refused`]; the temp file is removed and `rel` unchanged then.
    pub fn write_atomic(
        &self,
        rel: impl AsRef<Path>,
        bytes: &[u8],
        mode: u32,
        owner: Owner,
    ) -> io::Result<()> {
        let (dir, name) = self.parent_of(rel.as_ref())?;
        let (u, g) = match owner {
            Owner::Process => (None, None),
            Owner::Keep => match rfs::statat(&dir.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(s) if Meta::of(&s).kind == Kind::File => (Some(s.st_uid), Some(s.st_gid)),
                Ok(_) | Err(Errno::NOENT) => (None, None),
                Err(e) => return Err(e.into()),
            },
            Owner::Set { uid, gid } => (uid, gid),
        };
        let (tmp_name, fd) = dir.create_temp(name, mode)?;
        let written = (|| -> io::Result<()> {
            rfs::fchmod(&fd, Mode::from_raw_mode(mode))?;
            if u.is_some() || g.is_some() {
                rfs::fchown(&fd, uid(u), gid(g))?;
            }
            let mut file = File::from(fd);
            file.write_all(bytes)?;
            file.sync_all()?;
            rfs::renameat(&dir.fd, tmp_name.as_os_str(), &dir.fd, name)?;
            Ok(())
        })();
        if let Err(e) = written {
            let _ = rfs::unlinkat(&dir.fd, tmp_name.as_os_str(), AtFlags::empty());
            return Err(e);
        }
        // Best effort: make the rename itself durable.
        let _ = rfs::fsync(&dir.fd);
        Ok(())
    }

    fn create_temp(&self, name: &OsStr, mode: u32) -> io::Result<(OsString, OwnedFd)> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let flags =
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut last = Errno::EXIST;
        for _ in 0..64 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let mut tmp = OsString::from(".");
            tmp.push(name);
            tmp.push(format!(".{}.{n}.{nanos:x}.tmp", std::process::id()));
            match rfs::openat(
                &self.fd,
                tmp.as_os_str(),
                flags,
                Mode::from_raw_mode(mode & 0o600),
            ) {
                Ok(fd) => return Ok((tmp, fd)),
                Err(Errno::EXIST) => last = Errno::EXIST,
                Err(e) => return Err(e.into()),
            }
        }
        Err(last.into())
    }

    /// The directory holding `file`, opened from that directory's parent so that the
    /// directory itself is never a link (e.g. `.dtaas` of `<project>/.dtaas/state.db`; the
    /// path above it is trusted), and `file`'s name. With `create` a missing directory is
    /// made with that mode (its parents as the process's umask gives).
    ///
    /// # Errors
    /// I/O errors; [`Refused::Symlink`] when the directory is a link.
    pub fn for_file(file: &Path, create: Option<u32>) -> io::Result<(Dir, OsString)> {
        let name = file
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?
            .to_owned();
        let dir = file
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let (above, rel) = match (dir.parent(), dir.file_name()) {
            (Some(p), Some(n)) if !p.as_os_str().is_empty() => (p, Path::new(n)),
            (Some(_), Some(n)) => (Path::new("."), Path::new(n)),
            _ => (dir, Path::new("")),
        };
        if create.is_some() {
            std::fs::create_dir_all(above)?;
        }
        let root = Dir::open_root(above)?;
        let dir = match create {
            Some(mode) => root.create_dir_all(rel, mode)?,
            None => root.open_dir(rel)?,
        };
        Ok((dir, name))
    }

    /// Write `bytes` to the new file `rel` (parent must exist, no link in it): a temp file
    /// with `mode` renamed into place only if nothing is there yet. `false` when `rel`
    /// already existed (a link included); it is left as it is.
    ///
    /// # Errors
    /// I/O errors or [`Refused`]; the temp file is removed then.
    pub fn write_new(&self, rel: impl AsRef<Path>, bytes: &[u8], mode: u32) -> io::Result<bool> {
        let (dir, name) = self.parent_of(rel.as_ref())?;
        let (tmp_name, fd) = dir.create_temp(name, mode)?;
        let written = (|| -> io::Result<bool> {
            rfs::fchmod(&fd, Mode::from_raw_mode(mode))?;
            let mut file = File::from(fd);
            file.write_all(bytes)?;
            file.sync_all()?;
            match rfs::renameat_with(
                &dir.fd,
                tmp_name.as_os_str(),
                &dir.fd,
                name,
                rfs::RenameFlags::NOREPLACE,
            ) {
                Ok(()) => Ok(true),
                Err(Errno::EXIST) => Ok(false),
                Err(e) => Err(e.into()),
            }
        })();
        if !matches!(written, Ok(true)) {
            let _ = rfs::unlinkat(&dir.fd, tmp_name.as_os_str(), AtFlags::empty());
        }
        let _ = rfs::fsync(&dir.fd);
        written
    }

    pub(crate) fn fd(&self) -> impl AsFd + '_ {
        &self.fd
    }
}
