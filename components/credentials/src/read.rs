//! Parse the CSV, collecting every problem before giving up.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use catalog::Service;
use secrecy::{ExposeSecret as _, SecretString};

use crate::error::{CredentialsError, Problem};
use crate::rules::{check_username, needs_email, service_problem};

/// One user of the credentials file.
#[derive(Clone)]
pub struct Credential {
    /// The 1-based line the row starts on.
    pub line: u64,
    pub username: String,
    pub password: SecretString,
    pub email: Option<String>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("line", &self.line)
            .field("username", &self.username)
            .field("password", &"***")
            .field("email", &self.email)
            .finish()
    }
}

/// The validated users of a credentials file, in file order.
#[derive(Debug, Clone)]
pub struct Credentials {
    file: String,
    rows: Vec<Credential>,
}

impl Credentials {
    /// The users, in file order.
    #[must_use]
    pub fn rows(&self) -> &[Credential] {
        &self.rows
    }

    /// The user named `username`.
    #[must_use]
    pub fn find(&self, username: &str) -> Option<&Credential> {
        self.rows.iter().find(|c| c.username == username)
    }

    /// The file the users came from, for messages.
    #[must_use]
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Build from rows already validated elsewhere (tests, other sources).
    #[must_use]
    pub fn from_rows(file: impl Into<String>, rows: Vec<Credential>) -> Self {
        Self {
            file: file.into(),
            rows,
        }
    }
}

/// Read and validate `path` for `services` (the services the users will be provisioned in).
///
/// # Errors
/// [`CredentialsError::Io`] when the file cannot be read, [`CredentialsError::Invalid`] with
/// every problem found (line numbers included).
pub fn read(path: &Path, services: &[Service]) -> Result<Credentials, CredentialsError> {
    let bytes = std::fs::read(path).map_err(|source| CredentialsError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(&bytes, &path.display().to_string(), services)
}

const USERNAME: &str = "username";
const PASSWORD: &str = "password";
const EMAIL: &str = "email";

struct Columns {
    username: usize,
    password: usize,
    email: Option<usize>,
    width: usize,
}

fn header_columns(header: &csv::ByteRecord, problems: &mut Vec<Problem>) -> Option<Columns> {
    let line = Some(1);
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in header.iter().enumerate() {
        let name = String::from_utf8_lossy(raw).trim().to_ascii_lowercase();
        if seen.insert(name.clone(), i).is_some() && !name.is_empty() {
            problems.push(Problem {
                line,
                message: format!("the header names the column {name:?} twice"),
            });
        }
    }
    let username = seen.get(USERNAME).copied();
    let password = seen.get(PASSWORD).copied();
    match (username, password) {
        (Some(username), Some(password)) => Some(Columns {
            username,
            password,
            email: seen.get(EMAIL).copied(),
            width: header.len(),
        }),
        _ => {
            let found: Vec<String> = header
                .iter()
                .map(|f| String::from_utf8_lossy(f).trim().to_owned())
                .collect();
            problems.push(Problem {
                line,
                message: format!(
                    "the first line must be a header naming the columns username,password[,email]; found {:?}",
                    found.join(",")
                ),
            });
            None
        }
    }
}

/// Parse and validate CSV `bytes` (named `file` in messages) for `services`.
///
/// # Errors
/// As [`read`].
pub fn parse(
    bytes: &[u8],
    file: &str,
    services: &[Service],
) -> Result<Credentials, CredentialsError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut problems = Vec::new();
    let invalid = |problems| CredentialsError::Invalid {
        file: file.to_owned(),
        problems,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut records = reader.byte_records();
    let header = match records.next() {
        None => {
            return Err(invalid(vec![Problem {
                line: None,
                message: "the file is empty; expected a header username,password[,email]"
                    .to_owned(),
            }]));
        }
        Some(Err(e)) => return Err(invalid(vec![csv_problem(bytes, &e)])),
        Some(Ok(h)) => h,
    };
    let Some(cols) = header_columns(&header, &mut problems) else {
        return Err(invalid(problems));
    };
    let mut rows = Rows {
        bytes,
        email_needed: services
            .iter()
            .copied()
            .filter(|s| needs_email(*s))
            .collect(),
        cols,
        services,
        names: HashMap::new(),
        emails: HashMap::new(),
        problems,
        rows: Vec::new(),
    };
    for rec in records {
        match rec {
            Ok(rec) => rows.add(&rec),
            Err(e) => rows.problems.push(csv_problem(bytes, &e)),
        }
    }
    let Rows {
        mut problems,
        rows,
        cols,
        email_needed,
        ..
    } = rows;
    if cols.email.is_none() {
        for s in &email_needed {
            problems.push(Problem {
                line: Some(1),
                message: format!(
                    "{} needs an email for every user: add an email column",
                    s.display_name()
                ),
            });
        }
    }
    if problems.is_empty() {
        Ok(Credentials {
            file: file.to_owned(),
            rows,
        })
    } else {
        problems.sort_by_key(|p| p.line.unwrap_or(0));
        Err(invalid(problems))
    }
}

/// One pass over the rows after the header: the users read, the names and emails seen so
/// far (with their lines), every problem found.
struct Rows<'a> {
    bytes: &'a [u8],
    cols: Columns,
    services: &'a [Service],
    /// The selected services that need an email per user.
    email_needed: Vec<Service>,
    names: HashMap<String, u64>,
    emails: HashMap<String, u64>,
    problems: Vec<Problem>,
    rows: Vec<Credential>,
}

impl Rows<'_> {
    /// Check one record and keep it (blank lines and unreadable rows are not kept).
    fn add(&mut self, rec: &csv::ByteRecord) {
        let line = line_of(self.bytes, rec.position());
        let at = Some(line);
        if rec.iter().all(<[u8]>::is_empty) {
            return;
        }
        if has_open_quote(self.bytes, rec) {
            self.problems.push(Problem {
                line: at,
                message: "unterminated quote: a field that starts with \" must end with \" on the same line".to_owned(),
            });
            return;
        }
        if rec.len() > self.cols.width {
            self.problems.push(Problem {
                line: at,
                message: format!(
                    "{} fields, but the header has {}",
                    rec.len(),
                    self.cols.width
                ),
            });
            return;
        }
        let Some((username, password, email)) = self.fields(rec, at) else {
            return;
        };
        let mut row_ok = self.check_username(&username, line);
        row_ok &= self.check_password(&username, &password, at);
        let (email_ok, email) = self.check_email(&username, email, line);
        row_ok &= email_ok;
        let cred = Credential {
            line,
            username,
            password,
            email,
        };
        if row_ok {
            self.check_services(&cred, at);
        }
        self.rows.push(cred);
    }

    /// The username, password and email fields as text (each not UTF-8 is a problem).
    fn fields(
        &mut self,
        rec: &csv::ByteRecord,
        at: Option<u64>,
    ) -> Option<(String, SecretString, String)> {
        let mut field = |i: Option<usize>, what: &str| -> Option<String> {
            let raw = i.and_then(|i| rec.get(i)).unwrap_or_default();
            match std::str::from_utf8(raw) {
                Ok(s) => Some(s.to_owned()),
                Err(_) => {
                    self.problems.push(Problem {
                        line: at,
                        message: format!("the {what} is not valid UTF-8"),
                    });
                    None
                }
            }
        };
        let username = field(Some(self.cols.username), USERNAME);
        let password = field(Some(self.cols.password), PASSWORD).map(SecretString::from);
        let email = field(self.cols.email, EMAIL);
        Some((username?, password?, email?))
    }

    /// Records a problem of the row on `at`; false, for `row_ok &= ..`.
    fn report(&mut self, at: Option<u64>, message: String) -> bool {
        self.problems.push(Problem { line: at, message });
        false
    }

    fn check_username(&mut self, username: &str, line: u64) -> bool {
        let at = Some(line);
        if username.is_empty() {
            self.report(at, "the username is empty".to_owned())
        } else if let Err(m) = check_username(username) {
            self.report(at, m)
        } else if let Some(first) = self.names.insert(username.to_ascii_lowercase(), line) {
            self.report(
                at,
                format!("username {username:?} is already used on line {first}"),
            )
        } else {
            true
        }
    }

    fn check_password(&mut self, username: &str, password: &SecretString, at: Option<u64>) -> bool {
        if password.expose_secret().is_empty() {
            self.report(at, format!("the password of {username:?} is empty"))
        } else if password.expose_secret().chars().any(char::is_control) {
            self.report(
                at,
                format!("the password of {username:?} contains a control character"),
            )
        } else {
            true
        }
    }

    /// Whether the email is fine, and the email to keep (none when empty or invalid).
    fn check_email(&mut self, username: &str, email: String, line: u64) -> (bool, Option<String>) {
        let at = Some(line);
        if email.is_empty() {
            let ok = if self.cols.email.is_some() && !self.email_needed.is_empty() {
                // Reported per service below; keep a clear message for the empty field itself.
                self.report(at, format!("the email of {username:?} is empty"))
            } else {
                true
            };
            (ok, None)
        } else if !valid_email(&email) {
            let ok = self.report(
                at,
                format!("email {email:?} is not an address (local@domain)"),
            );
            (ok, None)
        } else {
            let ok = match self.emails.insert(email.to_ascii_lowercase(), line) {
                Some(first) => self.report(
                    at,
                    format!("email {email:?} is already used on line {first}"),
                ),
                None => true,
            };
            (ok, Some(email))
        }
    }

    /// The rules of each selected service for a row that is fine by itself.
    fn check_services(&mut self, cred: &Credential, at: Option<u64>) {
        for s in self.services {
            let missing_column = self.cols.email.is_none() && needs_email(*s);
            if missing_column {
                continue; // reported once after the rows
            }
            if let Some(m) = service_problem(*s, cred) {
                self.problems.push(Problem {
                    line: at,
                    message: m,
                });
            }
        }
    }
}

/// A quote left open swallows the rest of the file into one field (the csv reader is
/// lenient there); fields never span lines here, so every line has balanced quotes.
fn has_open_quote(bytes: &[u8], rec: &csv::ByteRecord) -> bool {
    let Some(start) = rec
        .position()
        .map(|p| usize::try_from(p.byte()).unwrap_or(usize::MAX))
    else {
        return false;
    };
    let text = bytes.get(start..).unwrap_or_default();
    let end = text.iter().position(|b| *b == b'\n').unwrap_or(text.len());
    text[..end].iter().filter(|b| **b == b'"').count() % 2 == 1
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The 1-based line of a record: csv's own line counter skips blank lines, so count
/// the newlines before the record's byte offset instead.
/// The byte offset where a record's text starts.
fn record_start(bytes: &[u8], pos: Option<&csv::Position>) -> usize {
    let mut offset = pos.map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
    offset = offset.min(bytes.len());
    // The reported offset may point at the line terminator before the record.
    while offset < bytes.len() && matches!(bytes[offset], b'\r' | b'\n') {
        offset += 1;
    }
    offset
}

fn line_of(bytes: &[u8], pos: Option<&csv::Position>) -> u64 {
    let before = &bytes[..record_start(bytes, pos)];
    1 + before.iter().filter(|b| **b == b'\n').count() as u64
}

fn csv_problem(bytes: &[u8], e: &csv::Error) -> Problem {
    let line = e.position().map(|p| line_of(bytes, Some(p)));
    let message = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "the line is not valid UTF-8".to_owned(),
        _ => format!("unreadable CSV: {e}"),
    };
    Problem { line, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_passwords() {
        let c = parse(b"username,password\nu1,Sup3rS3cret!\n", "f.csv", &[]).unwrap();
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("Sup3rS3cret"), "{dbg}");
        assert!(dbg.contains("u1"));
    }

    #[test]
    fn email_rule() {
        assert!(valid_email("a@b.org"));
        assert!(!valid_email("a@"));
        assert!(!valid_email("a b@c"));
        assert!(!valid_email("ab.c"));
    }
}
