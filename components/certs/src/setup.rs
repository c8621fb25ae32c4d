//! `host setup`: plan every step first (reads only), check privileges, then apply step by
//! step with atomic writes. Unchanged files are never written.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::error::CertsError;
use crate::fsx::{self, Diff};
use crate::options::{CertsOptions, Owner};

/// The steps of `host setup`, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    CopyCertificates,
    Mongodb,
    Influxdb,
    Rabbitmq,
    Postgres,
    Thingsboard,
    Grafana,
}

impl Step {
    /// All steps in the order they run.
    pub const ALL: [Step; 7] = [
        Step::CopyCertificates,
        Step::Mongodb,
        Step::Influxdb,
        Step::Rabbitmq,
        Step::Postgres,
        Step::Thingsboard,
        Step::Grafana,
    ];

    /// The human label ("Configuring MongoDB").
    pub fn label(self) -> &'static str {
        match self {
            Step::CopyCertificates => "Copying certificates",
            Step::Mongodb => "Configuring MongoDB",
            Step::Influxdb => "Configuring InfluxDB",
            Step::Rabbitmq => "Configuring RabbitMQ",
            Step::Postgres => "Configuring PostgreSQL",
            Step::Thingsboard => "Configuring ThingsBoard",
            Step::Grafana => "Configuring Grafana",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What happened (or, in a dry run, would happen) to one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Remove,
    Unchanged,
}

/// Which aspects of an existing path differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aspect {
    Content,
    Mode,
    Owner,
}

/// One path of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// Relative to the project directory, e.g. `certs/combined.pem`.
    pub path: PathBuf,
    pub action: Action,
    /// For [`Action::Update`]: what differs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<Aspect>,
    /// Octal mode the path has after the step, e.g. `0600`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// `uid:gid` (or `uid`) the path is given; absent when the owner is left alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl FileReport {
    /// One line, e.g. `certs/privkey.pem updated [mode] (0600, 472:472)`; in a dry run
    /// "would be created/updated/removed".
    pub fn describe(&self, dry_run: bool) -> String {
        let verb = match (self.action, dry_run) {
            (Action::Create, false) => "created",
            (Action::Create, true) => "would be created",
            (Action::Update, false) => "updated",
            (Action::Update, true) => "would be updated",
            (Action::Remove, false) => "removed",
            (Action::Remove, true) => "would be removed",
            (Action::Unchanged, _) => "unchanged",
        };
        let mut s = format!("{} {verb}", self.path.display());
        if !self.changed.is_empty() {
            let what: Vec<&str> = self
                .changed
                .iter()
                .map(|a| match a {
                    Aspect::Content => "content",
                    Aspect::Mode => "mode",
                    Aspect::Owner => "owner",
                })
                .collect();
            s.push_str(&format!(" [{}]", what.join(", ")));
        }
        let mut attrs = Vec::new();
        if self.action != Action::Remove {
            attrs.extend(self.mode.clone());
            attrs.extend(self.owner.clone());
        }
        if !attrs.is_empty() {
            s.push_str(&format!(" ({})", attrs.join(", ")));
        }
        s
    }
}

/// One step of `host setup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    pub step: Step,
    pub files: Vec<FileReport>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl StepReport {
    /// True when the step changed (or would change) something.
    pub fn changed(&self) -> bool {
        self.files.iter().any(|f| f.action != Action::Unchanged)
    }

    /// One line: "unchanged", or what changed, e.g.
    /// `certs/combined.pem created (0600, 999:999)`.
    pub fn summary(&self, dry_run: bool) -> String {
        if !self.changed() {
            return "unchanged".to_owned();
        }
        let parts: Vec<String> = self
            .files
            .iter()
            .filter(|f| f.action != Action::Unchanged)
            .map(|f| f.describe(dry_run))
            .collect();
        parts.join("; ")
    }
}

/// The result of `host setup` (also of a dry run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetupReport {
    pub dry_run: bool,
    pub steps: Vec<StepReport>,
    /// Dry run only: paths whose owner change needs root (a real run would refuse).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub needs_root: Vec<PathBuf>,
}

impl SetupReport {
    /// True when any step changed (or would change) something.
    pub fn changed(&self) -> bool {
        self.steps.iter().any(StepReport::changed)
    }

    /// Paths (relative to the project) that changed or would change.
    pub fn changed_paths(&self) -> Vec<&Path> {
        self.steps
            .iter()
            .flat_map(|s| &s.files)
            .filter(|f| f.action != Action::Unchanged)
            .map(|f| f.path.as_path())
            .collect()
    }
}

impl fmt::Display for SetupReport {
    /// `<Step>: unchanged`, or `<Step>:` followed by one indented line per changed path;
    /// then the step's notes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            if s.changed() {
                writeln!(f, "{}:", s.step.label())?;
                for file in s.files.iter().filter(|x| x.action != Action::Unchanged) {
                    writeln!(f, "  {}", file.describe(self.dry_run))?;
                }
            } else {
                writeln!(f, "{}: unchanged", s.step.label())?;
            }
            for n in &s.notes {
                writeln!(f, "  note: {n}")?;
            }
        }
        if !self.needs_root.is_empty() {
            writeln!(f, "needs root to change owners of:")?;
            for p in &self.needs_root {
                writeln!(f, "  {}", p.display())?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Planning

const LE_PREFIXES: [&str; 4] = ["privkey", "fullchain", "cert", "chain"];

/// Files `host setup` derives; never copied from `CERTS_SRC`.
pub(crate) const DERIVED: [&str; 7] = [
    "combined.pem",
    "privkey-influxdb.pem",
    "privkey-rabbitmq.pem",
    "postgres.key",
    "postgres.crt",
    "thingsboard-privkey.pem",
    "thingsboard-fullchain.pem",
];

/// `privkey.pem` -> (`privkey`, None); `privkey12.pem` -> (`privkey`, Some(12)).
pub(crate) fn le_split(name: &str) -> Option<(&'static str, Option<u64>)> {
    let stem = name.strip_suffix(".pem")?;
    LE_PREFIXES.iter().find_map(|p| {
        let rest = stem.strip_prefix(p)?;
        if rest.is_empty() {
            Some((*p, None))
        } else if rest.bytes().all(|b| b.is_ascii_digit()) {
            rest.parse().ok().map(|n| (*p, Some(n)))
        } else {
            None
        }
    })
}

pub(crate) fn is_key(name: &str, content: &[u8]) -> bool {
    name.ends_with(".key")
        || content
            .windows(b"PRIVATE KEY-----".len())
            .any(|w| w == b"PRIVATE KEY-----")
}

#[derive(Debug)]
enum Op {
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
    fn is_unchanged(&self) -> bool {
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
    fn chown_targets(&self, euid: u32, egid: u32) -> Vec<PathBuf> {
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

    fn report(&self) -> FileReport {
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

    fn apply(&self) -> Result<(), CertsError> {
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

#[derive(Debug)]
struct PlannedStep {
    step: Step,
    ops: Vec<Op>,
    notes: Vec<String>,
}

struct Planner<'a> {
    opts: &'a CertsOptions,
    certs: PathBuf,
    /// Content `certs/<name>` will have after the copy step.
    copied: BTreeMap<String, Vec<u8>>,
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

    fn plan(&mut self) -> Result<Vec<PlannedStep>, CertsError> {
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

/// What `CERTS_SRC` provides.
#[derive(Debug)]
pub(crate) struct SourceScan {
    /// (name in `certs/`, source path), sorted by name.
    pub(crate) targets: Vec<(String, PathBuf)>,
    /// The Let's Encrypt prefixes found (`privkey`, ...).
    pub(crate) prefixes: Vec<&'static str>,
    pub(crate) notes: Vec<String>,
}

/// Lists what the copy step takes from `src`: regular files (symlinks followed, not
/// recursive), Let's Encrypt names normalised (`<prefix>.pem` / `<prefix><N>.pem`: newest by
/// mtime wins, ties go to the unnumbered name, then the highest number), derived names skipped.
pub(crate) fn scan_source(src: &Path) -> Result<SourceScan, CertsError> {
    if !src.is_dir() {
        return Err(CertsError::SourceMissing {
            dir: src.to_path_buf(),
        });
    }
    let mut notes = Vec::new();
    let mut targets: Vec<(String, PathBuf)> = Vec::new();
    // prefix -> (mtime, rank (unnumbered ranks highest), path)
    let mut le: BTreeMap<&'static str, (SystemTime, u64, PathBuf)> = BTreeMap::new();
    let entries = fs::read_dir(src).map_err(|e| CertsError::read(src, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| CertsError::read(src, e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            notes.push(format!("skipped {} (name is not UTF-8)", path.display()));
            continue;
        };
        // Follows symlinks: a dangling link is an unreadable source, not something to skip.
        let meta = fs::metadata(&path).map_err(|e| CertsError::read(&path, e))?;
        if !meta.is_file() {
            continue;
        }
        if DERIVED.contains(&name.as_str()) {
            notes.push(format!(
                "skipped {name} from the source: host setup derives it"
            ));
            continue;
        }
        match le_split(&name) {
            Some((prefix, number)) => {
                let mtime = meta.modified().map_err(|e| CertsError::read(&path, e))?;
                let rank = number.unwrap_or(u64::MAX);
                let better = le
                    .get(prefix)
                    .is_none_or(|(t, r, _)| (mtime, rank) > (*t, *r));
                if better {
                    le.insert(prefix, (mtime, rank, path));
                }
            }
            None => targets.push((name, path)),
        }
    }
    let prefixes = le.keys().copied().collect();
    targets.extend(
        le.into_iter()
            .map(|(prefix, (_, _, path))| (format!("{prefix}.pem"), path)),
    );
    targets.sort();
    notes.sort();
    Ok(SourceScan {
        targets,
        prefixes,
        notes,
    })
}

/// Entries below `dir` (not following symlinks) whose owner differs.
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

/// Runs `host setup` as the current process (root decided by the effective uid).
pub fn host_setup(opts: &CertsOptions) -> Result<SetupReport, CertsError> {
    host_setup_as(opts, nix::unistd::geteuid().is_root())
}

/// [`host_setup`] with the privilege decided by the caller: when `is_root` is false and a
/// file needs another owner (and `skip_chown` is off), it fails with
/// [`CertsError::NeedsRoot`] before changing anything.
pub fn host_setup_as(opts: &CertsOptions, is_root: bool) -> Result<SetupReport, CertsError> {
    let mut planner = Planner {
        opts,
        certs: opts.certs_dir(),
        copied: BTreeMap::new(),
    };
    let plan = planner.plan()?;

    let mut needs_root = Vec::new();
    if !is_root && !opts.skip_chown {
        let euid = nix::unistd::geteuid().as_raw();
        let egid = nix::unistd::getegid().as_raw();
        needs_root = plan
            .iter()
            .flat_map(|s| &s.ops)
            .flat_map(|op| op.chown_targets(euid, egid))
            .collect();
        if !needs_root.is_empty() && !opts.dry_run {
            return Err(CertsError::NeedsRoot { paths: needs_root });
        }
    }

    let mut finished = Vec::new();
    let mut steps = Vec::new();
    for planned in plan {
        if !opts.dry_run {
            for op in &planned.ops {
                op.apply().map_err(|e| CertsError::StepFailed {
                    step: planned.step,
                    finished: finished.clone(),
                    source: Box::new(e),
                })?;
            }
        }
        finished.push(planned.step);
        steps.push(StepReport {
            step: planned.step,
            files: planned.ops.iter().map(Op::report).collect(),
            notes: planned.notes,
        });
    }
    Ok(SetupReport {
        dry_run: opts.dry_run,
        steps,
        needs_root,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn le_names() {
        assert_eq!(le_split("privkey.pem"), Some(("privkey", None)));
        assert_eq!(le_split("privkey12.pem"), Some(("privkey", Some(12))));
        assert_eq!(le_split("fullchain3.pem"), Some(("fullchain", Some(3))));
        assert_eq!(le_split("chain.pem"), Some(("chain", None)));
        assert_eq!(le_split("cert1.pem"), Some(("cert", Some(1))));
        assert_eq!(le_split("privkey-influxdb.pem"), None);
        assert_eq!(le_split("certificate.pem"), None);
        assert_eq!(le_split("privkey1.key"), None);
        assert_eq!(le_split("ca.pem"), None);
    }

    #[test]
    fn key_detection() {
        assert!(is_key("x.pem", b"-----BEGIN PRIVATE KEY-----\n"));
        assert!(is_key("x.pem", b"-----BEGIN EC PRIVATE KEY-----\n"));
        assert!(is_key("postgres.key", b""));
        assert!(!is_key("fullchain.pem", b"-----BEGIN CERTIFICATE-----\n"));
    }

    #[test]
    fn step_labels() {
        let labels: Vec<_> = Step::ALL.iter().map(|s| s.label()).collect();
        assert_eq!(
            labels,
            [
                "Copying certificates",
                "Configuring MongoDB",
                "Configuring InfluxDB",
                "Configuring RabbitMQ",
                "Configuring PostgreSQL",
                "Configuring ThingsBoard",
                "Configuring Grafana"
            ]
        );
    }
}
