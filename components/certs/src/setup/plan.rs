//! Planning `host setup`: every step's operations, computed with reads only.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::apply::Op;
use super::names::{SourceScan, is_key, le_split, scan_source};
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
    pub(super) certs: PathBuf,
    /// Content `certs/<name>` will have after the copy step.
    pub(super) copied: BTreeMap<String, Vec<u8>>,
}

impl Planner<'_> {
    fn owner(&self, o: Owner) -> (Option<u32>, Option<u32>) {
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
        owner: (Option<u32>, Option<u32>),
    ) -> Result<Op, CertsError> {
        let path = self.certs.join(name);
        let diff = fsx::diff_file(&path, &content, mode, owner.0, owner.1)?;
        Ok(Op::Write {
            rel: Path::new("certs").join(name),
            path,
            content,
            mode,
            uid: owner.0,
            gid: owner.1,
            diff,
        })
    }

    /// The copy step: regular files of `CERTS_SRC` (symlinks followed, not recursive), Let's
    /// Encrypt names normalised (newest by mtime wins), numbered leftovers removed.
    fn plan_copy(&mut self) -> Result<PlannedStep, CertsError> {
        let SourceScan {
            targets,
            prefixes,
            notes,
        } = scan_source(&self.opts.certs_src)?;
        let mut ops = Vec::new();
        for (name, path) in targets {
            let content = fs::read(&path).map_err(|e| CertsError::read(&path, e))?;
            let key = is_key(&name, &content);
            let mode = if key { 0o600 } else { 0o644 };
            let owner = if name == "privkey.pem" {
                self.owner(self.opts.owners.grafana)
            } else {
                (None, None)
            };
            ops.push(self.write_op(&name, content.clone(), mode, owner)?);
            self.copied.insert(name, content);
        }
        // Numbered leftovers of the prefixes the source provides.
        match fs::read_dir(&self.certs) {
            Ok(entries) => {
                let mut leftovers = Vec::new();
                for entry in entries {
                    let entry = entry.map_err(|e| CertsError::read(&self.certs, e))?;
                    let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                        continue;
                    };
                    if let Some((prefix, Some(_))) = le_split(&name)
                        && prefixes.contains(&prefix)
                    {
                        leftovers.push(name);
                    }
                }
                leftovers.sort();
                for name in leftovers {
                    ops.push(Op::Remove {
                        rel: Path::new("certs").join(&name),
                        path: self.certs.join(&name),
                    });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(CertsError::read(&self.certs, e)),
        }
        Ok(PlannedStep {
            step: Step::CopyCertificates,
            ops,
            notes,
        })
    }

    /// `certs/<name>` as it will be after the copy step.
    fn input(&self, name: &'static str) -> Result<Vec<u8>, CertsError> {
        if let Some(c) = self.copied.get(name) {
            return Ok(c.clone());
        }
        let path = self.certs.join(name);
        match fs::read(&path) {
            Ok(c) => Ok(c),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(CertsError::MissingInput {
                name,
                source_dir: self.opts.certs_src.clone(),
                certs_dir: self.certs.clone(),
            }),
            Err(e) => Err(CertsError::read(path, e)),
        }
    }

    fn plan_dir(&self, rel: &str, owner: Owner) -> Result<Op, CertsError> {
        let path = self.opts.project_dir.join(rel);
        let (uid, gid) = self.owner(owner);
        let mode = 0o750;
        let (exists, mode_differs, owner_differs, reown) = match fs::symlink_metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => (false, true, true, Vec::new()),
            Err(e) => return Err(CertsError::read(&path, e)),
            Ok(m) if !m.is_dir() => {
                return Err(CertsError::write(
                    &path,
                    io::Error::other("exists and is not a directory"),
                ));
            }
            Ok(m) => {
                let differs = |m: &fs::Metadata| {
                    uid.is_some_and(|u| u != m.uid()) || gid.is_some_and(|g| g != m.gid())
                };
                let mut reown = Vec::new();
                if uid.is_some() || gid.is_some() {
                    collect_foreign(&path, &differs, &mut reown)?;
                }
                (true, m.mode() & 0o7777 != mode, differs(&m), reown)
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
        let fail = |step: Step| {
            move |e: CertsError| CertsError::StepFailed {
                step,
                finished: Vec::new(),
                source: Box::new(e),
            }
        };
        let mut steps = vec![self.plan_copy().map_err(fail(Step::CopyCertificates))?];
        let owners = self.opts.owners;

        let step = Step::Mongodb;
        let key = self.input("privkey.pem").map_err(fail(step))?;
        let chain = self.input("fullchain.pem").map_err(fail(step))?;
        let mut combined = key.clone();
        if !combined.is_empty() && !combined.ends_with(b"\n") {
            combined.push(b'\n');
        }
        combined.extend_from_slice(&chain);
        steps.push(PlannedStep {
            step,
            ops: vec![
                self.write_op("combined.pem", combined, 0o600, self.owner(owners.mongo))
                    .map_err(fail(step))?,
            ],
            notes: Vec::new(),
        });

        let step = Step::Influxdb;
        steps.push(PlannedStep {
            step,
            ops: vec![
                self.write_op(
                    "privkey-influxdb.pem",
                    key.clone(),
                    0o600,
                    self.owner(owners.influx),
                )
                .map_err(fail(step))?,
            ],
            notes: Vec::new(),
        });

        let step = Step::Rabbitmq;
        steps.push(PlannedStep {
            step,
            ops: vec![
                self.write_op(
                    "privkey-rabbitmq.pem",
                    key.clone(),
                    0o600,
                    self.owner(owners.rabbit),
                )
                .map_err(fail(step))?,
            ],
            notes: Vec::new(),
        });

        let step = Step::Postgres;
        let pg = self.owner(owners.postgres);
        steps.push(PlannedStep {
            step,
            ops: vec![
                self.write_op("postgres.key", key.clone(), 0o600, pg)
                    .map_err(fail(step))?,
                self.write_op("postgres.crt", chain.clone(), 0o644, pg)
                    .map_err(fail(step))?,
            ],
            notes: Vec::new(),
        });

        let step = Step::Thingsboard;
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
        steps.push(PlannedStep {
            step,
            ops: vec![
                self.write_op("thingsboard-privkey.pem", key, 0o600, tb)
                    .map_err(fail(step))?,
                self.write_op("thingsboard-fullchain.pem", chain, 0o644, tb)
                    .map_err(fail(step))?,
                self.plan_dir("data/thingsboard", owners.thingsboard)
                    .map_err(fail(step))?,
                self.plan_dir("log/thingsboard", owners.thingsboard)
                    .map_err(fail(step))?,
            ],
            notes,
        });

        // Grafana runs as USERID:GROUPID (the image's non-root 472:0 by default) and writes
        // data/grafana.
        let step = Step::Grafana;
        steps.push(PlannedStep {
            step,
            ops: vec![
                self.plan_dir("data/grafana", owners.grafana)
                    .map_err(fail(step))?,
            ],
            notes: Vec::new(),
        });
        Ok(steps)
    }
}

fn collect_foreign(
    dir: &Path,
    differs: &dyn Fn(&fs::Metadata) -> bool,
    out: &mut Vec<PathBuf>,
) -> Result<(), CertsError> {
    let entries = fs::read_dir(dir).map_err(|e| CertsError::read(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| CertsError::read(dir, e))?;
        let path = entry.path();
        let meta = fs::symlink_metadata(&path).map_err(|e| CertsError::read(&path, e))?;
        if differs(&meta) {
            out.push(path.clone());
        }
        if meta.is_dir() {
            collect_foreign(&path, differs, out)?;
        }
    }
    Ok(())
}
