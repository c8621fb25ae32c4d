//! logging: the tracing filter both binaries use. `-v`/`-vv` or `DTAAS_LOG` choose the
//! level, but the crates that log whole HTTP and Docker request and response bodies — which
//! carry container environments, exec environments and API passwords — are capped, so no
//! verbosity can print a secret through them.
//!
//! It knows nothing of the command line and reads no environment variable itself.

use tracing_subscriber::EnvFilter;

/// Crates whose debug output includes request or response bodies, and the most they log.
const CAPPED: &[&str] = &[
    "bollard=info",
    "hyper=info",
    "hyper_util=info",
    "h2=info",
    "reqwest=info",
    "rustls=info",
    "sqlx=warn",
];

/// Whether logs on stderr get colour: only on a terminal and without `NO_COLOR` (an empty
/// `NO_COLOR` counts as unset; <https://no-color.org>), the rule the printers apply too.
#[must_use]
pub fn colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(std::ffi::OsStr::is_empty)
}

/// The filter for `requested` (the value of `DTAAS_LOG`, when set and valid) or else
/// `default` (from `-q`/`-v`), with the body-logging crates capped.
#[must_use]
pub fn filter(requested: Option<&str>, default: &str) -> EnvFilter {
    let mut f = requested
        .and_then(|r| EnvFilter::try_new(r).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    for d in CAPPED {
        if let Ok(d) = d.parse() {
            f = f.add_directive(d);
        }
    }
    f
}

#[cfg(test)]
mod tests {
    #[test]
    fn logs_are_coloured_only_on_a_terminal_without_no_color() {
        use std::ffi::OsStr;
        assert!(super::colour(true, None));
        assert!(super::colour(true, Some(OsStr::new(""))));
        assert!(!super::colour(true, Some(OsStr::new("1"))));
        assert!(!super::colour(false, None));
    }

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    fn enabled(f: EnvFilter, check: impl FnOnce() -> bool) -> bool {
        let subscriber = tracing_subscriber::registry().with(f);
        tracing::subscriber::with_default(subscriber, check)
    }

    #[test]
    fn body_logging_crates_stay_capped_whatever_is_asked() {
        for asked in [Some("trace"), Some("bollard=trace,sqlx=trace"), None] {
            let f = filter(asked, "debug");
            assert!(
                !enabled(
                    f,
                    || tracing::enabled!(target: "bollard", tracing::Level::DEBUG)
                ),
                "{asked:?}"
            );
            let f = filter(asked, "debug");
            assert!(!enabled(
                f,
                || tracing::enabled!(target: "sqlx", tracing::Level::INFO)
            ));
        }
        let f = filter(Some("trace"), "warn");
        assert!(enabled(
            f,
            || tracing::enabled!(target: "lifecycle", tracing::Level::TRACE)
        ));
    }

    #[test]
    fn an_invalid_request_falls_back_to_the_default() {
        let f = filter(Some("=[bad"), "warn");
        assert!(!enabled(
            f,
            || tracing::enabled!(target: "x", tracing::Level::INFO)
        ));
        let f = filter(Some("=[bad"), "warn");
        assert!(enabled(
            f,
            || tracing::enabled!(target: "x", tracing::Level::WARN)
        ));
    }
}
