use std::process::ExitCode;

/// How a command ended, as the process exit status. The numbers are part of the interface
/// (scripts and the jobs' CronJob test them): never renumber a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// 0: the command did what was asked.
    Success,
    /// 1: the command ran but (part of) the operation failed; details were printed.
    Failed,
    /// 2: usage or configuration error: nothing was changed, fix the input and re-run.
    Usage,
    /// 3: a service is not ready yet: retry later.
    NotReady,
    /// 4: the Docker engine is unreachable.
    EngineUnreachable,
    /// 5: busy: another run holds the project (or the job) now; retry later.
    Busy,
}

impl ExitStatus {
    /// The exit status number.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failed => 1,
            ExitStatus::Usage => 2,
            ExitStatus::NotReady => 3,
            ExitStatus::EngineUnreachable => 4,
            ExitStatus::Busy => 5,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}
