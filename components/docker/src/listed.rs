//! What a container list call says beyond the state ([`Listed`]), read from the engine's
//! status text as `docker ps` shows it.

use crate::PortSpec;

/// What `GET /containers/json` says of a container besides its state: enough for the
/// status table without an inspect per container (no start time, no restart count).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listed {
    /// The host ports bound while it runs (the list's `Ports` with a public port).
    pub published: Vec<PortSpec>,
    /// The engine's status text, as `docker ps` shows it: `Up 5 minutes (healthy)`,
    /// `Exited (137) 2 hours ago`, `Restarting (1) 3 seconds ago`, `Created`.
    pub status: String,
}

impl Listed {
    /// How long it has been up, as the status text says it (`Up 5 minutes`: 300 s; as
    /// coarse as `docker ps`), `None` unless the text starts with `Up`.
    #[must_use]
    pub fn uptime_secs(&self) -> Option<u64> {
        human_duration_secs(self.status.strip_prefix("Up ")?)
    }

    /// The exit code in `Exited (N) ...` or `Restarting (N) ...`.
    #[must_use]
    pub fn exit_code(&self) -> Option<i64> {
        let rest = self
            .status
            .strip_prefix("Exited (")
            .or_else(|| self.status.strip_prefix("Restarting ("))?;
        rest.split_once(')')?.0.parse().ok()
    }
}

/// The seconds of a duration spelled by the engine's `HumanDuration` (the text may go on
/// after it: ` (healthy)`, ` ago`). Upstream: github.com/docker/go-units v0.4.0
/// duration.go `HumanDuration`, used by github.com/moby/moby v20.10.24
/// container/state.go `State.String` for the list's `Status`.
fn human_duration_secs(text: &str) -> Option<u64> {
    const FIXED: [(&str, u64); 4] = [
        ("Less than a second", 0),
        ("About a minute", 60),
        ("About an hour", 3600),
        ("1 second", 1),
    ];
    if let Some(&(_, secs)) = FIXED.iter().find(|(p, _)| text.starts_with(p)) {
        return Some(secs);
    }
    let mut words = text.split(' ');
    let n: u64 = words.next()?.parse().ok()?;
    let unit = match words.next()? {
        "seconds" => 1,
        "minutes" => 60,
        "hours" => 3600,
        "days" => 86_400,
        "weeks" => 7 * 86_400,
        "months" => 30 * 86_400,
        "years" => 365 * 86_400,
        _ => return None,
    };
    Some(n * unit)
}

#[cfg(test)]
#[path = "listed_tests.rs"]
mod tests;
