use std::path::PathBuf;

/// Why the configuration could not be read, validated or written.
///
/// Every variant is a configuration error (exit status 2 at the cli); messages name the file,
/// line and key, and never contain a value of a secret key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "configuration file not found: {path}\nhint: run `dtaas-services project generate` here, or point --project-dir / DTAAS_PROJECT_DIR at a project"
    )]
    Missing { path: PathBuf },
    #[error("{path}:{line}: the file is not valid UTF-8")]
    NotUtf8 { path: PathBuf, line: usize },
    #[error("{path}:{line}: {}{message}", key.as_ref().map(|k| format!("{k}: ")).unwrap_or_default())]
    Syntax {
        path: PathBuf,
        line: usize,
        key: Option<String>,
        message: String,
    },
    #[error("{origin}: {key}: {message}")]
    Invalid {
        /// Where the value came from: `path:line`, `environment variable X`, `--set flag`.
        origin: String,
        key: String,
        message: String,
    },
    #[error("{key} must be set{}", hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Required { key: String, hint: Option<String> },
    #[error("unknown key {key}{}", suggestion.as_ref().map(|s| format!("; did you mean {s}?")).unwrap_or_default())]
    UnknownKey {
        key: String,
        suggestion: Option<String>,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("configuration could not be merged: {0}")]
    Merge(String),
    #[error(
        "config set: {key} is a secret: its value is not taken from the command line, where \
         other users of this host can read it (ps, shell history)\nhint: `dtaas-services \
         config set {key} -` reads it from stdin; `dtaas-services config set {key}` asks for \
         it on a terminal"
    )]
    SecretOnCommandLine { key: String },
    #[error("config set: {key}: {message}")]
    SecretInput { key: String, message: String },
}
