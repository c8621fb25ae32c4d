use std::path::{Path, PathBuf};

use safe_fs::{Dir, Kind};

use crate::templates::{FROM_TEMPLATE, PROTECTED, TEMPLATES, Template};

/// Why a project could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("failed to generate project: {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to generate project: {0} exists and is not a directory")]
    NotADirectory(PathBuf),
}

/// What generation did to one item.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", content = "path", rename_all = "kebab-case")]
pub enum Event {
    /// A top-level item was created (`dir/` for directories).
    Created(String),
    /// A top-level item exists and was left alone.
    Skipped(String),
    /// A top-level item was refreshed from the templates (`--force`).
    Overwrote(String),
    /// A protected file was kept (`--force`).
    Kept(String),
    /// A config file was created from its `.template`.
    FromTemplate(String),
}

/// The result of [`generate`].
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct GenerateReport {
    pub dir: PathBuf,
    pub events: Vec<Event>,
}

impl GenerateReport {
    /// Whether anything was overwritten.
    #[must_use]
    pub fn overwrote(&self) -> bool {
        self.events.iter().any(|e| matches!(e, Event::Overwrote(_)))
    }
    /// Whether a protected file was kept.
    #[must_use]
    pub fn kept(&self) -> bool {
        self.events.iter().any(|e| matches!(e, Event::Kept(_)))
    }
}

const ITEMS: [&str; 7] = [
    "config",
    "data",
    "log",
    "certs",
    "compose.services.yml",
    "compose.thingsboard.yml",
    "compose.gitlab.yml",
];
/// Items `--force` may refresh; data, log and certs never are.
const FORCEABLE: [&str; 4] = [
    "config",
    "compose.services.yml",
    "compose.thingsboard.yml",
    "compose.gitlab.yml",
];

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ProjectError + '_ {
    move |source| ProjectError::Io {
        path: path.to_owned(),
        source,
    }
}

fn mkdirs(dir: &Path) -> Result<(), ProjectError> {
    std::fs::create_dir_all(dir).map_err(io(dir))
}

/// Create `root/rel` (0755) without following a link in it.
fn mkdirs_below(root: &Dir, rel: &str) -> Result<(), ProjectError> {
    root.create_dir_all(rel, 0o755)
        .map(drop)
        .map_err(io(&root.path().join(rel)))
}

/// Write `contents` to `root/rel` atomically (temp file + rename) with `mode`, keeping the
/// owner of a file it replaces; a link among the parents (`config/` linked elsewhere) is
/// refused, a link at `rel` itself replaced, never written through.
fn write_file(root: &Dir, rel: &str, contents: &[u8], mode: u32) -> Result<(), ProjectError> {
    if let Some((parent, _)) = rel.rsplit_once('/') {
        mkdirs_below(root, parent)?;
    }
    root.write_atomic(rel, contents, mode, safe_fs::Owner::Keep)
        .map_err(io(&root.path().join(rel)))
}

/// Whether `root/rel` exists (a link counts as existing; a link among the parents is an error).
fn exists(root: &Dir, rel: &str) -> Result<bool, ProjectError> {
    root.meta(rel)
        .map(|m| m.is_some())
        .map_err(io(&root.path().join(rel)))
}

fn item_of(t: &Template) -> &str {
    t.path.split('/').next().unwrap_or(t.path)
}

fn is_protected(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    PROTECTED.contains(&name)
}

/// Generate (or refresh with `force`) the project tree in `dir`, creating it if missing.
///
/// Without `force` nothing that exists is touched. With `force` config/ and the compose files
/// are refreshed from the templates, keeping protected files and every file's mode.
///
/// # Errors
/// [`ProjectError`] naming the path that failed.
pub fn generate(dir: &Path, force: bool) -> Result<GenerateReport, ProjectError> {
    if dir.exists() && !dir.is_dir() {
        return Err(ProjectError::NotADirectory(dir.to_owned()));
    }
    mkdirs(dir)?;
    let dir = std::fs::canonicalize(dir).map_err(io(dir))?;
    let root = Dir::open_root(&dir).map_err(io(&dir))?;
    let mut report = GenerateReport {
        dir: dir.clone(),
        events: Vec::new(),
    };
    for item in ITEMS {
        let is_dir = !item.contains('.');
        let shown = if is_dir {
            format!("{item}/")
        } else {
            item.to_owned()
        };
        let files = TEMPLATES.iter().filter(|t| item_of(t) == item);
        if !exists(&root, item)? {
            for t in files {
                write_file(&root, t.path, t.contents.as_bytes(), t.mode)?;
            }
            report.events.push(Event::Created(shown));
        } else if force && FORCEABLE.contains(&item) {
            let mut overwrote = false;
            for t in files {
                let path = dir.join(t.path);
                let meta = root.meta(t.path).map_err(io(&path))?;
                if meta.is_some() && is_protected(t.path) {
                    report.events.push(Event::Kept(t.path.to_owned()));
                    continue;
                }
                // An overwritten file keeps its previous mode (a link is replaced by a file
                // with the template's mode: never read or written through).
                let mode = meta
                    .filter(|m| m.kind == Kind::File)
                    .map_or(t.mode, |m| m.mode);
                let same = root
                    .read(t.path)
                    .is_ok_and(|old| old == t.contents.as_bytes());
                if !same {
                    write_file(&root, t.path, t.contents.as_bytes(), mode)?;
                }
                overwrote = true;
            }
            if overwrote {
                report.events.push(Event::Overwrote(shown));
            }
        } else {
            report.events.push(Event::Skipped(item.to_owned()));
        }
    }
    for (template, target) in FROM_TEMPLATE {
        if exists(&root, target)? {
            continue;
        }
        let contents = crate::templates::template(template).unwrap_or_default();
        write_file(&root, target, contents.as_bytes(), 0o600)?;
        report
            .events
            .push(Event::FromTemplate((*target).to_owned()));
    }
    for service in catalog::Service::ALL {
        mkdirs_below(&root, service.data_dir())?;
    }
    Ok(report)
}

/// The project directory: `explicit` (`--project-dir` / `DTAAS_PROJECT_DIR`, relative to
/// `cwd`), else the nearest ancestor of `cwd` holding `config/services.env`; never silently
/// anything else. `cwd` is `None` when the current directory is not accessible (an absolute
/// `explicit` still works). The error text names where it looked.
///
/// # Errors
/// The message when no project is found.
pub fn locate_project(explicit: Option<&Path>, cwd: Option<&Path>) -> Result<PathBuf, String> {
    let no_cwd = || "the current directory is not accessible".to_owned();
    if let Some(dir) = explicit {
        let joined = if dir.is_absolute() {
            dir.to_owned()
        } else {
            cwd.ok_or_else(no_cwd)?.join(dir)
        };
        // `absolute` drops `.` components (`--project-dir .` is the cwd itself).
        return Ok(std::path::absolute(&joined).unwrap_or(joined));
    }
    let cwd = cwd.ok_or_else(no_cwd)?;
    find_project(cwd).ok_or_else(|| {
        format!(
            "no DTaaS services project found in {} or its parents (no config/services.env)",
            cwd.display()
        )
    })
}

/// The nearest ancestor of `start` (itself included) holding `config/services.env`.
#[must_use]
pub fn find_project(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|d| d.join("config").join("services.env").is_file())
        .map(Path::to_path_buf)
}
