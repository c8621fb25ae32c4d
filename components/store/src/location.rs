use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

/// Where the SQLite state database lives inside a project directory.
pub const DEFAULT_SQLITE_RELATIVE_PATH: &str = ".dtaas/state.db";

/// Which database to open.
#[derive(Clone)]
pub enum StoreLocation {
    /// A SQLite file, created (with its parent directory) on first open.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://user:password@host:port/db`). It may hold a
    /// password, so it is a secret: Debug and error texts only show it redacted.
    Postgres(SecretString),
}

impl StoreLocation {
    /// The default location: `<project_dir>/.dtaas/state.db`.
    pub fn default_for_project(project_dir: &Path) -> Self {
        Self::Sqlite(project_dir.join(DEFAULT_SQLITE_RELATIVE_PATH))
    }

    /// The state DB of a project: PostgreSQL when `url` (the DATABASE_URL setting) is given
    /// and not blank, else [`StoreLocation::default_for_project`].
    #[must_use]
    pub fn for_project(project_dir: &Path, url: Option<SecretString>) -> Self {
        match url.filter(|u| !u.expose_secret().trim().is_empty()) {
            Some(url) => Self::Postgres(url),
            None => Self::default_for_project(project_dir),
        }
    }

    /// A human-readable description with any password redacted.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) => redact_url(url.expose_secret()),
        }
    }
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(_) => f.debug_tuple("Postgres").field(&self.describe()).finish(),
        }
    }
}

/// The connection URL as messages show it: [`redact::url`] (the one redaction).
pub(crate) fn redact_url(url: &str) -> String {
    redact::url(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_and_query_passwords() {
        assert_eq!(
            redact_url("postgres://dtaas:s3cret@db.example:5432/state?sslmode=require"),
            "postgres://dtaas:***@db.example:5432/state?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://db/state?user=a&password=s3cret"),
            "postgres://db/state?user=a&password=***"
        );
        assert_eq!(redact_url("postgres://a@db/x"), "postgres://a@db/x");
        assert_eq!(redact_url("s3cret"), "<not shown: not a valid URL>");
        let dir = Path::new("/p");
        assert_eq!(
            StoreLocation::for_project(dir, Some(SecretString::from("  "))).describe(),
            "/p/.dtaas/state.db"
        );
        assert_eq!(
            StoreLocation::for_project(dir, Some(SecretString::from("postgres://a:b@h/d")))
                .describe(),
            "postgres://a:***@h/d"
        );
        for url in [
            "postgres://u:pa/ss@db/x",
            "postgres://u:pa?ss@db/x",
            "postgres://u:p@ss#x@db:5432/x?sslmode=require",
        ] {
            let shown = redact_url(url);
            assert!(shown.starts_with("postgres://"), "{url} -> {shown}");
            assert!(
                !shown.contains("pa") && !shown.contains("ss"),
                "{url} -> {shown}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_url_password() {
        let loc = StoreLocation::Postgres(SecretString::from("postgres://u:hunter2@h/d"));
        let dbg = format!("{loc:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert_eq!(dbg, r#"Postgres("postgres://u:***@h/d")"#);
    }

    #[test]
    fn default_location_is_inside_the_project() {
        let loc = StoreLocation::default_for_project(Path::new("/p"));
        assert_eq!(loc.describe(), "/p/.dtaas/state.db");
    }
}
