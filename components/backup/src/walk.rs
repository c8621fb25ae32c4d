//! What a backup archives of a service's state paths, read through `safe_fs` (no link
//! followed, every file opened no-follow from its own directory) in two passes: [`plan`]
//! lists the tree and decides, [`append`] writes the archive.
//!
//! What is archived and what is left out (docs/data-safety.md, "What an archive holds"):
//!
//! - directories and regular files, with modes, owners and mtimes;
//! - a symbolic link whose target stays inside the same state path
//!   (`safe_fs::link_stays_within`: relative, no `..` above the path or after a name), as a
//!   link: a restore creates it again;
//! - left out, each listed in the backup's manifest with why: sockets and FIFOs (runtime
//!   objects a service makes again when it starts, e.g. GitLab's
//!   `gitlab-workhorse/sockets/socket`, `gitlab-rails/sockets/gitlab.socket`,
//!   `redis/redis.socket`, `postgresql/.s.PGSQL.5432`), devices, and symbolic links that
//!   point outside the state path (absolute targets included: they name the host's files,
//!   not the container's);
//! - a regular file with more than one hard link is archived (as a file of its own) only
//!   when all its names are inside the archived paths; otherwise the backup is refused,
//!   naming it, because its other name may be outside the project.
//!
//! Upstream: github.com/gitlabhq/omnibus-gitlab files/gitlab-cookbooks/gitlab/attributes/default.rb
//! (`redis.unixsocket` `/var/opt/gitlab/redis/redis.socket`, the Rails socket
//! `/var/opt/gitlab/gitlab-rails/sockets/gitlab.socket`, PostgreSQL's directory
//! `/var/opt/gitlab/postgresql`, where its `.s.PGSQL.5432` socket lives), and
//! spec/chef/cookbooks/gitlab/libraries/workhorse_spec.rb (the default
//! `/var/opt/gitlab/gitlab-workhorse/sockets/socket`).

use std::collections::HashMap;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use safe_fs::{Dir, Kind, Meta, Open};

use crate::BackupError;
use crate::error::io_err;
use crate::manifest::LeftOut;

/// One entry to archive: its name in the archive (project-relative) and what it is.
struct Item {
    name: PathBuf,
    meta: Meta,
    /// The target of a kept link.
    link: Option<PathBuf>,
}

/// What [`plan`] decided.
pub(crate) struct Plan {
    items: Vec<Item>,
    pub(crate) left_out: Vec<LeftOut>,
}

/// Hard-linked files met: (dev, ino) → (links the file has, names met, first name).
type HardLinks = HashMap<(u64, u64), (u64, u64, PathBuf)>;

/// List `paths` below the project `root`, deciding what is archived.
///
/// # Errors
/// [`BackupError::Io`] naming the path: a state path that is a link, a hard-linked file
/// with a name outside the paths, file-system errors.
pub(crate) fn plan(root: &Dir, paths: &[String]) -> Result<Plan, BackupError> {
    let mut plan = Plan {
        items: Vec::new(),
        left_out: Vec::new(),
    };
    let mut hard = HardLinks::new();
    for p in paths {
        let base = Path::new(p);
        let dir = root
            .open_dir(base)
            .map_err(|e| io_err(root.path().join(base), &e))?;
        let meta = dir.own_meta().map_err(|e| io_err(dir.path(), &e))?;
        plan.items.push(Item {
            name: base.to_owned(),
            meta,
            link: None,
        });
        visit(&dir, base, Path::new(""), &mut plan, &mut hard)?;
    }
    for (links, seen, name) in hard.values() {
        if seen < links {
            return Err(BackupError::Io {
                path: root.path().join(name),
                message: format!(
                    "has {links} hard links and only {seen} of them are in the state paths: refusing to archive it (another of its names may be outside the project; copy it to a file of its own)"
                ),
            });
        }
    }
    Ok(plan)
}

/// The entries below `dir` (`base`/`rel` in the project), depth first, sorted by name.
fn visit(
    dir: &Dir,
    base: &Path,
    rel: &Path,
    plan: &mut Plan,
    hard: &mut HardLinks,
) -> Result<(), BackupError> {
    let entries = dir.entries().map_err(|e| io_err(dir.path(), &e))?;
    for (name, meta) in entries {
        let rel = rel.join(&name);
        let archived = base.join(&rel);
        let mut link = None;
        match meta.kind {
            Kind::Dir | Kind::File => {}
            Kind::Symlink => {
                let target = dir
                    .read_link(&name)
                    .map_err(|e| io_err(dir.path().join(&name), &e))?;
                if !safe_fs::link_stays_within(&rel, &target) {
                    plan.left_out.push(LeftOut {
                        path: archived.display().to_string(),
                        reason: format!(
                            "a symbolic link to {}, outside {}: not archived",
                            target.display(),
                            base.display()
                        ),
                    });
                    continue;
                }
                link = Some(target);
            }
            Kind::Fifo | Kind::Socket | Kind::Device => {
                plan.left_out.push(LeftOut {
                    path: archived.display().to_string(),
                    reason: format!(
                        "{}, a runtime object the service makes again: not archived",
                        meta.kind.describe()
                    ),
                });
                continue;
            }
        }
        if meta.kind == Kind::File && meta.nlink > 1 {
            let e = hard
                .entry((meta.dev, meta.ino))
                .or_insert((meta.nlink, 0, archived.clone()));
            e.1 += 1;
        }
        plan.items.push(Item {
            name: archived,
            meta,
            link,
        });
        if meta.kind == Kind::Dir {
            let sub = dir
                .open_dir(&name)
                .map_err(|e| io_err(dir.path().join(&name), &e))?;
            visit(&sub, base, &rel, plan, hard)?;
        }
    }
    Ok(())
}

/// A tar header for `meta` (mode, owner, mtime; the size is the caller's).
fn header(meta: &Meta, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(meta.mode);
    h.set_uid(u64::from(meta.uid));
    h.set_gid(u64::from(meta.gid));
    h.set_mtime(u64::try_from(meta.mtime).unwrap_or(0));
    h.set_size(0);
    h
}

/// Write the planned entries to `tar`, each file opened no-follow from the project and
/// checked to be the one planned.
///
/// # Errors
/// [`BackupError::Io`] naming the path.
pub(crate) fn append<W: io::Write>(
    tar: &mut tar::Builder<W>,
    root: &Dir,
    plan: &Plan,
) -> Result<(), BackupError> {
    for item in &plan.items {
        let path = root.path().join(&item.name);
        let err = |e: io::Error| io_err(&path, &e);
        match (&item.link, item.meta.kind) {
            (Some(target), _) => {
                let mut h = header(&item.meta, tar::EntryType::Symlink);
                tar.append_link(&mut h, &item.name, target).map_err(err)?;
            }
            (None, Kind::Dir) => {
                let mut h = header(&item.meta, tar::EntryType::Directory);
                tar.append_data(&mut h, &item.name, io::empty())
                    .map_err(err)?;
            }
            (None, _) => {
                let file = root
                    .open(&item.name, Open::read_hard_linked())
                    .map_err(err)?;
                let m = file.metadata().map_err(err)?;
                let now = {
                    use std::os::unix::fs::MetadataExt;
                    (m.dev(), m.ino(), m.nlink())
                };
                if now != (item.meta.dev, item.meta.ino, item.meta.nlink) {
                    return Err(err(io::Error::other(
                        "was replaced while the backup ran; nothing is written",
                    )));
                }
                let mut h = header(&item.meta, tar::EntryType::Regular);
                h.set_size(m.len());
                tar.append_data(&mut h, &item.name, file.take(m.len()))
                    .map_err(err)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
