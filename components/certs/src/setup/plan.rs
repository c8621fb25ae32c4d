//! Planning `host setup`: every step's operations, computed with reads only. Everything
//! below the project is reached through `safe_fs` from the project directory: a link in
//! `certs/`, `data/` or `log/` paths is refused, never followed.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use safe_fs::{Dir, Kind, SkipReason};

use super::apply::Op;
use super::names::{SourceScan, copy_mode, le_split, scan_source};
use super::report::Step;
use crate::error::CertsError;
use crate::fsx;
use crate::options::{CertsOptions, Owner};

#[derive(Debug)]
pub(super) struct PlannedStep {
    pub(super) step: Step,
    pub(super) ops: Vec<Op>,
    pub(super) notes: Vec<String>,
}

pub(super) struct Planner<'a> {
    pub(super) opts: &'a CertsOptions,
    /// The project directory, opened once: every path below it is walked from here.
    pub(super) root: Dir,
    pub(super) certs: PathBuf,
    /// Content `certs/<name>` will have after the copy step.
    pub(super) copied: BTreeMap<String, Vec<u8>>,
}

type Ids = (Option<u32>, Option<u32>);
/// A derived file: name in `certs/`, content, mode, owner.
type Derived<'a> = (&'a str, Vec<u8>, u32, Ids);

fn certs_rel(name: &str) -> PathBuf {
    Path::new("certs").join(name)
}

impl Planner<'_> {
    fn owner(&self, o: Owner) -> Ids {
        if self.opts.skip_chown {
            (None, None)
        } else {
            (Some(o.uid), o.gid)
        }
    }

    fn write_op(
        &self,
        name: &str,
        content: Vec<u8>,
        mode: u32,
        owner: Ids,
    ) -> Result<Op, CertsError> {
        let rel = certs_rel(name);
        let diff = fsx::diff_file(&self.root, &rel, &content, mode, owner.0, owner.1)?;
        Ok(Op::Write {
            path: self.certs.join(name),
            rel,
            content,
            mode,
            uid: owner.0,
            gid: owner.1,
            diff,
        })
    }

    /// The copy step: regular files of `CERTS_SRC` (symlinks followed there: it is the
    /// operator's, e.g. Let's Encrypt's `live/` links; not recursive), Let's Encrypt names
    /// normalised (newest by mtime wins), numbered leftovers removed. Modes by content.
    fn plan_copy(&mut self) -> Result<PlannedStep, CertsError> {
        let SourceScan {
            targets,
            prefixes,
            notes,
        } = scan_source(&self.opts.certs_src)?;
        let mut ops = Vec::new();
        for (name, path) in targets {
            let content = std::fs::read(&path).map_err(|e| CertsError::read(&path, e))?;
            let mode = copy_mode(&name, &content);
            let owner = if name == "privkey.pem" {
                self.owner(self.opts.owners.grafana)
            } else {
                (None, None)
            };
            ops.push(self.write_op(&name, content.clone(), mode, owner)?);
            self.copied.insert(name, content);
        }
        // Numbered leftovers of the prefixes the source provides.
        let entries = match self.root.open_dir("certs").and_then(|d| d.entries()) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(CertsError::read(&self.certs, e)),
        };
        for (name, _) in entries {
            let Some(name) = name.to_str() else { continue };
            if let Some((prefix, Some(_))) = le_split(name)
                && prefixes.contains(&prefix)
            {
                ops.push(Op::Remove {
                    rel: certs_rel(name),
                });
            }
        }
        Ok(PlannedStep {
            step: Step::CopyCertificates,
            ops,
            notes,
        })
    }

    /// `certs/<name>` as it will be after the copy step (never read through a link).
    fn input(&self, name: &'static str) -> Result<Vec<u8>, CertsError> {
        if let Some(c) = self.copied.get(name) {
            return Ok(c.clone());
        }
        match self.root.read(certs_rel(name)) {
            Ok(c) => Ok(c),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(CertsError::MissingInput {
                name,
                source_dir: self.opts.certs_src.clone(),
                certs_dir: self.certs.clone(),
            }),
            Err(e) => Err(CertsError::read(self.certs.join(name), e)),
        }
    }

    /// A ThingsBoard directory (0750, its owner down the tree); notes name what is left
    /// alone (hard-linked files, mount points).
    fn plan_dir(&self, rel: &str, owner: Owner, notes: &mut Vec<String>) -> Result<Op, CertsError> {
        let path = self.opts.project_dir.join(rel);
        let (uid, gid) = self.owner(owner);
        let mode = 0o750;
        let read = |e| CertsError::read(&path, e);
        let (exists, mode_differs, owner_differs, reown) =
            match self.root.meta(rel).map_err(read)? {
                None => (false, true, true, Vec::new()),
                Some(m) if m.kind == Kind::Symlink => {
                    return Err(read(safe_fs::Refused::Symlink(path.clone()).into()));
                }
                Some(m) if m.kind != Kind::Dir => {
                    return Err(CertsError::write(
                        &path,
                        io::Error::other("exists and is not a directory"),
                    ));
                }
                Some(m) => {
                    let differs =
                        uid.is_some_and(|u| u != m.uid) || gid.is_some_and(|g| g != m.gid);
                    let mut reown = Vec::new();
                    if uid.is_some() || gid.is_some() {
                        let tree = self
                            .root
                            .open_dir(rel)
                            .and_then(|d| d.chown_tree(uid, gid, false))
                            .map_err(read)?;
                        reown = tree.changed.iter().map(|p| path.join(p)).collect();
                        notes.extend(tree.skipped.iter().map(|s| {
                            let why = match s.reason {
                                SkipReason::HardLinked => "it has other hard links",
                                SkipReason::OtherDevice => "it is a mount point (another device)",
                            };
                            format!("owner of {rel}/{} left alone: {why}", s.path.display())
                        }));
                    }
                    (true, m.mode != mode, differs, reown)
                }
            };
        Ok(Op::Dir {
            rel: PathBuf::from(rel),
            path,
            mode,
            uid,
            gid,
            exists,
            mode_differs,
            owner_differs,
            reown,
        })
    }

    pub(super) fn plan(&mut self) -> Result<Vec<PlannedStep>, CertsError> {
        let copy = self.plan_copy().map_err(fail(Step::CopyCertificates))?;
        let step = Step::Mongodb;
        let key = self.input("privkey.pem").map_err(fail(step))?;
        let chain = self.input("fullchain.pem").map_err(fail(step))?;
        let mut steps = vec![copy];
        steps.extend(self.plan_keys(&key, &chain)?);
        steps.push(
            self.plan_thingsboard(key, chain)
                .map_err(fail(Step::Thingsboard))?,
        );
        steps.push(self.plan_grafana().map_err(fail(Step::Grafana))?);
        Ok(steps)
    }

    /// Grafana runs as USERID:GROUPID (the image's non-root 472:0 by default) and writes
    /// data/grafana.
    fn plan_grafana(&self) -> Result<PlannedStep, CertsError> {
        let mut notes = Vec::new();
        let ops = vec![self.plan_dir("data/grafana", self.opts.owners.grafana, &mut notes)?];
        Ok(PlannedStep {
            step: Step::Grafana,
            ops,
            notes,
        })
    }

    /// MongoDB, InfluxDB, RabbitMQ and PostgreSQL: their copies of the key and chain.
    fn plan_keys(&self, key: &[u8], chain: &[u8]) -> Result<Vec<PlannedStep>, CertsError> {
        let owners = self.opts.owners;
        let mut combined = key.to_vec();
        if !combined.is_empty() && !combined.ends_with(b"\n") {
            combined.push(b'\n');
        }
        combined.extend_from_slice(chain);
        let pg = self.owner(owners.postgres);
        let chain_mode = safe_fs::mode_for(chain);
        let planned: [(Step, Vec<Derived>); 4] = [
            (
                Step::Mongodb,
                vec![("combined.pem", combined, 0o600, self.owner(owners.mongo))],
            ),
            (
                Step::Influxdb,
                vec![(
                    "privkey-influxdb.pem",
                    key.to_vec(),
                    0o600,
                    self.owner(owners.influx),
                )],
            ),
            (
                Step::Rabbitmq,
                vec![(
                    "privkey-rabbitmq.pem",
                    key.to_vec(),
                    0o600,
                    self.owner(owners.rabbit),
                )],
            ),
            (
                Step::Postgres,
                vec![
                    ("postgres.key", key.to_vec(), 0o600, pg),
                    ("postgres.crt", chain.to_vec(), chain_mode, pg),
                ],
            ),
        ];
        planned
            .into_iter()
            .map(|(step, files)| {
                let ops = files
                    .into_iter()
                    .map(|(name, content, mode, ids)| self.write_op(name, content, mode, ids))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(fail(step))?;
                Ok(PlannedStep {
                    step,
                    ops,
                    notes: Vec::new(),
                })
            })
            .collect()
    }

    fn plan_thingsboard(&self, key: Vec<u8>, chain: Vec<u8>) -> Result<PlannedStep, CertsError> {
        let owners = self.opts.owners;
        let tb = self.owner(owners.thingsboard);
        let mut notes = Vec::new();
        if self.opts.skip_chown {
            notes.push(format!(
                "owners left unchanged (--skip-chown): ThingsBoard runs as {}:{} and may be unable to use its files and directories",
                owners.thingsboard.uid,
                owners
                    .thingsboard
                    .gid
                    .map_or_else(|| "-".to_owned(), |g| g.to_string())
            ));
        }
        let chain_mode = safe_fs::mode_for(&chain);
        let ops = vec![
            self.write_op("thingsboard-privkey.pem", key, 0o600, tb)?,
            self.write_op("thingsboard-fullchain.pem", chain, chain_mode, tb)?,
            self.plan_dir("data/thingsboard", owners.thingsboard, &mut notes)?,
            self.plan_dir("log/thingsboard", owners.thingsboard, &mut notes)?,
        ];
        Ok(PlannedStep {
            step: Step::Thingsboard,
            ops,
            notes,
        })
    }
}

fn fail(step: Step) -> impl Fn(CertsError) -> CertsError {
    move |e| CertsError::StepFailed {
        step,
        finished: Vec::new(),
        source: Box::new(e),
    }
}
