//! A `services.env` document: parsed with line numbers, edited without losing comments or
//! order, written atomically with mode 0600.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::ConfigError;

#[derive(Clone)]
enum Line {
    /// A blank line or a comment, kept verbatim.
    Verbatim(String),
    /// `KEY=VALUE` (possibly with `export `), with its original text for lossless rewriting.
    Entry {
        key: String,
        value: String,
        raw: String,
    },
}

/// A parsed dotenv file.
#[derive(Clone)]
pub struct EnvFile {
    path: PathBuf,
    lines: Vec<Line>,
}

impl std::fmt::Debug for EnvFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be secrets: show the keys only.
        f.debug_struct("EnvFile")
            .field("path", &self.path)
            .field("keys", &self.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parse the value part of `KEY=value`.
fn parse_value(rest: &str) -> Result<String, String> {
    let rest = rest.trim_start();
    let mut chars = rest.char_indices();
    match chars.next() {
        None => Ok(String::new()),
        Some((_, q @ ('\'' | '"'))) => {
            let mut out = String::new();
            let mut escaped = false;
            for (i, c) in chars {
                if q == '"' && escaped {
                    out.push(match c {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => other,
                    });
                    escaped = false;
                } else if q == '"' && c == '\\' {
                    escaped = true;
                } else if c == q {
                    let tail = rest[i + 1..].trim_start();
                    if tail.is_empty() || tail.starts_with('#') {
                        return Ok(out);
                    }
                    return Err(format!("unexpected text after the closing quote: {tail:?}"));
                } else {
                    out.push(c);
                }
            }
            Err(format!(
                "unterminated {q} quote (multi-line values are not supported)"
            ))
        }
        Some(_) => {
            // Unquoted: an inline comment starts at a '#' preceded by whitespace.
            let mut end = rest.len();
            let bytes = rest.as_bytes();
            for (i, b) in bytes.iter().enumerate() {
                if *b == b'#' && i > 0 && bytes[i - 1].is_ascii_whitespace() {
                    end = i;
                    break;
                }
            }
            let value = rest[..end].trim_end();
            if value.contains(['"', '\'']) {
                return Err("a quote inside an unquoted value; quote the whole value".into());
            }
            Ok(value.to_owned())
        }
    }
}

/// Render a value so that [`parse_value`] reads it back unchanged.
fn quote_value(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@,+%^*!~=?[]{}()&<>|;".contains(c))
        && !value.contains(" #");
    if plain {
        value.to_owned()
    } else if !value.contains('\'') && !value.contains('\n') {
        format!("'{value}'")
    } else {
        let mut out = String::from("\"");
        for c in value.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }
}

impl EnvFile {
    /// An empty document that will be written to `path`.
    #[must_use]
    pub fn empty(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lines: Vec::new(),
        }
    }

    /// Read and parse `path`.
    ///
    /// # Errors
    /// `Missing` when the file does not exist, `NotUtf8` or `Syntax` (with the line) when it is
    /// malformed, `Io` otherwise.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let bytes = std::fs::read(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ConfigError::Missing {
                    path: path.to_owned(),
                }
            } else {
                ConfigError::Io {
                    path: path.to_owned(),
                    source: e,
                }
            }
        })?;
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let bytes = e.as_bytes();
                let line = bytes[..e.utf8_error().valid_up_to()]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count()
                    + 1;
                return Err(ConfigError::NotUtf8 {
                    path: path.to_owned(),
                    line,
                });
            }
        };
        Self::parse(path, &text)
    }

    /// Parse `text` as if read from `path`.
    ///
    /// # Errors
    /// `Syntax` naming the line of the first malformed entry.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = Vec::new();
        for (idx, raw) in text.lines().enumerate() {
            let syntax = |message: String, key: Option<&str>| ConfigError::Syntax {
                path: path.to_owned(),
                line: idx + 1,
                key: key.map(str::to_owned),
                message,
            };
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                lines.push(Line::Verbatim(raw.to_owned()));
                continue;
            }
            let body = trimmed
                .strip_prefix("export ")
                .map_or(trimmed, str::trim_start);
            let Some((key, rest)) = body.split_once('=') else {
                return Err(syntax("expected KEY=VALUE".into(), None));
            };
            let key = key.trim_end();
            if !valid_key(key) {
                return Err(syntax(
                    format!(
                        "{key:?} is not a valid key (letters, digits and _; not starting with a digit)"
                    ),
                    None,
                ));
            }
            let value = parse_value(rest).map_err(|m| syntax(m, Some(key)))?;
            lines.push(Line::Entry {
                key: key.to_owned(),
                value,
                raw: raw.to_owned(),
            });
        }
        Ok(Self {
            path: path.to_owned(),
            lines,
        })
    }

    /// The file this document was read from or will be written to.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The value of `key` (the last entry wins, as in every dotenv loader).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries()
            .filter(|(k, _, _)| *k == key)
            .last()
            .map(|(_, v, _)| v)
    }

    /// The line (1-based) that sets `key`.
    #[must_use]
    pub fn line_of(&self, key: &str) -> Option<usize> {
        self.entries()
            .filter(|(k, _, _)| *k == key)
            .last()
            .map(|(_, _, l)| l)
    }

    /// Every entry: key, value, 1-based line.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str, usize)> {
        self.lines.iter().enumerate().filter_map(|(i, l)| match l {
            Line::Entry { key, value, .. } => Some((key.as_str(), value.as_str(), i + 1)),
            Line::Verbatim(_) => None,
        })
    }

    /// The keys, in file order (duplicates included).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries().map(|(k, _, _)| k)
    }

    /// Set `key` to `value`: rewrite its last entry in place, or append one at the end.
    /// Earlier duplicates of the key are removed so the file says one thing.
    pub fn set(&mut self, key: &str, value: &str) {
        let raw = format!("{key}={}", quote_value(value));
        let positions: Vec<usize> = self
            .lines
            .iter()
            .enumerate()
            .filter(|(_, l)| matches!(l, Line::Entry { key: k, .. } if k == key))
            .map(|(i, _)| i)
            .collect();
        let new = Line::Entry {
            key: key.to_owned(),
            value: value.to_owned(),
            raw,
        };
        if let Some((&last, earlier)) = positions.split_last() {
            self.lines[last] = new;
            for &i in earlier.iter().rev() {
                self.lines.remove(i);
            }
        } else {
            self.lines.push(new);
        }
    }

    /// Remove every entry of `key`. Returns whether one existed.
    pub fn unset(&mut self, key: &str) -> bool {
        let before = self.lines.len();
        self.lines
            .retain(|l| !matches!(l, Line::Entry { key: k, .. } if k == key));
        before != self.lines.len()
    }

    /// The document as text.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            let text = match line {
                Line::Verbatim(t) | Line::Entry { raw: t, .. } => t,
            };
            let _ = writeln!(out, "{text}");
        }
        out
    }

    /// Write the document to its path: a temp file in the same directory with mode 0600,
    /// flushed, then renamed over the old file.
    ///
    /// # Errors
    /// `Io` naming the file.
    pub fn write_atomic(&self) -> Result<(), ConfigError> {
        write_atomic(&self.path, self.render().as_bytes(), 0o600)
    }
}

/// Write `bytes` to `path` atomically with `mode`, keeping the owner of the file replaced.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ConfigError> {
    atomic_file::write(path, bytes, mode, atomic_file::Owner::Keep).map_err(|source| {
        ConfigError::Io {
            path: path.to_owned(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<EnvFile, ConfigError> {
        EnvFile::parse(Path::new("config/services.env"), text)
    }

    #[test]
    fn reads_quotes_export_comments_and_blank_lines() {
        let doc = parse(
            "# header\n\nHOSTNAME=foo.example.org # trailing\nexport A='x y # not a comment'\nB=\"say \\\"hi\\\"\\n\"\nC=\nD=a#b\n",
        )
        .unwrap();
        assert_eq!(doc.get("HOSTNAME"), Some("foo.example.org"));
        assert_eq!(doc.get("A"), Some("x y # not a comment"));
        assert_eq!(doc.get("B"), Some("say \"hi\"\n"));
        assert_eq!(doc.get("C"), Some(""));
        assert_eq!(doc.get("D"), Some("a#b"));
        assert_eq!(doc.line_of("A"), Some(4));
    }

    #[test]
    fn malformed_lines_name_the_line_and_key() {
        let cases = [
            (
                "A=1\nnot an entry\n",
                "config/services.env:2: expected KEY=VALUE",
            ),
            (
                "A=1\n\nB='open\n",
                "config/services.env:3: B: unterminated ' quote (multi-line values are not supported)",
            ),
            (
                "1A=x\n",
                "config/services.env:1: \"1A\" is not a valid key (letters, digits and _; not starting with a digit)",
            ),
            (
                "A=\"x\" y\n",
                "config/services.env:1: A: unexpected text after the closing quote: \"y\"",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap_err().to_string(), want, "{text:?}");
        }
    }

    #[test]
    fn set_and_unset_keep_comments_and_order() {
        let mut doc = parse("# c1\nA=1\n# c2\nB=2\nA=3\n").unwrap();
        doc.set("A", "new value");
        doc.set("C", "it's");
        assert!(doc.unset("B"));
        assert!(!doc.unset("ZZ"));
        assert_eq!(doc.render(), "# c1\n# c2\nA='new value'\nC=\"it's\"\n");
    }

    #[test]
    fn quoting_round_trips_awkward_values() {
        for v in [
            "",
            "plain",
            "with space",
            "a #b",
            "q'uote",
            "d\"q",
            "back\\slash",
            "$HOME",
            "p@ss:w0rd!",
        ] {
            let mut doc = EnvFile::empty("x.env");
            doc.set("K", v);
            let back = parse(&doc.render()).unwrap();
            assert_eq!(back.get("K"), Some(v), "{v:?} rendered as {}", doc.render());
        }
    }

    #[test]
    fn debug_never_shows_values() {
        let doc = parse("POSTGRES_PASSWORD=hunter2\n").unwrap();
        let dbg = format!("{doc:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("POSTGRES_PASSWORD"));
    }
}
