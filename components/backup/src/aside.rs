//! Setting a service's current data aside while it is replaced, and putting it back:
//! renames and removals through `safe_fs`, so a path below the project is reached without
//! following a link (a data dir that is itself a link is moved as a link), nothing is
//! renamed over an existing name, and a removal neither follows links nor leaves its
//! device.

use std::io;
use std::path::{Path, PathBuf};

use safe_fs::Dir;

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
    let project = Dir::open_root(root).map_err(|e| io_err(root, &e))?;
    let stamp = stamp_now();
    let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
    for p in paths {
        let orig = Path::new(p);
        let present = project.meta(orig).map(|m| m.is_some());
        let done = present.and_then(|present| {
            if !present {
                return Ok(None);
            }
            let name = orig.file_name().unwrap_or_default().to_string_lossy();
            let aside = orig.with_file_name(format!(".{name}.{tag}-{stamp}"));
            project.rename_new(orig, &aside).map(|()| Some(aside))
        });
        match done {
            Ok(Some(aside)) => moved.push((orig.to_owned(), aside)),
            Ok(None) => {}
            Err(e) => {
                for (o, a) in moved.iter().rev() {
                    let _ = project.rename_new(a, o);
                }
                return Err(io_err(root.join(p), &e));
            }
        }
    }
    Ok(moved
        .into_iter()
        .map(|(o, a)| (root.join(o), root.join(a)))
        .collect())
}

/// Delete what was restored at `paths` and move the set-aside data back.
pub(crate) fn put_back(
    root: &Path,
    paths: &[String],
    aside: &[(PathBuf, PathBuf)],
) -> Result<(), BackupError> {
    let project = Dir::open_root(root).map_err(|e| io_err(root, &e))?;
    for p in paths {
        remove(&project, Path::new(p)).map_err(|e| io_err(root.join(p), &e))?;
    }
    for (orig, a) in aside {
        let rel = |p: &Path| p.strip_prefix(root).map(Path::to_owned);
        let (Ok(o), Ok(a)) = (rel(orig), rel(a)) else {
            return Err(io_err(orig, &io::Error::other("not below the project")));
        };
        project.rename_new(&a, &o).map_err(|e| io_err(orig, &e))?;
    }
    Ok(())
}

/// Remove `rel` entirely (no link followed, no other device entered); an error when
/// anything had to be left (a mount point inside).
fn remove(project: &Dir, rel: &Path) -> io::Result<()> {
    match project.remove_all(rel)? {
        Some(out) if !out.skipped.is_empty() => Err(io::Error::other(format!(
            "{} holds a mount point ({}): left in place",
            rel.display(),
            out.skipped[0].path.display()
        ))),
        _ => Ok(()),
    }
}

/// Delete set-aside data; returns what could not be deleted.
pub(crate) fn discard(aside: &[(PathBuf, PathBuf)]) -> Vec<PathBuf> {
    aside
        .iter()
        .filter(|(_, a)| {
            let gone =
                Dir::for_file(a, None).and_then(|(dir, name)| remove(&dir, Path::new(&name)));
            gone.is_err()
        })
        .map(|(_, a)| a.clone())
        .collect()
}

#[cfg(test)]
mod tests;
