//! The reconcile rules (issue 16): what the operator wants of a service against what runs,
//! and what `service-health` does about a difference. Pure functions over a status row and
//! the recorded intent, shared by `status` (the desired column) and `dtaas-jobs`.
//!
//! The legacy rule: a service with no recorded desired state whose container runs counts as
//! wanted running (and service-health records that, so a later crash is repaired); one that
//! does not run has no desired state and is left alone.

use docker::Health;
use store::{Desired, Holder, ServiceIntent};

use crate::ServiceStatus;

/// What the operator wants of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    pub desired: Desired,
    /// Not recorded: assumed by the legacy rule.
    pub assumed: bool,
}

/// The desired state of `s` from its recorded intent, or by the legacy rule.
#[must_use]
pub fn wanted(s: &ServiceStatus, intent: Option<&ServiceIntent>) -> Option<Wanted> {
    match intent.and_then(|i| i.desired) {
        Some(desired) => Some(Wanted {
            desired,
            assumed: false,
        }),
        None if matches!(s.state.as_str(), "running" | "restarting") => Some(Wanted {
            desired: Desired::Running,
            assumed: true,
        }),
        None => None,
    }
}

/// How the actual state of `s` differs from `wanted`, in words; `None` when it does not.
#[must_use]
pub fn deviation(s: &ServiceStatus, wanted: Option<Wanted>) -> Option<String> {
    let w = wanted?;
    let runs = matches!(s.state.as_str(), "running" | "restarting");
    let differs = match w.desired {
        Desired::Running => !(s.state == "running" && s.health != Some(Health::Unhealthy)),
        Desired::Stopped => runs,
        Desired::Absent => s.state != "removed",
    };
    differs.then(|| format!("wanted {}, is {}", w.desired, s.effective()))
}

/// What service-health does with one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Wanted running and runs (healthy, starting or without a healthcheck).
    Healthy,
    /// Runs with no recorded intent: counts as wanted running, and that is recorded now.
    Adopt,
    /// Wanted running, exited or dead: start it again (within the restart budget).
    Start,
    /// Wanted running, runs unhealthy: restart it (within the restart budget).
    Restart,
    /// Docker's restart policy restarts it in a loop: report, do not touch.
    Looping,
    /// Wanted running but it has no container, or it is created/paused: report, do not touch.
    NotRepairable,
    /// Wanted stopped or absent and it is not running: leave it.
    LeaveStopped(Desired),
    /// Wanted stopped or absent, yet it runs: report (the operator decides), do not touch.
    RunsUnwanted(Desired),
    /// A backup, restore or upgrade works on it: skip.
    Maintenance(Holder),
    /// No recorded intent and not running (legacy rule): leave it.
    Unknown,
}

/// The decision for `s` given its recorded intent.
#[must_use]
pub fn decide(s: &ServiceStatus, intent: Option<&ServiceIntent>) -> Decision {
    if let Some(m) = intent.and_then(|i| i.maintenance.clone()) {
        return Decision::Maintenance(m);
    }
    let Some(w) = wanted(s, intent) else {
        return Decision::Unknown;
    };
    let runs = matches!(s.state.as_str(), "running" | "restarting");
    match w.desired {
        Desired::Stopped | Desired::Absent if runs => Decision::RunsUnwanted(w.desired),
        Desired::Stopped | Desired::Absent => Decision::LeaveStopped(w.desired),
        Desired::Running => match (s.state.as_str(), s.health) {
            ("running", Some(Health::Unhealthy)) => Decision::Restart,
            ("running", _) if w.assumed => Decision::Adopt,
            ("running", _) => Decision::Healthy,
            ("exited" | "dead", _) => Decision::Start,
            ("restarting", _) => Decision::Looping,
            _ => Decision::NotRepairable,
        },
    }
}
