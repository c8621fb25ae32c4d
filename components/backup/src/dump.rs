//! The check every `pg_dumpall` script passes before `psql` replays it, and the split of
//! the replay at its `\connect` lines.
//!
//! psql runs any backslash command a script holds — `\!` runs a shell, `\o`, `\w` and
//! `\copy` write files, `\i` reads them, `\set` and `\gexec` change what runs — in the
//! PostgreSQL container. A script is data from elsewhere, so it is lexed the way psql
//! lexes it (comments, string literals, quoted identifiers, dollar quotes, and the data
//! of `COPY … FROM stdin` up to its `\.` line, which never count as commands) and every
//! backslash command must be one `pg_dumpall` writes:
//!
//! - `\connect <database>` (or `\connect -reuse-previous=on "dbname=…"` for names
//!   that need quoting), as `appendPsqlMetaConnect` writes it
//!   (postgres/postgres src/fe_utils/string_utils.c) — one database name, never a
//!   connection string naming another host;
//! - `\restrict <key>` and `\unrestrict <key>`: since the August 2025 minor releases
//!   (CVE-2025-8714; 13.22, 14.19, 15.14, 16.10, 17.6) `pg_dumpall` writes `\restrict` at
//!   the top, `\unrestrict` before the databases, and `pg_dump` brackets its `\connect`
//!   with `\unrestrict`/`\restrict` (src/bin/pg_dump/pg_dumpall.c,
//!   src/bin/pg_dump/pg_backup_archiver.c `_reconnectToDB`). psql
//!   (src/bin/psql/command.c `HandleSlashCmds`, `exec_command_restrict`) then refuses every
//!   backslash command but `\unrestrict` with the same key; the check does the same.
//!
//! Anything else refuses the restore naming the line, before anything is touched. The
//! replay does not rely on the check alone: each database's part runs in its own psql,
//! started in restricted mode with a random key, so psql itself refuses any backslash
//! command the check might have read differently.

use std::collections::BTreeSet;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use crate::BackupError;

/// A backslash command the replay acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Meta {
    /// Continue in this database.
    Connect(String),
    Restrict,
    Unrestrict,
}

/// A line of the script, as the replay treats it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    /// SQL, or the data of a `COPY … FROM stdin`: fed to psql.
    Feed,
    Meta(Meta),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Top,
    Quote { escapes: bool },
    Ident,
    Dollar(Vec<u8>),
    Comment(u32),
}

/// The statement being read: enough to know a `COPY … FROM stdin`.
#[derive(Debug, Default)]
struct Stmt {
    tokens: u32,
    copy: bool,
    after_from: bool,
    from_stdin: bool,
}

/// psql's view of a script, line by line.
#[derive(Debug)]
pub(crate) struct Lexer {
    state: State,
    depth: u32,
    stmt: Stmt,
    /// `COPY … FROM stdin` data blocks still to read, from the next line on.
    copy_blocks: u32,
    copy_pending: u32,
    restricted: Option<String>,
}

fn ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn ident_cont(c: u8) -> bool {
    ident_start(c) || c.is_ascii_digit() || c == b'$'
}

impl Lexer {
    pub(crate) fn new() -> Lexer {
        Lexer {
            state: State::Top,
            depth: 0,
            stmt: Stmt::default(),
            copy_blocks: 0,
            copy_pending: 0,
            restricted: None,
        }
    }

    /// At the start of a statement (nothing pending, not in a literal or COPY data).
    pub(crate) fn at_statement_start(&self) -> bool {
        self.state == State::Top && self.stmt.tokens == 0 && self.copy_blocks == 0
    }

    /// Read one line (without its newline). `Err` is why it is refused.
    pub(crate) fn line(&mut self, line: &[u8]) -> Result<Line, String> {
        if self.copy_blocks > 0 {
            if line.strip_suffix(b"\r").unwrap_or(line) == b"\\." {
                self.copy_blocks -= 1;
            }
            return Ok(Line::Feed);
        }
        let mut i = 0;
        while i < line.len() {
            i = match self.state.clone() {
                State::Top => match self.top(line, i)? {
                    Step::At(next) => next,
                    Step::Meta(m) => return Ok(Line::Meta(m)),
                    Step::EndOfLine => break,
                },
                State::Quote { escapes } => self.quoted(line, i, escapes),
                State::Ident => self.ident(line, i),
                State::Dollar(tag) => {
                    if line[i..].starts_with(&tag) {
                        self.state = State::Top;
                        i + tag.len()
                    } else {
                        i + 1
                    }
                }
                State::Comment(depth) => self.comment(line, i, depth),
            };
        }
        self.copy_blocks += std::mem::take(&mut self.copy_pending);
        Ok(Line::Feed)
    }

    fn quoted(&mut self, line: &[u8], i: usize, escapes: bool) -> usize {
        match line[i] {
            b'\\' if escapes => i + 2,
            b'\'' if line.get(i + 1) == Some(&b'\'') => i + 2,
            b'\'' => {
                self.state = State::Top;
                i + 1
            }
            _ => i + 1,
        }
    }

    fn ident(&mut self, line: &[u8], i: usize) -> usize {
        match line[i] {
            b'"' if line.get(i + 1) == Some(&b'"') => i + 2,
            b'"' => {
                self.state = State::Top;
                i + 1
            }
            _ => i + 1,
        }
    }

    fn comment(&mut self, line: &[u8], i: usize, depth: u32) -> usize {
        match (line[i], line.get(i + 1)) {
            (b'/', Some(b'*')) => {
                self.state = State::Comment(depth + 1);
                i + 2
            }
            (b'*', Some(b'/')) => {
                self.state = if depth <= 1 {
                    State::Top
                } else {
                    State::Comment(depth - 1)
                };
                i + 2
            }
            _ => i + 1,
        }
    }

    fn top(&mut self, line: &[u8], i: usize) -> Result<Step, String> {
        let c = line[i];
        if ident_start(c) {
            let end = i + line[i..].iter().take_while(|c| ident_cont(**c)).count();
            let word = &line[i..end];
            if line.get(end) == Some(&b'\'') && word.eq_ignore_ascii_case(b"e") {
                self.token();
                self.state = State::Quote { escapes: true };
                return Ok(Step::At(end + 1));
            }
            self.word(word);
            return Ok(Step::At(end));
        }
        let next = line.get(i + 1).copied();
        Ok(Step::At(match c {
            b'-' if next == Some(b'-') => return Ok(Step::EndOfLine),
            b'/' if next == Some(b'*') => {
                self.state = State::Comment(1);
                i + 2
            }
            b'\'' => {
                self.token();
                self.state = State::Quote { escapes: false };
                i + 1
            }
            b'"' => {
                self.token();
                self.state = State::Ident;
                i + 1
            }
            b'$' => {
                self.token();
                match dollar_tag(&line[i..]) {
                    Some(tag) => {
                        let n = tag.len();
                        self.state = State::Dollar(tag);
                        i + n
                    }
                    None => i + 1,
                }
            }
            b'\\' => return self.meta(line, i).map(Step::Meta),
            b';' if self.depth == 0 => {
                if self.stmt.copy && self.stmt.from_stdin {
                    self.copy_pending += 1;
                }
                self.stmt = Stmt::default();
                i + 1
            }
            b'(' => {
                self.token();
                self.depth += 1;
                i + 1
            }
            b')' => {
                self.token();
                self.depth = self.depth.saturating_sub(1);
                i + 1
            }
            c if c.is_ascii_whitespace() => i + 1,
            _ => {
                self.token();
                i + 1
            }
        }))
    }

    fn token(&mut self) {
        self.stmt.tokens += 1;
        self.stmt.after_from = false;
    }

    fn word(&mut self, word: &[u8]) {
        let first = self.stmt.tokens == 0;
        self.stmt.tokens += 1;
        if first && word.eq_ignore_ascii_case(b"copy") {
            self.stmt.copy = true;
        }
        if self.stmt.after_from && word.eq_ignore_ascii_case(b"stdin") {
            self.stmt.from_stdin = true;
        }
        self.stmt.after_from = word.eq_ignore_ascii_case(b"from");
    }

    /// A backslash command: it must start its line, outside any statement, and be one
    /// `pg_dumpall` writes.
    fn meta(&mut self, line: &[u8], i: usize) -> Result<Meta, String> {
        let text = String::from_utf8_lossy(&line[i..]);
        let text = text.trim_end();
        let (cmd, args) = text[1..]
            .split_once(|c: char| c.is_ascii_whitespace())
            .map_or((&text[1..], ""), |(c, a)| (c, a.trim()));
        let shown: String = cmd.chars().take(20).collect();
        if !line[..i].iter().all(u8::is_ascii_whitespace) || self.stmt.tokens > 0 {
            return Err(format!(
                "the backslash command \\{shown} is inside a statement"
            ));
        }
        if let Some(key) = &self.restricted {
            return if cmd == "unrestrict" && args == key {
                self.restricted = None;
                Ok(Meta::Unrestrict)
            } else {
                Err(format!(
                    "\\{shown} after \\restrict: psql allows only \\unrestrict with the same key there"
                ))
            };
        }
        match cmd {
            "connect" => connect_target(args).map(Meta::Connect).ok_or_else(|| {
                "\\connect does not name one database the way pg_dumpall writes it".to_owned()
            }),
            "restrict" if restrict_key(args) => {
                self.restricted = Some(args.to_owned());
                Ok(Meta::Restrict)
            }
            "restrict" => Err("\\restrict without an alphanumeric key".to_owned()),
            "unrestrict" => Err("\\unrestrict without a \\restrict before it".to_owned()),
            _ => Err(format!(
                "\\{shown} is not a command a pg_dumpall script holds (\\connect, \\restrict, \\unrestrict)"
            )),
        }
    }
}

enum Step {
    At(usize),
    Meta(Meta),
    EndOfLine,
}

/// `$tag$` or `$$` at the start of `s` (a tag cannot start with a digit: `$1` is a
/// parameter).
fn dollar_tag(s: &[u8]) -> Option<Vec<u8>> {
    let body = &s[1..];
    if body.first().is_some_and(|c| ident_start(*c)) || body.first() == Some(&b'$') {
        let n = body
            .iter()
            .take_while(|c| ident_cont(**c) && **c != b'$')
            .count();
        if body.get(n) == Some(&b'$') {
            return Some(s[..n + 2].to_vec());
        }
    }
    None
}

fn restrict_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|c| c.is_ascii_alphanumeric())
}

fn plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
}

/// The content of a double-quoted psql argument spanning all of `s`.
fn unquote_double(s: &str) -> Option<String> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            // Only a doubled quote may stand inside.
            chars.next_if_eq(&'"')?;
        }
        out.push(c);
    }
    Some(out)
}

/// The database a `\connect` line switches to: a plain name, a double-quoted name that
/// psql does not read as a connection string, or `-reuse-previous=on "dbname=…"` naming
/// only the database.
fn connect_target(args: &str) -> Option<String> {
    if let Some(rest) = args.strip_prefix("-reuse-previous=on ") {
        let conninfo = unquote_double(rest.trim())?;
        return conninfo_dbname(conninfo.strip_prefix("dbname=")?);
    }
    if plain_name(args) {
        return Some(args.to_owned());
    }
    let name = unquote_double(args)?;
    let conninfo =
        name.contains('=') || name.starts_with("postgresql://") || name.starts_with("postgres://");
    (!name.is_empty() && !conninfo && name != "-").then_some(name)
}

/// A libpq connection-string value spanning all of `v`: plain, or single-quoted with
/// `\'` and `\\` escapes (`appendConnStrVal`).
fn conninfo_dbname(v: &str) -> Option<String> {
    if plain_name(v) {
        return Some(v.to_owned());
    }
    let inner = v.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '\'' => return None,
            c => out.push(c),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A dump being read: every line checked, the pieces psql is fed.
pub(crate) struct Script<R> {
    reader: R,
    file: PathBuf,
    lexer: Lexer,
    line_no: u64,
    bytes: u64,
    limit: u64,
    /// `CREATE ROLE <this>;` is left out: the role the server was initialised with.
    bootstrap_role: Option<String>,
    /// Databases the script creates.
    pub(crate) creates: BTreeSet<String>,
}

/// What the next line of a script is for the replay.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Feed these bytes (a line with its newline).
    Feed(Vec<u8>),
    /// Continue in this database.
    Connect(String),
    /// A line the replay leaves out.
    Skip,
    End,
}

impl<R: BufRead> Script<R> {
    pub(crate) fn new(reader: R, file: &Path, limit: u64, bootstrap_role: Option<&str>) -> Self {
        Script {
            reader,
            file: file.to_owned(),
            lexer: Lexer::new(),
            line_no: 0,
            bytes: 0,
            limit,
            bootstrap_role: bootstrap_role.map(str::to_owned),
            creates: BTreeSet::new(),
        }
    }

    fn refused(&self, reason: String) -> BackupError {
        BackupError::DumpRefused {
            file: self.file.clone(),
            line: self.line_no,
            reason,
        }
    }

    /// The next line.
    ///
    /// # Errors
    /// [`BackupError::DumpRefused`] naming the line, [`BackupError::ArchiveTooLarge`]
    /// past `limit` bytes, read errors.
    pub(crate) fn next_piece(&mut self) -> Result<Piece, BackupError> {
        let mut buf = Vec::new();
        let n = self
            .reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| crate::error::io_err(&self.file, &e))?;
        if n == 0 {
            return Ok(Piece::End);
        }
        self.line_no += 1;
        self.bytes += n as u64;
        if self.bytes > self.limit {
            return Err(BackupError::ArchiveTooLarge {
                archive: self.file.clone(),
                service: "postgres".to_owned(),
                what: "bytes",
                limit: self.limit,
            });
        }
        let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let start = self.lexer.at_statement_start();
        let skip = start && self.statement(text);
        match self.lexer.line(text).map_err(|r| self.refused(r))? {
            Line::Feed if skip => Ok(Piece::Skip),
            Line::Feed => Ok(Piece::Feed(buf)),
            Line::Meta(Meta::Connect(db)) => Ok(Piece::Connect(db)),
            Line::Meta(_) => Ok(Piece::Skip),
        }
    }

    /// Note a `CREATE DATABASE`; whether the line is the bootstrap role's `CREATE ROLE`.
    fn statement(&mut self, text: &[u8]) -> bool {
        let text = String::from_utf8_lossy(text);
        let text = text.trim();
        if let Some(name) = text
            .strip_prefix("CREATE DATABASE ")
            .and_then(sql_identifier)
        {
            self.creates.insert(name);
        }
        let role = text
            .strip_prefix("CREATE ROLE ")
            .and_then(|r| r.strip_suffix(';'))
            .and_then(sql_identifier);
        role.is_some() && role == self.bootstrap_role
    }

    /// Read the whole script: every line checked.
    ///
    /// # Errors
    /// Those of [`Self::next_piece`].
    pub(crate) fn check_all(mut self) -> Result<BTreeSet<String>, BackupError> {
        while self.next_piece()? != Piece::End {}
        Ok(self.creates)
    }
}

/// The identifier `pg_dump`'s `fmtId` wrote at the start of `s` (alone, or followed by a
/// space): plain lower case, or double-quoted.
fn sql_identifier(s: &str) -> Option<String> {
    if let Some(rest) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '"' && chars.next_if_eq(&'"').is_none() {
                return Some(out);
            }
            out.push(c);
        }
        return None;
    }
    let word: String = s
        .chars()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '$')
        .collect();
    let rest = &s[word.len()..];
    (!word.is_empty() && (rest.is_empty() || rest.starts_with(' '))).then_some(word)
}

/// An SQL identifier, double-quoted.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests;
