//! What every command handler gets: the global flags, the printer, and lazily the project
//! directory and its resolved settings.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::args::GlobalArgs;
use crate::exit::CliError;
use crate::printer::Printer;

/// The per-invocation context.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) global: GlobalArgs,
    pub(crate) out: Printer,
}

impl Ctx {
    pub(crate) fn new(global: GlobalArgs) -> Self {
        let out = Printer::new(global.quiet, global.json, global.no_color);
        Self { global, out }
    }

    /// The project directory: --project-dir / DTAAS_PROJECT_DIR, else the nearest ancestor of
    /// the current directory holding config/services.env. Never silently the parent.
    pub(crate) fn project_dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(dir) = &self.global.project_dir {
            return Ok(std::path::absolute(dir)?);
        }
        let cwd = std::env::current_dir().context("the current directory is not accessible")?;
        project::find_project(&cwd).ok_or_else(|| {
            CliError::Usage(format!(
                "no DTaaS services project found in {} or its parents (no config/services.env)\nhint: run `dtaas-services project generate`, or pass --project-dir",
                cwd.display()
            ))
            .into()
        })
    }

    /// The process environment handed to the config loader (it keeps only DTAAS_<KEY>).
    fn env() -> Vec<(String, String)> {
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .filter(|(k, _)| k.starts_with(config::ENV_PREFIX))
            .collect()
    }

    /// Resolve the settings of the project, printing load warnings.
    pub(crate) fn settings(&self) -> anyhow::Result<config::Settings> {
        let dir = self.project_dir()?;
        self.settings_in(&dir)
    }

    /// Resolve the settings of the project in `dir`.
    pub(crate) fn settings_in(&self, dir: &Path) -> anyhow::Result<config::Settings> {
        let (settings, warnings) = config::load(&config::LoadOptions {
            project_dir: dir.to_owned(),
            env: Self::env(),
            overrides: self.global.set.clone(),
        })?;
        for w in warnings {
            self.out.warn(w);
        }
        Ok(settings)
    }

    /// Ask before a destructive action. --yes answers yes; without a terminal and without
    /// --yes the action is refused.
    pub(crate) fn confirm(&self, prompt: &str) -> anyhow::Result<()> {
        if self.global.yes {
            return Ok(());
        }
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Err(CliError::Usage(format!(
                "{prompt}\nrefusing without a terminal: pass --yes to confirm"
            ))
            .into());
        }
        let mut err = std::io::stderr();
        write!(err, "{prompt} Continue? [y/N] ")?;
        err.flush()?;
        let mut answer = String::new();
        stdin.lock().read_line(&mut answer)?;
        if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            Ok(())
        } else {
            Err(CliError::Aborted.into())
        }
    }
}
