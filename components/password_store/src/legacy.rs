//! One-time import of the Python CLI's secret files, and export of `gitlab_tokens.json`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use store::{ImportOutcome, NewSecret, Outcome};
use zeroize::Zeroizing;

use crate::error::PasswordStoreError;
use crate::names::{
    GITLAB_CLIENT_APP, GITLAB_ROOT_CURRENT_PASSWORD, GITLAB_ROOT_PAT, GITLAB_SERVER_APP,
    TB_SYSADMIN_CURRENT_PASSWORD, TB_TENANT_ADMIN_CURRENT_PASSWORD, gitlab_user_pat, validate_name,
};
use crate::store::{OAuthApp, PasswordStore, app_plain};

/// The meta key recording that the legacy files were imported.
pub const LEGACY_IMPORT_MARKER: &str = "import.legacy-config";

const PASSWORD_ENV: &str = "password.env.current";
const GITLAB_TOKENS: &str = "gitlab_tokens.json";
const GITLAB_USER_TOKENS: &str = "gitlab_user_tokens.json";
const ENV_KEYS: [&str; 3] = [
    TB_SYSADMIN_CURRENT_PASSWORD,
    TB_TENANT_ADMIN_CURRENT_PASSWORD,
    GITLAB_ROOT_CURRENT_PASSWORD,
];

/// What [`PasswordStore::import_legacy`] did. Names only, never values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LegacyImport {
    /// The import had already run for this database: nothing was read.
    pub already_done: bool,
    /// The legacy files found and read.
    pub files: Vec<PathBuf>,
    /// Secrets imported now.
    pub imported: Vec<String>,
    /// Secrets already in the store, kept (the store is newer than the files).
    pub kept: Vec<String>,
    /// Keys of password.env.current that are not password store names.
    pub ignored_keys: Vec<String>,
}

/// A plaintext value read from a legacy file, wiped on drop.
type Plain = Zeroizing<Vec<u8>>;

impl PasswordStore {
    /// Import `config/password.env.current`, `config/gitlab_tokens.json` and
    /// `config/gitlab_user_tokens.json` from `config_dir`, once per database: the import and
    /// its marker are one transaction, so a second run (or a racing process) imports nothing.
    /// When none of the files exists nothing is recorded, so a later run still imports them.
    /// Secrets already in the store are kept. The files are left in place. A malformed file is
    /// an error naming the file (and line) and nothing is imported.
    pub async fn import_legacy(
        &self,
        config_dir: &Path,
    ) -> Result<LegacyImport, PasswordStoreError> {
        if self.store.get_meta(LEGACY_IMPORT_MARKER).await?.is_some() {
            return Ok(LegacyImport {
                already_done: true,
                ..LegacyImport::default()
            });
        }
        let mut report = LegacyImport::default();
        let mut values: Vec<(String, Plain)> = Vec::new();

        let env_path = config_dir.join(PASSWORD_ENV);
        if let Some(text) = read_optional(&env_path)? {
            report.files.push(env_path.clone());
            for (key, value) in parse_dotenv(&text, &env_path)? {
                if ENV_KEYS.contains(&key.as_str()) {
                    values.push((key, value));
                } else {
                    report.ignored_keys.push(key);
                }
            }
        }
        let tokens_path = config_dir.join(GITLAB_TOKENS);
        if let Some(text) = read_optional(&tokens_path)? {
            report.files.push(tokens_path.clone());
            for (name, value) in parse_gitlab_tokens(&text, &tokens_path)? {
                // password.env.current is newer than a leftover `root_password`.
                if !values.iter().any(|(n, _)| *n == name) {
                    values.push((name, value));
                }
            }
        }
        let users_path = config_dir.join(GITLAB_USER_TOKENS);
        if let Some(text) = read_optional(&users_path)? {
            report.files.push(users_path.clone());
            values.extend(parse_user_tokens(&text, &users_path)?);
        }
        if report.files.is_empty() {
            return Ok(report);
        }
        // The Python CLI left these plaintext files readable by others at times: they are
        // kept in place for tools that read them, but never readable by group or others.
        for path in &report.files {
            restrict_to_owner(path)?;
        }

        let sealed: Vec<NewSecret> = values.iter().map(|(n, v)| self.seal(n, v)).collect();
        let files: Vec<String> = report
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let marker = format!("imported from {}", files.join(", "));
        match self
            .store
            .import_secrets_once(LEGACY_IMPORT_MARKER, &marker, &sealed, SystemTime::now())
            .await?
        {
            ImportOutcome::AlreadyDone => {
                return Ok(LegacyImport {
                    already_done: true,
                    ..LegacyImport::default()
                });
            }
            ImportOutcome::Imported { inserted, kept } => {
                report.imported = inserted;
                report.kept = kept;
            }
        }
        let mut detail = format!("{marker}: imported [{}]", report.imported.join(", "));
        if !report.kept.is_empty() {
            detail.push_str(&format!(", kept newer [{}]", report.kept.join(", ")));
        }
        self.journal("secrets import-legacy", Outcome::Ok, detail)
            .await?;
        Ok(report)
    }

    /// Write the legacy `gitlab_tokens.json` shape (`personal_access_token`, `server_app`,
    /// `client_app`) atomically with mode 0600, for tools that still read it.
    pub async fn export_gitlab_tokens(&self, path: &Path) -> Result<(), PasswordStoreError> {
        let pat = self
            .get(GITLAB_ROOT_PAT)
            .await?
            .ok_or_else(|| PasswordStoreError::Missing {
                name: GITLAB_ROOT_PAT.to_owned(),
            })?;
        let mut doc = Map::new();
        doc.insert(
            "personal_access_token".into(),
            Value::String(pat.expose_secret().to_owned()),
        );
        for (key, name) in [
            ("server_app", GITLAB_SERVER_APP),
            ("client_app", GITLAB_CLIENT_APP),
        ] {
            if let Some(app) = self.get_oauth_app(name).await? {
                let mut v = serde_json::to_value(app_plain(&app)).expect("plain strings serialize");
                // GitLab's application id is a number in the files the Python CLI wrote.
                if let Ok(n) = app.application_id.parse::<u64>() {
                    v["application_id"] = Value::from(n);
                }
                doc.insert(key.into(), v);
            }
        }
        let mut text = Zeroizing::new(
            serde_json::to_string_pretty(&Value::Object(doc)).expect("JSON values serialize"),
        );
        text.push('\n');
        write_private_atomically(path, text.as_bytes()).map_err(|source| {
            PasswordStoreError::Write {
                path: path.to_owned(),
                source,
            }
        })?;
        self.journal(
            "secrets export gitlab",
            Outcome::Ok,
            format!("wrote {}", path.display()),
        )
        .await
    }
}

fn legacy_err(path: &Path) -> impl Fn(io::Error) -> PasswordStoreError + '_ {
    move |e| PasswordStoreError::LegacyFile {
        path: path.to_owned(),
        line: None,
        detail: e.to_string(),
    }
}

/// Clear the group and other permission bits of `path`, through its descriptor: a link
/// (or a hard-linked file) is refused, never chmod-ed through.
fn restrict_to_owner(path: &Path) -> Result<(), PasswordStoreError> {
    use std::os::unix::fs::PermissionsExt as _;
    let err = legacy_err(path);
    let (dir, name) = safe_fs::Dir::for_file(path, None).map_err(&err)?;
    let file = dir.open(&name, safe_fs::Open::read()).map_err(&err)?;
    let mode = file.metadata().map_err(&err)?.permissions().mode();
    if mode & 0o077 != 0 {
        file.set_permissions(fs::Permissions::from_mode(mode & 0o700))
            .map_err(&err)?;
    }
    Ok(())
}

/// The file's text, read without following a link (`None` when it or `config/` is missing).
fn read_optional(path: &Path) -> Result<Option<Zeroizing<String>>, PasswordStoreError> {
    let read = safe_fs::Dir::for_file(path, None).and_then(|(dir, name)| dir.read(&name));
    match read {
        Ok(bytes) => String::from_utf8(bytes)
            .map(|t| Some(Zeroizing::new(t)))
            .map_err(|_| PasswordStoreError::LegacyFile {
                path: path.to_owned(),
                line: None,
                detail: "not UTF-8 text".to_owned(),
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(legacy_err(path)(e)),
    }
}

/// python-dotenv's format as written by `set_key`: `KEY='value'`, plus `export `, double
/// quotes, unquoted values with ` #` comments, blank lines and `#` comments.
fn parse_dotenv(text: &str, path: &Path) -> Result<Vec<(String, Plain)>, PasswordStoreError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let err = |detail: &str| PasswordStoreError::LegacyFile {
            path: path.to_owned(),
            line: Some(i + 1),
            detail: detail.to_owned(),
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, raw) = line
            .split_once('=')
            .ok_or_else(|| err("expected KEY=value"))?;
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(err("invalid key"));
        }
        let raw = raw.trim();
        let value: Vec<u8> = if let Some(inner) = quoted(raw, '\'') {
            inner.replace("\\'", "'").into_bytes()
        } else if let Some(inner) = quoted(raw, '"') {
            unescape_double(inner).into_bytes()
        } else if raw.starts_with(['\'', '"']) {
            return Err(err("unterminated quoted value"));
        } else {
            raw.split(" #")
                .next()
                .unwrap_or_default()
                .trim_end()
                .as_bytes()
                .to_vec()
        };
        out.push((key.to_owned(), Zeroizing::new(value)));
    }
    Ok(out)
}

fn quoted(raw: &str, q: char) -> Option<&str> {
    (raw.len() >= 2 && raw.starts_with(q) && raw.ends_with(q)).then(|| &raw[1..raw.len() - 1])
}

fn unescape_double(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn json_err(path: &Path, detail: String) -> PasswordStoreError {
    PasswordStoreError::LegacyFile {
        path: path.to_owned(),
        line: None,
        detail,
    }
}

fn parse_json_object(text: &str, path: &Path) -> Result<Map<String, Value>, PasswordStoreError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        // serde_json's message holds a position, never the document.
        Err(e) => Err(PasswordStoreError::LegacyFile {
            path: path.to_owned(),
            line: Some(e.line()),
            detail: "invalid JSON".to_owned(),
        }),
        Ok(_) => Err(json_err(path, "expected a JSON object".to_owned())),
    }
}

fn string_field(
    map: &Map<String, Value>,
    key: &str,
    path: &Path,
) -> Result<Option<String>, PasswordStoreError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if key == "application_id" => Ok(Some(n.to_string())),
        Some(_) => Err(json_err(path, format!("`{key}` must be a string"))),
    }
}

/// `gitlab_tokens.json`: `root_password`, `personal_access_token`, `server_app`, `client_app`.
fn parse_gitlab_tokens(
    text: &str,
    path: &Path,
) -> Result<Vec<(String, Plain)>, PasswordStoreError> {
    let map = parse_json_object(text, path)?;
    let mut out = Vec::new();
    if let Some(pat) = string_field(&map, "personal_access_token", path)? {
        out.push((GITLAB_ROOT_PAT.to_owned(), Zeroizing::new(pat.into_bytes())));
    }
    if let Some(pw) = string_field(&map, "root_password", path)? {
        out.push((
            GITLAB_ROOT_CURRENT_PASSWORD.to_owned(),
            Zeroizing::new(pw.into_bytes()),
        ));
    }
    for (key, name) in [
        ("server_app", GITLAB_SERVER_APP),
        ("client_app", GITLAB_CLIENT_APP),
    ] {
        let app = match map.get(key) {
            None | Some(Value::Null) => continue,
            Some(Value::Object(app)) => app,
            Some(_) => return Err(json_err(path, format!("`{key}` must be an object"))),
        };
        let field = |k: &str| -> Result<String, PasswordStoreError> {
            string_field(app, k, path)
                .map(Option::unwrap_or_default)
                .map_err(|_| json_err(path, format!("`{key}.{k}` must be a string")))
        };
        let app = OAuthApp {
            application_id: field("application_id")?,
            name: field("name")?,
            client_id: field("client_id")?,
            client_secret: SecretString::from(field("client_secret")?),
        };
        let bytes = serde_json::to_vec(&app_plain(&app)).expect("plain strings serialize");
        out.push((name.to_owned(), Zeroizing::new(bytes)));
    }
    Ok(out)
}

/// `gitlab_user_tokens.json`: `{username: token}`.
fn parse_user_tokens(text: &str, path: &Path) -> Result<Vec<(String, Plain)>, PasswordStoreError> {
    let map = parse_json_object(text, path)?;
    let mut out = Vec::new();
    for (user, token) in map {
        let name = gitlab_user_pat(&user);
        validate_name(&name).map_err(|_| json_err(path, format!("invalid username {user:?}")))?;
        let Value::String(token) = token else {
            return Err(json_err(
                path,
                format!("the token of {user:?} must be a string"),
            ));
        };
        out.push((name, Zeroizing::new(token.into_bytes())));
    }
    Ok(out)
}

/// Write through a temporary file in the same directory, mode 0600, then rename.
fn write_private_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    atomic_file::write(path, bytes, 0o600, atomic_file::Owner::Keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<(String, String)>, PasswordStoreError> {
        parse_dotenv(text, Path::new("config/password.env.current")).map(|v| {
            v.into_iter()
                .map(|(k, v)| (k, String::from_utf8(v.to_vec()).unwrap()))
                .collect()
        })
    }

    #[test]
    fn dotenv_as_written_by_python_dotenv() {
        let text = "# Auto-generated by dtaas-services. Do not edit manually.\n\
                    TB_SYSADMIN_CURRENT_PASSWORD='p#a=ss word'\n\
                    \n\
                    export GITLAB_ROOT_CURRENT_PASSWORD=\"a\\\"b\"\n\
                    OTHER=plain # comment\n\
                    QUOTE='it\\'s'\n";
        assert_eq!(
            parse(text).unwrap(),
            [
                ("TB_SYSADMIN_CURRENT_PASSWORD".into(), "p#a=ss word".into()),
                ("GITLAB_ROOT_CURRENT_PASSWORD".into(), "a\"b".into()),
                ("OTHER".into(), "plain".into()),
                ("QUOTE".into(), "it's".into()),
            ]
        );
    }

    #[test]
    fn dotenv_errors_name_file_and_line_never_the_value() {
        let err = parse("A='ok'\nno equals sign here-s3cret\n").unwrap_err();
        let msg = err.to_string();
        assert_eq!(
            msg,
            "cannot import config/password.env.current line 2: expected KEY=value; nothing was imported"
        );
        let msg = parse("A='unterminated-s3cret\n").unwrap_err().to_string();
        assert!(msg.contains("line 1") && !msg.contains("s3cret"), "{msg}");
    }

    #[test]
    fn gitlab_tokens_shapes() {
        let p = Path::new("gitlab_tokens.json");
        let v = parse_gitlab_tokens(
            r#"{"personal_access_token":"glpat-1","server_app":{"application_id":3,"name":"s","client_id":"cid","client_secret":"cs"}}"#,
            p,
        )
        .unwrap();
        let names: Vec<&str> = v.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, [GITLAB_ROOT_PAT, GITLAB_SERVER_APP]);
        assert!(
            String::from_utf8(v[1].1.to_vec())
                .unwrap()
                .contains(r#""application_id":"3""#)
        );
        let err = parse_gitlab_tokens(r#"{"personal_access_token": 5}"#, p).unwrap_err();
        assert!(
            err.to_string()
                .contains("`personal_access_token` must be a string"),
            "{err}"
        );
        let err = parse_gitlab_tokens("{not json s3cret", p)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("invalid JSON") && !err.contains("s3cret"),
            "{err}"
        );
    }
}
