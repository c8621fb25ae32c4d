//! safe_fs: the one rule for files inside a project, which the binaries change as root.
//!
//! A project directory is trusted (the operator chose it); nothing below it is: containers
//! write their data dirs, backups come from elsewhere. So every path below the project is
//! walked one component at a time relative to an open directory (`openat` with
//! `O_NOFOLLOW`): a symbolic link anywhere in it is refused, never followed ([`Refused`]); a
//! regular file with more than one hard link is neither read nor changed in place (its
//! other name may be outside the path worked on); modes and owners are set through the
//! open descriptor, never by path; a recursive walk never leaves the device it started on.
//! Writes are atomic: a same-directory temp file created with its final mode and owner,
//! renamed over the target. [`mode_for`] decides a written file's mode from what it holds:
//! 0644 only for PEM certificates, 0600 for everything else.

mod create;
mod dir;
mod error;
mod mode;
mod tree;

pub use create::link_stays_within;
pub use dir::{Dir, Kind, Meta, Open, Owner, open_nofollow};
pub use error::{Refused, refused};
pub use mode::{PRIVATE, PUBLIC, mode_for};
pub use tree::{Emptied, Skip, SkipReason, TreeChange};

#[cfg(test)]
mod tests;
