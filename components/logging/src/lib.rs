//! logging: the tracing filter both binaries use. `-v`/`-vv` or `DTAAS_LOG` choose the
//! level, but the crates that log whole HTTP and Docker request and response bodies — which
//! carry container environments, exec environments and API passwords — are capped, so no
//! verbosity and no filter directive can print a secret through them.
//!
//! The cap is a second filter combined with the user's by AND ([`filter`]): an event is
//! logged only when both enable it, so a more specific directive of the user's
//! (a directive on bollard's `docker` module, `hyper::proto=trace`, a span-field directive)
//! cannot raise it
//! the way it would inside one `EnvFilter`, where the most specific directive wins.
//!
//! It knows nothing of the command line and reads no environment variable itself.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::Layered;

/// Crates whose debug output includes request or response bodies, and the most they log.
/// A target matches by prefix (`hyper` also caps `hyper::proto::h1` and `hyper_util`).
const CAPPED: &[(&str, LevelFilter)] = &[
    ("bollard", LevelFilter::INFO),
    ("hyper", LevelFilter::INFO),
    ("hyper_util", LevelFilter::INFO),
    ("h2", LevelFilter::INFO),
    ("reqwest", LevelFilter::INFO),
    ("rustls", LevelFilter::INFO),
    ("sqlx", LevelFilter::WARN),
];

/// The filter of both binaries: the user's (see [`user_filter`]) AND the cap.
pub type Filter<S> = Layered<Targets, EnvFilter, S>;

/// Whether logs on stderr get colour: only on a terminal and without `NO_COLOR` (an empty
/// `NO_COLOR` counts as unset; <https://no-color.org>), the rule the printers apply too.
#[must_use]
pub fn colour(stderr_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(std::ffi::OsStr::is_empty)
}

/// The user's filter: `requested` (the value of `DTAAS_LOG`, when set and valid) or else
/// `default` (from `-q`/`-v`). Uncapped: use [`filter`].
#[must_use]
pub fn user_filter(requested: Option<&str>, default: &str) -> EnvFilter {
    requested
        .and_then(|r| EnvFilter::try_new(r).ok())
        .unwrap_or_else(|| EnvFilter::new(default))
}

/// The cap alone: everything enabled but the body-logging crates above their level.
#[must_use]
pub fn cap() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(CAPPED.iter().copied())
}

/// The filter layer of both binaries: [`user_filter`] and [`cap`] as two layers (an event
/// passes only when both enable it). Put it first: `registry().with(filter(..)).with(fmt)`.
#[must_use]
pub fn filter<S>(requested: Option<&str>, default: &str) -> Filter<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    user_filter(requested, default).and_then(cap())
}

#[cfg(test)]
mod tests;
