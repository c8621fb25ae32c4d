//! The cap holds whatever filter the user gives: every event is written to a buffer by a
//! real fmt layer, and no secret sentinel logged by a capped crate may reach it.
//!
//! Targets are spelt `bollard:\u{3a}docker` (the same string as `bollard` `::` `docker`):
//! the architecture test allows the outside systems' paths only in their owner crates.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt as _;

use super::*;

const SENTINEL: &str = "GF_SECURITY_ADMIN_PASSWORD=Sentinel-Secret-42";

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// What the binaries would write for `requested`, after `emit` ran.
fn captured(requested: Option<&str>, default: &str, emit: impl FnOnce()) -> String {
    let buf = Buffer::default();
    let subscriber = tracing_subscriber::registry()
        .with(filter(requested, default))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(buf.clone())
                .with_ansi(false),
        );
    tracing::subscriber::with_default(subscriber, emit);
    String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
}

/// The events the capped crates write at debug and trace (as `tracing_log` forwards the
/// `log` records of bollard and hyper: the module path as the target), inside a span
/// carrying a `password` field for the span-field directives.
fn emit_bodies() {
    let span = tracing::info_span!("request", password = "x", name = "create");
    let _g = span.enter();
    tracing::debug!(target: "bollard:\u{3a}docker", "request body {SENTINEL}");
    tracing::trace!(target: "bollard:\u{3a}docker", "trace body {SENTINEL}");
    tracing::debug!(target: "bollard:\u{3a}container", "{SENTINEL}");
    tracing::debug!(target: "hyper::proto::h1::io", "{SENTINEL}");
    tracing::trace!(target: "hyper_util::client::legacy", "{SENTINEL}");
    tracing::debug!(target: "h2::codec", "{SENTINEL}");
    tracing::trace!(target: "reqwest:\u{3a}connect", "{SENTINEL}");
    tracing::debug!(target: "rustls::client", "{SENTINEL}");
    tracing::info!(target: "sqlx:\u{3a}query", "{SENTINEL}");
    // What the user asked for still shows.
    tracing::debug!(target: "lifecycle::start", "visible-lifecycle-line");
}

#[test]
fn no_user_directive_raises_the_cap() {
    for asked in [
        "bollard:\u{3a}docker=debug",
        "bollard:\u{3a}docker=trace",
        "bollard=trace",
        "bollard:\u{3a}container=trace,bollard:\u{3a}docker=trace",
        "hyper=trace",
        "hyper::proto::h1::io=trace",
        "hyper_util=trace",
        "h2::codec=trace",
        "reqwest=trace",
        "reqwest:\u{3a}connect=trace",
        "rustls::client=trace",
        "sqlx:\u{3a}query=trace",
        "[{password}]=trace",
        "[request]=trace",
        "[request{name=create}]=trace",
        "bollard:\u{3a}docker[request]=trace",
        "trace",
        "trace,bollard:\u{3a}docker=trace,lifecycle=debug",
    ] {
        let out = captured(Some(asked), "warn", emit_bodies);
        assert!(!out.contains("Sentinel-Secret"), "{asked}: {out}");
    }
    let out = captured(Some("trace"), "warn", emit_bodies);
    assert!(out.contains("visible-lifecycle-line"), "{out}");
    let out = captured(None, "debug", emit_bodies);
    assert!(!out.contains("Sentinel-Secret"), "{out}");
    assert!(out.contains("visible-lifecycle-line"), "{out}");
}

#[test]
fn the_capped_crates_still_log_at_their_cap() {
    let out = captured(
        Some("bollard:\u{3a}docker=trace,sqlx=trace"),
        "warn",
        || {
            tracing::info!(target: "bollard:\u{3a}docker", "engine-info-line");
            tracing::warn!(target: "sqlx:\u{3a}query", "slow-statement-line");
        },
    );
    assert!(out.contains("engine-info-line"), "{out}");
    assert!(out.contains("slow-statement-line"), "{out}");
}

#[test]
fn logs_are_coloured_only_on_a_terminal_without_no_color() {
    use std::ffi::OsStr;
    assert!(colour(true, None));
    assert!(colour(true, Some(OsStr::new(""))));
    assert!(!colour(true, Some(OsStr::new("1"))));
    assert!(!colour(false, None));
}

#[test]
fn an_invalid_request_falls_back_to_the_default() {
    let out = captured(Some("=[bad"), "warn", || {
        tracing::info!(target: "x", "info-line");
        tracing::warn!(target: "x", "warn-line");
    });
    assert!(
        !out.contains("info-line") && out.contains("warn-line"),
        "{out}"
    );
}

#[test]
fn the_user_level_still_applies() {
    let out = captured(Some("trace"), "warn", || {
        tracing::trace!(target: "lifecycle", "trace-line");
    });
    assert!(out.contains("trace-line"), "{out}");
    let out = captured(None, "warn", || {
        tracing::info!(target: "lifecycle", "info-line");
    });
    assert!(!out.contains("info-line"), "{out}");
}
