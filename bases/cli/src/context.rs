//! What every command handler gets: the global flags, the printer, and lazily the project
//! directory and its resolved settings.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

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
        let cwd = std::env::current_dir().ok();
        project::locate_project(self.global.project_dir.as_deref(), cwd.as_deref()).map_err(|e| {
            CliError::Usage(format!(
                "{e}\nhint: run `dtaas-services project generate`, or pass --project-dir"
            ))
            .into()
        })
    }

    /// Resolve the settings of the project, printing load warnings.
    pub(crate) fn settings(&self) -> anyhow::Result<config::Settings> {
        let dir = self.project_dir()?;
        self.settings_in(&dir)
    }

    /// The settings of the project without printing load warnings again (for work after
    /// the command, e.g. the journal); `Err` when there is no project.
    pub(crate) fn settings_quiet(&self) -> anyhow::Result<config::Settings> {
        self.load_settings(&self.project_dir()?, false)
    }

    /// Resolve the settings of the project in `dir`, printing load warnings.
    pub(crate) fn settings_in(&self, dir: &Path) -> anyhow::Result<config::Settings> {
        self.load_settings(dir, true)
    }

    fn load_settings(&self, dir: &Path, warn: bool) -> anyhow::Result<config::Settings> {
        let (settings, warnings) = config::load(&config::LoadOptions {
            project_dir: dir.to_owned(),
            env: config::env_layer(std::env::vars_os()),
            overrides: self.global.set.clone(),
        })?;
        if warn {
            for w in warnings {
                self.out.warn(w);
            }
        }
        Ok(settings)
    }

    /// Ask for the value of `spec` on the terminal, without echo (`config set KEY` with no
    /// value); without a terminal, a usage error naming `config set KEY -`.
    pub(crate) fn ask_value(
        &self,
        spec: &config::KeySpec,
    ) -> anyhow::Result<secrecy::SecretString> {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::Usage(format!(
                "config set {key}: no value given and no terminal to ask on\nhint: `dtaas-services config set {key} -` reads it from stdin",
                key = spec.name
            ))
            .into());
        }
        let answer = rpassword::prompt_password(format!("{}: ", spec.name))?;
        Ok(config::read_value(spec, answer.as_bytes())?)
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
