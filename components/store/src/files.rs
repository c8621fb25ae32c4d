//! The SQLite state files (`.dtaas/state.db`, its lock file and SQLite's `-wal`, `-shm`,
//! `-journal` files), reached through `safe_fs`: the state directory, the database and the
//! lock file are never links and never hard-linked, so opening the store can neither chmod
//! nor create a file elsewhere.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use safe_fs::{Dir, Kind, Open, Refused};

/// The state directory (never a link; made 0700 with `create`) and the database's name.
fn state_dir(db: &Path, create: bool) -> io::Result<(Dir, OsString)> {
    Dir::for_file(db, create.then_some(0o700))
}

fn with_suffix(name: &OsString, suffix: &str) -> OsString {
    let mut n = name.clone();
    n.push(suffix);
    n
}

/// Refuse a link or hard-linked file where SQLite will write next to the database.
fn check_sidecars(dir: &Dir, name: &OsString) -> io::Result<()> {
    for suffix in ["-wal", "-shm", "-journal"] {
        let side = with_suffix(name, suffix);
        match dir.meta(&side)? {
            Some(m) if m.kind == Kind::Symlink => {
                return Err(Refused::Symlink(dir.path().join(&side)).into());
            }
            Some(m) if m.kind == Kind::File && m.nlink > 1 => {
                return Err(Refused::HardLink {
                    path: dir.path().join(&side),
                    links: m.nlink,
                }
                .into());
            }
            _ => {}
        }
    }
    Ok(())
}

/// Create the state directory (0700) and an empty database file (0600) if missing, and
/// tighten an existing file's mode to 0600 through its descriptor. Without `create`
/// nothing is created, only checked. An empty file is a valid, empty SQLite database.
pub(crate) fn prepare_sqlite_file(db: &Path, create: bool) -> io::Result<()> {
    let (dir, name) = state_dir(db, create)?;
    check_sidecars(&dir, &name)?;
    let how = if create {
        Open::create(0o600)
    } else {
        Open::read()
    };
    let file = dir.open(&name, how)?;
    if create && file.metadata()?.permissions().mode() & 0o077 != 0 {
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Open (creating it 0600) the lock file next to `db`, refusing a link there.
pub(crate) fn open_lock_file(db: &Path) -> io::Result<fs::File> {
    let (dir, name) = state_dir(db, false)?;
    dir.open(with_suffix(&name, ".lock"), Open::create(0o600))
}
