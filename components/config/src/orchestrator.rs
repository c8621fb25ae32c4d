//! `ORCHESTRATOR`: which engine runs the services — one Docker engine through compose-shaped
//! containers (the default), or a Docker Swarm (docs/multi-host.md).

use std::fmt;

use crate::Settings;

/// The value of `ORCHESTRATOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Orchestrator {
    /// Every service on one Docker engine (local socket or `DOCKER_HOST`).
    #[default]
    Compose,
    /// Services, secrets and configs on a Docker Swarm, through a manager's engine.
    Swarm,
}

impl Orchestrator {
    /// `compose` or `swarm`, exactly (lower case, no blanks).
    ///
    /// # Errors
    /// A message naming the value and the two accepted ones.
    pub fn parse(value: &str) -> Result<Orchestrator, String> {
        match value {
            "compose" => Ok(Orchestrator::Compose),
            "swarm" => Ok(Orchestrator::Swarm),
            _ => Err(format!(
                "invalid orchestrator {value:?} (expected compose or swarm)"
            )),
        }
    }

    /// The setting's value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Orchestrator::Compose => "compose",
            Orchestrator::Swarm => "swarm",
        }
    }
}

impl fmt::Display for Orchestrator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Settings {
    /// The resolved `ORCHESTRATOR` (validated when the settings were loaded).
    #[must_use]
    pub fn orchestrator(&self) -> Orchestrator {
        self.get("ORCHESTRATOR")
            .and_then(|v| Orchestrator::parse(v).ok())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_compose_and_swarm_are_accepted() {
        assert_eq!(Orchestrator::parse("compose"), Ok(Orchestrator::Compose));
        assert_eq!(Orchestrator::parse("swarm"), Ok(Orchestrator::Swarm));
        for bad in ["", "Swarm", " swarm", "kubernetes", "docker"] {
            let e = Orchestrator::parse(bad).unwrap_err();
            assert!(e.contains("expected compose or swarm"), "{bad:?}: {e}");
        }
        assert_eq!(Orchestrator::Swarm.to_string(), "swarm");
        assert_eq!(Orchestrator::default(), Orchestrator::Compose);
    }
}
