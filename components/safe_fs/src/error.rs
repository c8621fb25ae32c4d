use std::io;
use std::path::PathBuf;

/// Why an operation was refused. Carried inside an [`io::Error`] (kind `Other`), so callers
/// keep their own error types and the message names the path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refused {
    /// A symbolic link where a directory or file was expected.
    #[error(
        "{} is a symbolic link: refusing to follow it (files below the project are never read, written or changed through links; replace the link by a directory or a bind mount)",
        .0.display()
    )]
    Symlink(PathBuf),
    /// A regular file with another name somewhere.
    #[error(
        "{} has {links} hard links: refusing to read or change it in place (another of its names may be outside the project; copy it to a file of its own)",
        path.display()
    )]
    HardLink { path: PathBuf, links: u64 },
    /// A path that is absolute or has `..`.
    #[error("{} is not a plain relative path below the directory worked on", .0.display())]
    NotBelow(PathBuf),
    /// A symbolic link whose target leads out of the tree it is in (absolute, or `..`
    /// climbing above the top or following a name).
    #[error(
        "{} is a symbolic link to {} (outside the directory it belongs to): refusing to create or keep it",
        path.display(),
        target.display()
    )]
    LinkOutside { path: PathBuf, target: PathBuf },
    /// Neither a regular file nor a directory where one was expected (a FIFO, socket, device).
    #[error("{} is not a regular file", .0.display())]
    NotRegular(PathBuf),
}

impl Refused {
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::other(self)
    }
}

impl From<Refused> for io::Error {
    fn from(r: Refused) -> Self {
        r.into_io()
    }
}

/// The refusal inside `e`, if it is one.
#[must_use]
pub fn refused(e: &io::Error) -> Option<&Refused> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Refused>())
}
