use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Error,
}

/// One result of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable id: `engine`, `compose`, `templates`, `ports`, `containers`, `state`, `hostname`, `certs`,
    /// `file_modes`, `passwords`, `disk`, `state_db`.
    pub check: &'static str,
    pub level: Level,
    pub message: String,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Everything `doctor` found (`--json` prints it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    pub findings: Vec<Finding>,
}

impl DoctorReport {
    /// True when a check failed (`doctor` exits 1).
    #[must_use]
    pub fn failed(&self) -> bool {
        self.findings.iter().any(|f| f.level == Level::Error)
    }

    /// The findings of one check.
    pub fn of<'a>(&'a self, check: &'a str) -> impl Iterator<Item = &'a Finding> + 'a {
        self.findings.iter().filter(move |f| f.check == check)
    }

    pub(crate) fn push(
        &mut self,
        check: &'static str,
        level: Level,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.findings.push(Finding {
            check,
            level,
            message: message.into(),
            hint,
        });
    }
}
