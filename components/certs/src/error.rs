use std::fmt;
use std::path::PathBuf;

use crate::step::Step;

/// Everything that can go wrong in the certs component.
///
/// The cli maps [`CertsError::is_usage`] to exit status 2 (configuration error) and everything
/// else to 1 (operation failed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertsError {
    /// `CERTS_SRC` does not exist or is not a directory.
    #[error("source directory for certificates not found: {} (set CERTS_SRC in config/services.env, or run `certs self-signed`)", dir.display())]
    SourceMissing { dir: PathBuf },

    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file or directory could not be written, renamed, chmod-ed or chown-ed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file a derivation needs is neither in `CERTS_SRC` nor in `certs/`.
    #[error("missing {name}: not found in {} nor in {}", source_dir.display(), certs_dir.display())]
    MissingInput {
        name: &'static str,
        source_dir: PathBuf,
        certs_dir: PathBuf,
    },

    /// Files need another owner and the process is not root.
    #[error("changing the owner of {} path(s) needs root: {}. Run as root (sudo -E env PATH=\"$PATH\" dtaas-services host setup), or pass --skip-chown to leave owners as they are", paths.len(), NameList(paths))]
    NeedsRoot { paths: Vec<PathBuf> },

    /// Files exist where self-signed certificates would be written.
    #[error(
        "refusing to overwrite existing certificates: {} (they are not a valid self-signed set for this host; remove them or use --force)",
        NameList(paths)
    )]
    Exists { paths: Vec<PathBuf> },

    /// `CERTS_SRC` holds numbered Let's Encrypt files (`privkey1.pem`, ...): `host setup`
    /// installs the newest of each name, so a self-signed set would replace them.
    #[error(
        "refusing to write self-signed certificates into {}: it holds Let's Encrypt certificates ({}), and host setup installs the newest file of each name, so the self-signed ones would replace them. Point CERTS_SRC at another directory (dtaas-services config set CERTS_SRC certs-src), or pass --force to write next to them anyway (numbered Let's Encrypt files are never changed)",
        dir.display(),
        NameList(paths)
    )]
    LetsEncrypt { dir: PathBuf, paths: Vec<PathBuf> },

    /// The files to write are Let's Encrypt's links to its numbered files (a `live/`
    /// directory): never replaced, even with `--force`.
    #[error(
        "refusing to replace Let's Encrypt links: {} (they point to numbered files that certbot renews; not even --force replaces them). Point CERTS_SRC at another directory (dtaas-services config set CERTS_SRC certs-src)",
        NameList(paths)
    )]
    LetsEncryptLinks { paths: Vec<PathBuf> },

    /// The host name is not usable in a certificate.
    #[error("invalid host name {hostname:?}: {reason}")]
    InvalidHostname { hostname: String, reason: String },

    /// Certificate generation failed.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),

    /// A `host setup` step failed. `finished` lists the steps fully applied before it; when
    /// `finished` is empty nothing was changed (failures found while planning change nothing).
    #[error("{} failed: {source}; {}", step.label(), Finished(finished))]
    StepFailed {
        step: Step,
        finished: Vec<Step>,
        #[source]
        source: Box<CertsError>,
    },
}

impl CertsError {
    /// True for errors caused by configuration (exit status 2) rather than a failed operation.
    pub fn is_usage(&self) -> bool {
        match self {
            CertsError::SourceMissing { .. }
            | CertsError::MissingInput { .. }
            | CertsError::InvalidHostname { .. }
            | CertsError::NeedsRoot { .. }
            | CertsError::Exists { .. }
            | CertsError::LetsEncrypt { .. }
            | CertsError::LetsEncryptLinks { .. } => true,
            CertsError::StepFailed { source, .. } => source.is_usage(),
            _ => false,
        }
    }

    /// The steps completed before the failure (empty for errors outside `host setup`).
    pub fn finished_steps(&self) -> &[Step] {
        match self {
            CertsError::StepFailed { finished, .. } => finished,
            _ => &[],
        }
    }

    pub(crate) fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CertsError::Read {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CertsError::Write {
            path: path.into(),
            source,
        }
    }
}

struct NameList<'a>(&'a [PathBuf]);

impl fmt::Display for NameList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", p.display())?;
        }
        Ok(())
    }
}

struct Finished<'a>(&'a [Step]);

impl fmt::Display for Finished<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("no step was applied, nothing was changed");
        }
        f.write_str("finished steps: ")?;
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(s.label())?;
        }
        Ok(())
    }
}
