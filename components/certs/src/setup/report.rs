//! What `host setup` reports: the steps, and per path what changed.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use crate::step::Step;

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
