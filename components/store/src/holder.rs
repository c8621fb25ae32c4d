//! Who works on a project: the holder of the project lock and of a maintenance marker.

use std::fmt;
use std::time::SystemTime;

use crate::time::{from_millis, to_millis};

/// A running command: which one, its process id and host, since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The command line without arguments that matter to nobody, e.g. `service restore -s grafana`.
    pub command: String,
    pub pid: u32,
    pub host: String,
    pub since: SystemTime,
}

impl Holder {
    /// This process, running `command`, from now.
    #[must_use]
    pub fn this_process(command: impl Into<String>) -> Holder {
        Holder {
            command: command.into(),
            pid: std::process::id(),
            host: host_name(),
            // Stored to the millisecond: keep what reads back equal to what was written.
            since: from_millis(to_millis(SystemTime::now())),
        }
    }

    /// Whether `self` is this very process (same pid on the same host).
    #[must_use]
    pub fn is_this_process(&self) -> bool {
        self.pid == std::process::id() && self.host == host_name()
    }

    /// One line, for a lock file or a lease row: `host \t pid \t since-ms \t command`.
    pub(crate) fn encode(&self) -> String {
        format!(
            "{}\t{}\t{}\t{}",
            self.host.replace(['\t', '\n'], " "),
            self.pid,
            to_millis(self.since),
            self.command.replace(['\t', '\n'], " ")
        )
    }

    /// The inverse of [`Holder::encode`]; `None` for anything else (an empty or foreign file).
    pub(crate) fn decode(raw: &str) -> Option<Holder> {
        let mut it = raw.trim_end_matches('\n').splitn(4, '\t');
        let host = it.next()?.to_owned();
        let pid = it.next()?.parse().ok()?;
        let since = from_millis(it.next()?.parse().ok()?);
        let command = it.next()?.to_owned();
        Some(Holder {
            command,
            pid,
            host,
            since,
        })
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` (pid {} on {}, since {})",
            self.command,
            self.pid,
            self.host,
            humantime::format_rfc3339_seconds(self.since)
        )
    }
}

/// The host name (`/proc/sys/kernel/hostname`, else `/etc/hostname`).
#[must_use]
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}
