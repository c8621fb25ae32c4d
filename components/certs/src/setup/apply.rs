//! One planned operation: whether it changes anything, who it needs root for, its report
//! line, and applying it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

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
        path: PathBuf,
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
        /// Entries below the directory whose owner differs.
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
        let owner_str = |uid: Option<u32>, gid: Option<u32>| match (uid, gid) {
            (Some(u), Some(g)) => Some(format!("{u}:{g}")),
            (Some(u), None) => Some(u.to_string()),
            (None, Some(g)) => Some(format!(":{g}")),
            (None, None) => None,
        };
        match self {
            Op::Write {
                rel,
                mode,
                uid,
                gid,
                diff,
                ..
            } => {
                let action = if !diff.exists {
                    Action::Create
                } else if diff.is_unchanged() {
                    Action::Unchanged
                } else {
                    Action::Update
                };
                let mut changed = Vec::new();
                if action == Action::Update {
                    if diff.content {
                        changed.push(Aspect::Content);
                    }
                    if diff.mode {
                        changed.push(Aspect::Mode);
                    }
                    if diff.owner {
                        changed.push(Aspect::Owner);
                    }
                }
                FileReport {
                    path: rel.clone(),
                    action,
                    changed,
                    mode: Some(format!("{mode:04o}")),
                    owner: owner_str(*uid, *gid),
                }
            }
            Op::Remove { rel, .. } => FileReport {
                path: rel.clone(),
                action: Action::Remove,
                changed: Vec::new(),
                mode: None,
                owner: None,
            },
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
            } => {
                let action = if !exists {
                    Action::Create
                } else if self.is_unchanged() {
                    Action::Unchanged
                } else {
                    Action::Update
                };
                let mut changed = Vec::new();
                if action == Action::Update {
                    if *mode_differs {
                        changed.push(Aspect::Mode);
                    }
                    if *owner_differs || !reown.is_empty() {
                        changed.push(Aspect::Owner);
                    }
                }
                FileReport {
                    path: rel.clone(),
                    action,
                    changed,
                    mode: Some(format!("{mode:04o}")),
                    owner: owner_str(*uid, *gid),
                }
            }
        }
    }

    pub(super) fn apply(&self) -> Result<(), CertsError> {
        match self {
            Op::Write {
                path,
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
                if let Some(dir) = path.parent() {
                    fsx::ensure_dir(dir)?;
                }
                fsx::write_atomic(path, content, *mode, *uid, gid)
            }
            Op::Remove { path, .. } => fsx::remove_file(path),
            Op::Dir {
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
                fsx::ensure_dir(path)?;
                fs::set_permissions(path, fs::Permissions::from_mode(*mode))
                    .map_err(|e| CertsError::write(path, e))?;
                if uid.is_some() || gid.is_some() {
                    std::os::unix::fs::lchown(path, *uid, *gid)
                        .map_err(|e| CertsError::write(path, e))?;
                    for p in reown {
                        std::os::unix::fs::lchown(p, *uid, *gid)
                            .map_err(|e| CertsError::write(p, e))?;
                    }
                }
                Ok(())
            }
        }
    }
}
