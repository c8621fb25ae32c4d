use std::fmt;
use std::path::PathBuf;

/// One thing wrong with the credentials file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The 1-based line of the file, when the problem is on one line.
    pub line: Option<u64>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Why the credentials could not be used. No variant ever holds a password.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", invalid_text(.file, .problems))]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
}

fn invalid_text(file: &str, problems: &[Problem]) -> String {
    let n = problems.len();
    let mut s = format!(
        "{file} is invalid ({n} problem{}); nothing was changed:",
        if n == 1 { "" } else { "s" }
    );
    for p in problems {
        s.push_str("\n  ");
        s.push_str(&p.to_string());
    }
    s
}
