//! `config restore-defaults`: template values back, but never a public template password —
//! a secret gets a fresh random value instead — and a backup that never replaces another.

use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::envfile::EnvFile;
use crate::error::ConfigError;
use crate::fresh::random_secret;
use crate::keys::KeySpec;

/// What restoring one key did (never the value: it may be a secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restored {
    /// The template's value was written.
    Template,
    /// A secret got a fresh random value instead of the public template one.
    NewSecret,
    /// The template does not set the key: it was removed, its built-in default applies.
    Removed,
}

/// Put `spec` back to its template default in `doc`. `template` is the parsed
/// `services.env.template`. A secret the template sets gets a fresh random value, never the
/// template's public one.
pub fn restore_key(doc: &mut EnvFile, spec: &KeySpec, template: &EnvFile) -> Restored {
    match template.get(spec.name) {
        Some(v) if spec.is_secret() && !v.is_empty() => {
            doc.set(spec.name, &random_secret());
            Restored::NewSecret
        }
        Some(v) => {
            doc.set(spec.name, v);
            Restored::Template
        }
        None => {
            doc.unset(spec.name);
            Restored::Removed
        }
    }
}

/// The whole services.env from `template` (its text) for `path`, every secret the template
/// sets with a fresh random value. Returns the document and the secret keys that got one.
///
/// # Errors
/// The template does not parse.
pub fn from_template(
    path: &Path,
    template: &str,
) -> Result<(EnvFile, Vec<&'static str>), ConfigError> {
    let mut doc = EnvFile::parse(path, template)?;
    // The template's secrets are the public built-in defaults (a test in the project brick
    // keeps them equal), so this is what `project generate` does to a new file.
    let generated = crate::replace_default_secrets(&mut doc);
    Ok((doc, generated))
}

/// Copy `path` byte for byte (mode 0600) to a new file next to it,
/// `<name>.<UTC timestamp>.bak` (`services.env.20250102T030405Z.bak`, then `-2`, `-3`, ...
/// within the same second). An existing backup is never overwritten. `None` when `path` does
/// not exist.
///
/// # Errors
/// `path` cannot be read, or the backup cannot be written (a partial backup is removed).
pub fn backup(path: &Path) -> Result<Option<PathBuf>, ConfigError> {
    backup_at(path, SystemTime::now())
}

fn backup_at(path: &Path, now: SystemTime) -> Result<Option<PathBuf>, ConfigError> {
    let io = |p: &Path| {
        let p = p.to_owned();
        move |source| ConfigError::Io { path: p, source }
    };
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let name = path
        .file_name()
        .map_or_else(|| "services.env".into(), |n| n.to_string_lossy());
    let stamp = utc_stamp(now);
    for n in 1u32.. {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("-{n}")
        };
        let target = path.with_file_name(format!("{name}.{stamp}{suffix}.bak"));
        let mut file = match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&target)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(&target)(e)),
        };
        if let Err(e) = file.write_all(&bytes).and_then(|()| file.sync_all()) {
            let _ = fs::remove_file(&target);
            return Err(io(&target)(e));
        }
        return Ok(Some(target));
    }
    unreachable!("u32 suffixes exhausted")
}

/// `20250102T030405Z` (RFC 3339 in UTC without its separators).
fn utc_stamp(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t)
        .to_string()
        .replace(['-', ':'], "")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::keys::key_spec;

    const TEMPLATE: &str = "# t\nHOSTNAME=services.intocps.org\nGRAFANA_PORT=8088\n\
POSTGRES_PASSWORD=dtaas_secret\nMONGODB_ADMIN_PASSWORD='XaphrDKDTaaS2025'\n#DATABASE_URL=x\n";

    fn template() -> EnvFile {
        EnvFile::parse(Path::new("template"), TEMPLATE).unwrap()
    }

    #[test]
    fn stamps() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_735_787_045);
        assert_eq!(utc_stamp(t), "20250102T030405Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_825_599);
        assert_eq!(utc_stamp(leap), "20000229T115959Z");
        let new_year = UNIX_EPOCH + Duration::from_secs(1_704_067_199);
        assert_eq!(utc_stamp(new_year), "20231231T235959Z");
    }

    #[test]
    fn a_secret_gets_a_fresh_value_never_the_template_one() {
        let mut doc = EnvFile::parse(
            Path::new("s"),
            "POSTGRES_PASSWORD=mine\nGRAFANA_PORT=1\nDATABASE_URL=postgres://u:p@h/d\n",
        )
        .unwrap();
        let t = template();
        let pg = key_spec("POSTGRES_PASSWORD").unwrap();
        assert_eq!(restore_key(&mut doc, pg, &t), Restored::NewSecret);
        let first = doc.get("POSTGRES_PASSWORD").unwrap().to_owned();
        assert_ne!(first, "dtaas_secret");
        assert_ne!(first, "mine");
        assert_eq!(first.len(), 24);
        assert_eq!(restore_key(&mut doc, pg, &t), Restored::NewSecret);
        assert_ne!(doc.get("POSTGRES_PASSWORD"), Some(first.as_str()));

        let port = key_spec("GRAFANA_PORT").unwrap();
        assert_eq!(restore_key(&mut doc, port, &t), Restored::Template);
        assert_eq!(doc.get("GRAFANA_PORT"), Some("8088"));
        // A secret the template does not set is removed, not invented.
        let url = key_spec("DATABASE_URL").unwrap();
        assert_eq!(restore_key(&mut doc, url, &t), Restored::Removed);
        assert_eq!(doc.get("DATABASE_URL"), None);
    }

    #[test]
    fn the_whole_file_gets_fresh_secrets_and_template_values() {
        let (doc, generated) = from_template(Path::new("s"), TEMPLATE).unwrap();
        assert_eq!(generated, ["MONGODB_ADMIN_PASSWORD", "POSTGRES_PASSWORD"]);
        for key in generated {
            let v = doc.get(key).unwrap();
            assert!(v.len() == 24 && v != "dtaas_secret" && v != "XaphrDKDTaaS2025");
        }
        assert_eq!(doc.get("HOSTNAME"), Some("services.intocps.org"));
        assert!(doc.render().starts_with("# t\nHOSTNAME="));
    }

    #[test]
    fn backups_never_overwrite_one_another() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("services.env");
        assert_eq!(backup(&path).unwrap(), None);
        fs::write(&path, b"A=1\n\xff raw bytes kept\n").unwrap();
        let t = UNIX_EPOCH + Duration::from_secs(1_735_787_045);
        let first = backup_at(&path, t).unwrap().unwrap();
        assert_eq!(
            first.file_name().unwrap(),
            "services.env.20250102T030405Z.bak"
        );
        fs::write(&path, "A=2\n").unwrap();
        let second = backup_at(&path, t).unwrap().unwrap();
        assert_eq!(
            second.file_name().unwrap(),
            "services.env.20250102T030405Z-2.bak"
        );
        assert_eq!(fs::read(&first).unwrap(), b"A=1\n\xff raw bytes kept\n");
        assert_eq!(fs::read(&second).unwrap(), b"A=2\n");
        let mode = fs::metadata(&second).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
