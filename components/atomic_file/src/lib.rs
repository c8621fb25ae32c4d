//! atomic_file: the one way files are written in this workspace — a temp file in the same
//! directory with its final mode (and owner) set before any byte lands, flushed, renamed
//! over the target, and the directory synced, so a reader sees the old file or the new
//! one, never half of one, and a secret file is never briefly world-readable.
//!
//! It knows nothing of what the files mean; the temp-file-and-rename itself is
//! `safe_fs::Dir::write_atomic` (the one implementation).

use std::io;
use std::path::Path;

pub use safe_fs::Owner;

/// Write `bytes` to `path` atomically with `mode` and `owner`. The directory holding
/// `path` must not be a link (`config/` linked elsewhere is refused; the path above it is
/// trusted), and the file name itself is never written through (a link or hard link there
/// is replaced). For paths deeper below a project use `safe_fs::Dir::write_atomic` from
/// the project directory.
///
/// # Errors
/// Any I/O error or a `safe_fs::Refused`; the temp file is removed and `path` is
/// unchanged then.
pub fn write(path: &Path, bytes: &[u8], mode: u32, owner: Owner) -> io::Result<()> {
    let (dir, name) = safe_fs::Dir::for_file(path, None)?;
    dir.write_atomic(Path::new(&name), bytes, mode, owner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

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
    fn a_linked_directory_is_refused_and_a_linked_file_replaced() {
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("services.env"), "theirs").unwrap();
        fs::create_dir(d.path().join("p")).unwrap();
        std::os::unix::fs::symlink(&outside, d.path().join("p/config")).unwrap();
        let e = write(
            &d.path().join("p/config/services.env"),
            b"x",
            0o600,
            Owner::Keep,
        )
        .unwrap_err();
        assert!(e.to_string().contains("config is a symbolic link"), "{e}");
        assert_eq!(
            fs::read_to_string(outside.join("services.env")).unwrap(),
            "theirs"
        );
        let f = d.path().join("p/f");
        std::os::unix::fs::symlink(outside.join("services.env"), &f).unwrap();
        write(&f, b"mine", 0o600, Owner::Keep).unwrap();
        assert_eq!(
            fs::read_to_string(outside.join("services.env")).unwrap(),
            "theirs"
        );
        assert_eq!(fs::read_to_string(&f).unwrap(), "mine");
    }

    #[test]
    fn a_missing_directory_is_an_error_and_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("nope/f");
        assert!(write(&p, b"x", 0o600, Owner::Process).is_err());
        assert!(!p.exists());
    }
}
