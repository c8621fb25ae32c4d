//! One planned operation: whether it changes anything, who it needs root for, its report
//! line, and applying it.

use std::path::PathBuf;

use safe_fs::Dir;

use super::report::{Action, Aspect, FileReport};
use crate::error::CertsError;
use crate::fsx::{self, Diff};

#[derive(Debug)]
pub(super) enum Op {
    Write {
        rel: PathBuf,
        path: PathBuf,
        content: Vec<u8>,
        mode: u32,
        uid: Option<u32>,
        gid: Option<u32>,
        diff: Diff,
    },
    Remove {
        rel: PathBuf,
    },
    Dir {
        rel: PathBuf,
        path: PathBuf,
        mode: u32,
        uid: Option<u32>,
        gid: Option<u32>,
        exists: bool,
        mode_differs: bool,
        owner_differs: bool,
        /// Entries below the directory whose owner differs (links as links; hard-linked
        /// files and mount points are left alone, see the step's notes).
        reown: Vec<PathBuf>,
    },
}

impl Op {
    pub(super) fn is_unchanged(&self) -> bool {
        match self {
            Op::Write { diff, .. } => diff.is_unchanged(),
            Op::Remove { .. } => false,
            Op::Dir {
                exists,
                mode_differs,
                owner_differs,
                reown,
                ..
            } => *exists && !mode_differs && !owner_differs && reown.is_empty(),
        }
    }

    /// Paths this op would chown to another owner than the process's.
    pub(super) fn chown_targets(&self, euid: u32, egid: u32) -> Vec<PathBuf> {
        if self.is_unchanged() {
            return Vec::new();
        }
        let foreign = |uid: Option<u32>, gid: Option<u32>| {
            uid.is_some_and(|u| u != euid) || gid.is_some_and(|g| g != egid)
        };
        match self {
            Op::Write { path, uid, gid, .. } if foreign(*uid, *gid) => vec![path.clone()],
            Op::Dir {
                path,
                uid,
                gid,
                exists,
                owner_differs,
                reown,
                ..
            } if foreign(*uid, *gid) => {
                let mut v = Vec::new();
                if !*exists || *owner_differs {
                    v.push(path.clone());
                }
                v.extend(reown.iter().cloned());
                v
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn report(&self) -> FileReport {
        let (rel, exists, mode, uid, gid, differs) = match self {
            Op::Remove { rel } => {
                return FileReport {
                    path: rel.clone(),
                    action: Action::Remove,
                    changed: Vec::new(),
                    mode: None,
                    owner: None,
                };
            }
            Op::Write {
                rel,
                mode,
                uid,
                gid,
                diff,
                ..
            } => (
                rel,
                diff.exists,
                mode,
                uid,
                gid,
                [diff.content, diff.mode, diff.owner],
            ),
            Op::Dir {
                rel,
                mode,
                uid,
                gid,
                exists,
                mode_differs,
                owner_differs,
                reown,
                ..
            } => (
                rel,
                *exists,
                mode,
                uid,
                gid,
                [false, *mode_differs, *owner_differs || !reown.is_empty()],
            ),
        };
        let action = if !exists {
            Action::Create
        } else if self.is_unchanged() {
            Action::Unchanged
        } else {
            Action::Update
        };
        let changed = if action == Action::Update {
            [Aspect::Content, Aspect::Mode, Aspect::Owner]
                .into_iter()
                .zip(differs)
                .filter_map(|(a, d)| d.then_some(a))
                .collect()
        } else {
            Vec::new()
        };
        let owner = match (uid, gid) {
            (Some(u), Some(g)) => Some(format!("{u}:{g}")),
            (Some(u), None) => Some(u.to_string()),
            (None, Some(g)) => Some(format!(":{g}")),
            (None, None) => None,
        };
        FileReport {
            path: rel.clone(),
            action,
            changed,
            mode: Some(format!("{mode:04o}")),
            owner,
        }
    }

    /// Apply through `root`, the project directory: nothing below it is followed.
    pub(super) fn apply(&self, root: &Dir) -> Result<(), CertsError> {
        match self {
            Op::Write {
                rel,
                content,
                mode,
                uid,
                gid,
                diff,
                ..
            } => {
                if diff.is_unchanged() {
                    return Ok(());
                }
                // "group unchanged": keep the group of the file being replaced.
                let gid = gid.or(if uid.is_some() {
                    diff.current_gid
                } else {
                    None
                });
                fsx::write_atomic(root, rel, content, *mode, *uid, gid)
            }
            Op::Remove { rel, .. } => fsx::remove_file(root, rel),
            Op::Dir {
                rel,
                path,
                mode,
                uid,
                gid,
                reown,
                ..
            } => {
                if self.is_unchanged() {
                    return Ok(());
                }
                let err = |e| CertsError::write(path, e);
                // Parents (`data/`, `log/`) as any directory is made; the dir itself `mode`.
                if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
                    root.create_dir_all(parent, 0o755).map_err(err)?;
                }
                let dir = root.create_dir_all(rel, *mode).map_err(err)?;
                dir.set_mode(*mode).map_err(err)?;
                if uid.is_some() || gid.is_some() {
                    dir.set_owner(*uid, *gid).map_err(err)?;
                    if !reown.is_empty() {
                        dir.chown_tree(*uid, *gid, true).map_err(err)?;
                    }
                }
                Ok(())
            }
        }
    }
}
