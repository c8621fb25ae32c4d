//! File-system primitives: compare a file with its desired state, write atomically. Paths
//! below the project go through `safe_fs` (no link followed, no hard-linked file read or
//! changed in place); only the self-signed writer works on `CERTS_SRC` by path.

use std::fs;
use std::path::Path;

use safe_fs::{Dir, Kind};

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

/// Compares `root/rel` with the desired content, mode and (optionally) owner. Reads nothing
/// beyond metadata when the size already differs. A link, a hard-linked file or anything
/// but a regular file is never read: it is replaced by a file of its own.
pub(crate) fn diff_file(
    root: &Dir,
    rel: &Path,
    content: &[u8],
    mode: u32,
    uid: Option<u32>,
    gid: Option<u32>,
) -> Result<Diff, CertsError> {
    let path = root.path().join(rel);
    let meta = match root.meta(rel) {
        Ok(Some(m)) => m,
        Ok(None) => return Ok(Diff::default()),
        Err(e) => return Err(CertsError::read(path, e)),
    };
    if meta.kind != Kind::File || meta.nlink > 1 {
        return Ok(Diff {
            exists: true,
            content: true,
            mode: true,
            owner: uid.is_some() || gid.is_some(),
            current_gid: None,
        });
    }
    let content_differs = if meta.size != content.len() as u64 {
        true
    } else {
        root.read(rel).map_err(|e| CertsError::read(&path, e))? != content
    };
    Ok(Diff {
        exists: true,
        content: content_differs,
        mode: meta.mode != mode,
        owner: uid.is_some_and(|u| u != meta.uid) || gid.is_some_and(|g| g != meta.gid),
        current_gid: Some(meta.gid),
    })
}

/// Writes `content` to `root/rel` atomically with `mode` and, when given, `uid`/`gid` (set
/// on the temp file before the rename), creating the parent directory (0755) if needed.
pub(crate) fn write_atomic(
    root: &Dir,
    rel: &Path,
    content: &[u8],
    mode: u32,
    uid: Option<u32>,
    gid: Option<u32>,
) -> Result<(), CertsError> {
    let err = |e| CertsError::write(root.path().join(rel), e);
    if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
        root.create_dir_all(parent, 0o755).map_err(err)?;
    }
    root.write_atomic(rel, content, mode, safe_fs::Owner::Set { uid, gid })
        .map_err(err)
}

/// Removes a file (a link as a link); a file already gone is fine.
pub(crate) fn remove_file(root: &Dir, rel: &Path) -> Result<(), CertsError> {
    root.remove_file(rel)
        .map(|_| ())
        .map_err(|e| CertsError::write(root.path().join(rel), e))
}

/// Writes `content` to `path` atomically with `mode`, in `CERTS_SRC`: the operator's
/// directory (it may be a link), so taken as trusted; the file name is never written
/// through.
pub(crate) fn write_path(path: &Path, content: &[u8], mode: u32) -> Result<(), CertsError> {
    let err = |e| CertsError::write(path, e);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default();
    Dir::open_root(dir)
        .and_then(|d| d.write_atomic(Path::new(name), content, mode, safe_fs::Owner::Process))
        .map_err(err)
}

/// Creates `dir` (and parents) if needed (`CERTS_SRC`).
pub(crate) fn ensure_dir_path(dir: &Path) -> Result<(), CertsError> {
    fs::create_dir_all(dir).map_err(|e| CertsError::write(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn write_atomic_sets_mode_and_leaves_no_temp() {
        let d = tempfile::tempdir().unwrap();
        let root = Dir::open_root(d.path()).unwrap();
        let rel = Path::new("k.pem");
        write_atomic(&root, rel, b"abc", 0o600, None, None).unwrap();
        let p = d.path().join(rel);
        let m = fs::metadata(&p).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o600);
        assert_eq!(fs::read(&p).unwrap(), b"abc");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
        let diff = diff_file(&root, rel, b"abc", 0o600, None, None).unwrap();
        assert!(diff.is_unchanged());
        let diff = diff_file(&root, rel, b"abd", 0o644, None, None).unwrap();
        assert!(diff.content && diff.mode && !diff.owner);
    }

    #[test]
    fn write_atomic_failure_removes_temp() {
        let d = tempfile::tempdir().unwrap();
        let root = Dir::open_root(d.path()).unwrap();
        let p = d.path().join("target");
        fs::create_dir(&p).unwrap();
        fs::write(p.join("inside"), b"x").unwrap();
        let err = write_atomic(&root, Path::new("target"), b"abc", 0o600, None, None).unwrap_err();
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
        let root = Dir::open_root(d.path()).unwrap();
        let diff = diff_file(&root, Path::new("nope"), b"", 0o644, Some(1), None).unwrap();
        assert!(!diff.exists && !diff.is_unchanged());
    }
}
