//! File-system primitives: compare a file with its desired state, write atomically.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::CertsError;

/// How an existing path differs from the desired file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Diff {
    pub(crate) exists: bool,
    pub(crate) content: bool,
    pub(crate) mode: bool,
    pub(crate) owner: bool,
    /// The group of the existing regular file (kept when only the uid is set).
    pub(crate) current_gid: Option<u32>,
}

impl Diff {
    pub(crate) fn is_unchanged(&self) -> bool {
        self.exists && !self.content && !self.mode && !self.owner
    }
}

/// Compares `path` with the desired content, mode and (optionally) owner. Reads nothing
/// beyond metadata when the size already differs.
pub(crate) fn diff_file(
    path: &Path,
    content: &[u8],
    mode: u32,
    uid: Option<u32>,
    gid: Option<u32>,
) -> Result<Diff, CertsError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Diff::default()),
        Err(e) => return Err(CertsError::read(path, e)),
    };
    if !meta.file_type().is_file() {
        // A symlink, directory or other: replaced by a regular file.
        return Ok(Diff {
            exists: true,
            content: true,
            mode: true,
            owner: uid.is_some() || gid.is_some(),
            current_gid: None,
        });
    }
    let content_differs = if meta.len() != content.len() as u64 {
        true
    } else {
        fs::read(path).map_err(|e| CertsError::read(path, e))? != content
    };
    Ok(Diff {
        exists: true,
        content: content_differs,
        mode: meta.mode() & 0o7777 != mode,
        owner: uid.is_some_and(|u| u != meta.uid()) || gid.is_some_and(|g| g != meta.gid()),
        current_gid: Some(meta.gid()),
    })
}

/// Writes `content` atomically with `mode` and, when given, `uid`/`gid` (set on the temp
/// file before the rename; see the atomic_file component).
pub(crate) fn write_atomic(
    path: &Path,
    content: &[u8],
    mode: u32,
    uid: Option<u32>,
    gid: Option<u32>,
) -> Result<(), CertsError> {
    atomic_file::write(path, content, mode, atomic_file::Owner::Set { uid, gid })
        .map_err(|e| CertsError::write(path, e))
}

/// Removes a file; a file already gone is fine.
pub(crate) fn remove_file(path: &Path) -> Result<(), CertsError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CertsError::write(path, e)),
    }
}

/// Creates `dir` (and parents) if needed.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), CertsError> {
    fs::create_dir_all(dir).map_err(|e| CertsError::write(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_sets_mode_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k.pem");
        write_atomic(&p, b"abc", 0o600, None, None).unwrap();
        let m = fs::metadata(&p).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o600);
        assert_eq!(fs::read(&p).unwrap(), b"abc");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
        let diff = diff_file(&p, b"abc", 0o600, None, None).unwrap();
        assert!(diff.is_unchanged());
        let diff = diff_file(&p, b"abd", 0o644, None, None).unwrap();
        assert!(diff.content && diff.mode && !diff.owner);
    }

    #[test]
    fn write_atomic_failure_removes_temp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("target");
        fs::create_dir(&p).unwrap();
        fs::write(p.join("inside"), b"x").unwrap();
        let err = write_atomic(&p, b"abc", 0o600, None, None).unwrap_err();
        assert!(matches!(err, CertsError::Write { .. }), "{err}");
        let names: Vec<_> = fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("target")]);
    }

    #[test]
    fn diff_of_missing_file_is_create() {
        let d = tempfile::tempdir().unwrap();
        let diff = diff_file(&d.path().join("nope"), b"", 0o644, Some(1), None).unwrap();
        assert!(!diff.exists && !diff.is_unchanged());
    }
}
