//! The one place that writes to stdout/stderr. Honours --quiet, --json and colour/TTY.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Display;
use std::io::IsTerminal as _;

/// Writes every line the cli prints.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Printer {
    quiet: bool,
    json: bool,
    color: bool,
}

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

impl Printer {
    pub(crate) fn new(quiet: bool, json: bool, no_color: bool) -> Self {
        // Output goes to both streams: colour only when both are terminals.
        let color = !no_color
            && std::io::stdout().is_terminal()
            && logging::colour(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
            );
        Self { quiet, json, color }
    }

    /// Whether data should be printed as JSON.
    pub(crate) fn is_json(self) -> bool {
        self.json
    }

    fn paint(self, style: &str, text: &str) -> String {
        if self.color {
            format!("{style}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    /// A plain line of human output on stdout (silent with --quiet or --json).
    pub(crate) fn line(self, text: impl Display) {
        if !self.quiet && !self.json {
            println!("{text}");
        }
    }

    /// A heading.
    pub(crate) fn heading(self, text: impl Display) {
        if !self.quiet && !self.json {
            println!("{}", self.paint(BOLD, &text.to_string()));
        }
    }

    /// A step that succeeded.
    pub(crate) fn success(self, text: impl Display) {
        if !self.quiet && !self.json {
            println!("{} {text}", self.paint(GREEN, "✓"));
        }
    }

    /// A warning on stderr (silent with --quiet).
    pub(crate) fn warn(self, text: impl Display) {
        if !self.quiet {
            eprintln!("{} {text}", self.paint(YELLOW, "warning:"));
        }
    }

    /// A failed step on stderr (always shown).
    pub(crate) fn failure(self, text: impl Display) {
        eprintln!("{} {text}", self.paint(RED, "✗"));
    }

    /// The final error of a command on stderr (always shown).
    pub(crate) fn error(self, text: impl Display) {
        eprintln!("{} {text}", self.paint(RED, "error:"));
    }

    /// A hint line on stderr.
    pub(crate) fn hint(self, text: impl Display) {
        if !self.quiet {
            eprintln!("{} {text}", self.paint(BOLD, "hint:"));
        }
    }

    /// Data as pretty JSON on stdout (printed even with --quiet: it was asked for).
    pub(crate) fn json<T: serde::Serialize>(self, value: &T) -> anyhow::Result<()> {
        println!("{}", serde_json::to_string_pretty(value)?);
        Ok(())
    }

    /// A table on stdout.
    pub(crate) fn table(self, header: &[&str], rows: Vec<Vec<String>>) {
        if self.quiet || self.json {
            return;
        }
        let mut t = comfy_table::Table::new();
        t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
        if !self.color {
            t.force_no_tty();
        }
        t.set_header(header.to_vec());
        for r in rows {
            t.add_row(r);
        }
        println!("{t}");
    }

    /// A raw value on stdout, for `config get` / `secrets get` (kept even with --quiet).
    pub(crate) fn value(self, text: impl Display) {
        println!("{text}");
    }

    /// Clear the terminal (for `--watch`); nothing when stdout is not a terminal.
    pub(crate) fn clear_screen(self) {
        if std::io::stdout().is_terminal() {
            print!("\x1b[2J\x1b[H");
        }
    }

    /// Container output as it came, on stdout or stderr (`service logs`; kept with --quiet).
    pub(crate) fn raw(self, to_stderr: bool, bytes: &[u8]) -> std::io::Result<()> {
        use std::io::Write as _;
        if to_stderr {
            let mut e = std::io::stderr().lock();
            e.write_all(bytes)?;
            e.flush()
        } else {
            let mut o = std::io::stdout().lock();
            o.write_all(bytes)?;
            o.flush()
        }
    }

    /// Progress display for long work (pulls, waits) on stderr: bars on a terminal, plain
    /// lines otherwise, nothing with --quiet or --json.
    pub(crate) fn progress(self) -> ProgressUi {
        ProgressUi::new(self)
    }

    /// A deprecation warning for a legacy alias (always on stderr, even with --quiet: scripts
    /// should notice).
    pub(crate) fn deprecated(self, old: &str, new: &str) {
        eprintln!("Warning: 'dtaas-services {old}' is deprecated; use 'dtaas-services {new}'.");
    }
}

/// The progress display of one command; hand [`ProgressUi::sink`] to the component and call
/// [`ProgressUi::finish`] when the work is done.
#[derive(Debug, Clone)]
pub(crate) struct ProgressUi {
    state: Option<std::sync::Arc<std::sync::Mutex<ProgressState>>>,
}

#[derive(Debug)]
struct ProgressState {
    /// `Some` on a terminal: bars; `None`: plain lines.
    multi: Option<indicatif::MultiProgress>,
    painter: Printer,
    layers: std::collections::BTreeMap<(String, String), (indicatif::ProgressBar, String)>,
    wait: Option<indicatif::ProgressBar>,
    /// Plain mode: the elapsed second of the last "Waiting" line.
    last_wait_line: Option<u64>,
}

/// Seconds between two plain "Waiting" lines.
const PLAIN_WAIT_EVERY: u64 = 5;

impl ProgressUi {
    fn new(p: Printer) -> ProgressUi {
        if p.quiet || p.json {
            return ProgressUi { state: None };
        }
        let multi = std::io::stderr().is_terminal().then(|| {
            indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr())
        });
        ProgressUi {
            state: Some(std::sync::Arc::new(std::sync::Mutex::new(ProgressState {
                multi,
                painter: p,
                layers: std::collections::BTreeMap::new(),
                wait: None,
                last_wait_line: None,
            }))),
        }
    }

    /// The callback the components report to.
    pub(crate) fn sink(&self) -> lifecycle::ProgressSink {
        match &self.state {
            None => lifecycle::ProgressSink::none(),
            Some(state) => {
                let state = state.clone();
                lifecycle::ProgressSink::new(move |ev| {
                    if let Ok(mut s) = state.lock() {
                        s.on(ev);
                    }
                })
            }
        }
    }

    /// Remove the bars still drawn.
    pub(crate) fn finish(&self) {
        if let Some(state) = &self.state
            && let Ok(mut s) = state.lock()
        {
            if let Some(w) = s.wait.take() {
                w.finish_and_clear();
            }
            for (_, (bar, _)) in std::mem::take(&mut s.layers) {
                bar.finish_and_clear();
            }
        }
    }
}

fn short_layer(layer: &str) -> &str {
    layer.get(..12).unwrap_or(layer)
}

impl ProgressState {
    fn line(&self, text: String) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    fn on(&mut self, ev: lifecycle::Progress) {
        use lifecycle::Progress as P;
        match ev {
            P::PullStarted { image } => self.line(format!("Pulling image {image}...")),
            P::PullLayer {
                image,
                layer,
                status,
                current,
                total,
            } => self.layer(image, layer, status, current, total),
            P::PullDone { image } => {
                let keys: Vec<_> = self
                    .layers
                    .keys()
                    .filter(|(i, _)| *i == image)
                    .cloned()
                    .collect();
                for k in keys {
                    if let Some((bar, _)) = self.layers.remove(&k) {
                        bar.finish_and_clear();
                    }
                }
                let done = self.painter.paint(GREEN, "✓");
                self.line(format!("{done} pulled {image}"));
            }
            P::Waiting {
                pending,
                elapsed,
                timeout,
            } => self.waiting(&pending, elapsed.as_secs(), timeout.as_secs()),
            P::Ready { container } => {
                let done = self.painter.paint(GREEN, "✓");
                self.line(format!("{done} {container} is ready"));
            }
        }
    }

    fn layer(
        &mut self,
        image: String,
        layer: String,
        status: String,
        current: Option<u64>,
        total: Option<u64>,
    ) {
        let key = (image.clone(), layer.clone());
        let Some(multi) = &self.multi else {
            // Plain lines: one per layer and status change.
            let changed = self.layers.get(&key).is_none_or(|(_, s)| *s != status);
            if changed {
                let bytes = match (current, total) {
                    (Some(c), Some(t)) => format!(" ({c} of {t} bytes)"),
                    _ => String::new(),
                };
                eprintln!("{image} layer {}: {status}{bytes}", short_layer(&layer));
                self.layers
                    .insert(key, (indicatif::ProgressBar::hidden(), status));
            }
            return;
        };
        let (bar, last) = self.layers.entry(key).or_insert_with(|| {
            let bar = multi.add(indicatif::ProgressBar::new(total.unwrap_or(0)));
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} {bar:30.cyan/blue} {bytes:>10}/{total_bytes:<10} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_prefix(format!("{image} {}", short_layer(&layer)));
            (bar, String::new())
        });
        if let Some(t) = total {
            bar.set_length(t);
        }
        if let Some(c) = current {
            bar.set_position(c);
        }
        if *last != status {
            bar.set_message(status.clone());
            *last = status;
        }
    }

    fn waiting(&mut self, pending: &[String], elapsed: u64, timeout: u64) {
        let names = pending.join(", ");
        let Some(multi) = &self.multi else {
            let due = self
                .last_wait_line
                .is_none_or(|last| elapsed >= last + PLAIN_WAIT_EVERY);
            if due {
                eprintln!("Waiting for {names}: {elapsed}s of {timeout}s");
                self.last_wait_line = Some(elapsed);
            }
            return;
        };
        let bar = self.wait.get_or_insert_with(|| {
            let bar = multi.add(indicatif::ProgressBar::new(timeout));
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} waiting for {msg} {bar:20.yellow} {pos}s of {len}s",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        bar.set_position(elapsed.min(timeout));
        bar.set_message(names);
    }
}
