//! The only place dtaas-jobs prints (as the cli's printer is for dtaas-services): the
//! commands' data on stdout — text lines, or one JSON document with `--json` — and errors on
//! stderr. A closed pipe is ignored. The daemon's logs are tracing's, not the printer's.

use std::fmt::Display;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// Where the printer writes.
#[derive(Debug, Clone)]
enum Sink {
    /// stdout for data, stderr for errors.
    Terminal,
    /// Every line kept in memory (tests); errors prefixed like on stderr.
    #[cfg_attr(not(test), allow(dead_code))]
    Memory(Arc<Mutex<Vec<String>>>),
}

/// The output of one dtaas-jobs invocation.
#[derive(Debug, Clone)]
pub(crate) struct Printer {
    json: bool,
    sink: Sink,
}

impl Printer {
    /// A printer on stdout/stderr; `json` selects JSON documents for the commands' data.
    pub(crate) fn new(json: bool) -> Self {
        Self {
            json,
            sink: Sink::Terminal,
        }
    }

    /// A printer keeping its lines in memory, and those lines.
    #[cfg(test)]
    pub(crate) fn capture(json: bool) -> (Self, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let printer = Self {
            json,
            sink: Sink::Memory(Arc::clone(&lines)),
        };
        (printer, lines)
    }

    /// Whether the commands print JSON.
    pub(crate) fn is_json(&self) -> bool {
        self.json
    }

    /// A line of data on stdout.
    pub(crate) fn line(&self, text: impl Display) {
        match &self.sink {
            Sink::Terminal => {
                let _ = writeln!(std::io::stdout().lock(), "{text}");
            }
            Sink::Memory(lines) => push(lines, text.to_string()),
        }
    }

    /// `value` as one pretty JSON document on stdout.
    pub(crate) fn json<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        self.line(serde_json::to_string_pretty(value)?);
        Ok(())
    }

    /// `error: <text>` on stderr.
    pub(crate) fn error(&self, text: impl Display) {
        match &self.sink {
            Sink::Terminal => {
                let _ = writeln!(std::io::stderr().lock(), "error: {text}");
            }
            Sink::Memory(lines) => push(lines, format!("error: {text}")),
        }
    }
}

fn push(lines: &Mutex<Vec<String>>, line: String) {
    if let Ok(mut lines) = lines.lock() {
        lines.push(line);
    }
}
