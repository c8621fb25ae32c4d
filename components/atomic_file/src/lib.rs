//! atomic_file: the one way files are written in this workspace — a temp file in the same
//! directory with its final mode (and owner) set before any byte lands, flushed, renamed
//! over the target, and the directory synced, so a reader sees the old file or the new
//! one, never half of one, and a secret file is never briefly world-readable.
//!
//! It knows nothing of what the files mean.

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;

/// Who owns the written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The process's user (a new file).
    Process,
    /// Whoever owns the file being replaced (the process's user when there is none), so an
    /// edit made with sudo does not hand a user's file to root.
    Keep,
    /// These ids (`None` leaves that id as the process's).
    Set { uid: Option<u32>, gid: Option<u32> },
}

/// Write `bytes` to `path` atomically with `mode` and `owner`.
///
/// # Errors
/// Any I/O error; the temp file is removed and `path` is unchanged then.
pub fn write(path: &Path, bytes: &[u8], mode: u32, owner: Owner) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let (uid, gid) = match owner {
        Owner::Process => (None, None),
        Owner::Keep => match fs::metadata(path) {
            Ok(m) => (Some(m.uid()), Some(m.gid())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => (None, None),
            Err(e) => return Err(e),
        },
        Owner::Set { uid, gid } => (uid, gid),
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))?;
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::fchown(tmp.as_file(), uid, gid)?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    // On error the PersistError owns the temp file and removes it when dropped.
    tmp.persist(path).map_err(|e| e.error)?;
    // Best effort: make the rename itself durable.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn replaces_with_mode_and_leaves_no_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("services.env");
        fs::write(&p, "old").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        write(&p, b"new", 0o600, Owner::Keep).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(mode(&p), 0o600);
        let names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["services.env"]);
    }

    #[test]
    fn keep_keeps_the_owner_and_set_sets_it() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        fs::write(&p, "x").unwrap();
        let me = fs::metadata(&p).unwrap();
        if me.uid() == 0 {
            // As root (CI): give the file away, then an edit must keep that owner.
            std::os::unix::fs::chown(&p, Some(4321), Some(4321)).unwrap();
            write(&p, b"y", 0o600, Owner::Keep).unwrap();
            let m = fs::metadata(&p).unwrap();
            assert_eq!((m.uid(), m.gid()), (4321, 4321));
            write(
                &p,
                b"z",
                0o600,
                Owner::Set {
                    uid: Some(999),
                    gid: None,
                },
            )
            .unwrap();
            assert_eq!(fs::metadata(&p).unwrap().uid(), 999);
        } else {
            write(&p, b"y", 0o600, Owner::Keep).unwrap();
            assert_eq!(fs::metadata(&p).unwrap().uid(), me.uid());
        }
    }

    #[test]
    fn a_missing_directory_is_an_error_and_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("nope/f");
        assert!(write(&p, b"x", 0o600, Owner::Process).is_err());
        assert!(!p.exists());
    }
}
