//! The compose project name derived from `HOSTNAME`.

/// The compose project name of a HOSTNAME, the one rule for it (the compose engine
/// re-exports it). First the Python CLI's rule, so that containers of an install it made
/// stay in the same compose project: trimmed, `.` and `_` become `-`
/// (`services.intocps.org` -> `services-intocps-org`). Then Docker Compose v2's
/// normalisation, so that `docker compose` accepts the name (it refuses a
/// `COMPOSE_PROJECT_NAME` that normalising would change): lower case, only
/// `[a-z0-9_-]` kept, leading `_` and `-` dropped, so it starts with a letter or digit.
///
/// Upstream: github.com/compose-spec/compose-go v2.13.0 loader/loader.go
/// (`NormalizeProjectName`, `InvalidProjectNameErr`).
#[must_use]
pub fn project_name_from_hostname(hostname: &str) -> String {
    let dashed: String = hostname
        .trim()
        .chars()
        .map(|c| if c == '.' || c == '_' { '-' } else { c })
        .collect();
    normalize_project_name(&dashed)
}

/// compose-go's `NormalizeProjectName`: Unicode lower case (as Go's `strings.ToLower`),
/// then only `[a-z0-9_-]`, then no leading `_` or `-`.
fn normalize_project_name(s: &str) -> String {
    let kept: String = s
        .to_lowercase()
        .chars()
        .filter(|c| matches!(c, 'a'..='z' | '0'..='9' | '_' | '-'))
        .collect();
    kept.trim_start_matches(['_', '-']).to_owned()
}
