//! Setting a service's current data aside while it is replaced, and putting it back.

use std::path::{Path, PathBuf};

use crate::BackupError;
use crate::data_safety::stamp_now;
use crate::error::io_err;

/// Rename each existing `root/p` to a hidden sibling `.<name>.<tag>-<stamp>`; on a failure
/// the ones already moved go back. Returns (original, set-aside) pairs.
pub(crate) fn set_aside(
    root: &Path,
    paths: &[String],
    tag: &str,
) -> Result<Vec<(PathBuf, PathBuf)>, BackupError> {
    let stamp = stamp_now();
    let mut moved = Vec::new();
    for p in paths {
        let orig = root.join(p);
        if std::fs::symlink_metadata(&orig).is_err() {
            continue;
        }
        let name = orig
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let aside = orig.with_file_name(format!(".{name}.{tag}-{stamp}"));
        if let Err(e) = std::fs::rename(&orig, &aside) {
            for (o, a) in moved.iter().rev() {
                let _ = std::fs::rename(a, o);
            }
            return Err(io_err(&orig, &e));
        }
        moved.push((orig, aside));
    }
    Ok(moved)
}

/// Delete what was restored at `paths` and move the set-aside data back.
pub(crate) fn put_back(
    root: &Path,
    paths: &[String],
    aside: &[(PathBuf, PathBuf)],
) -> Result<(), BackupError> {
    for p in paths {
        let d = root.join(p);
        match std::fs::remove_dir_all(&d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&d, &e)),
        }
    }
    for (orig, a) in aside {
        std::fs::rename(a, orig).map_err(|e| io_err(orig, &e))?;
    }
    Ok(())
}

/// Delete set-aside data; returns what could not be deleted.
pub(crate) fn discard(aside: &[(PathBuf, PathBuf)]) -> Vec<PathBuf> {
    aside
        .iter()
        .filter(|(_, a)| std::fs::remove_dir_all(a).is_err())
        .map(|(_, a)| a.clone())
        .collect()
}

#[cfg(test)]
mod tests;
