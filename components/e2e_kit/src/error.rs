use std::path::PathBuf;

/// Why the kit could not prepare an image or a project.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    /// `images/build.sh` failed or printed something unexpected.
    #[error("building the local test images failed: {0}")]
    Images(String),
    /// A command could not be started at all.
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// A command ran and exited with a failure status.
    #[error("`{command}` failed ({status}):\n{stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    /// A file of the generated project could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The workspace binary is missing (build it first).
    #[error("{0} is missing: build it first (cargo build -p dtaas-services)")]
    MissingBinary(PathBuf),
}
