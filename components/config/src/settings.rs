//! Resolve the layers (defaults < services.env < DTAAS_* env < flags) with figment into
//! validated [`Settings`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use secrecy::SecretString;

use crate::ConfigError;
use crate::envfile::EnvFile;
use crate::keys::{KEYS, KeySpec, Kind, key_spec, suggest};

/// The prefix of environment variables that override settings (`DTAAS_HOSTNAME`, ...).
pub const ENV_PREFIX: &str = "DTAAS_";

/// `DTAAS_*` environment variables that are not settings keys but are read elsewhere, so
/// they are not warned about: the binaries' own (project dir, log filter, store key, the
/// cli's project lock wait), the
/// helper scripts' (`scripts/run-local.sh`), the jobs compose file's image and user, and the
/// tests'.
/// The one list of them; [`is_other_env_var`] also accepts the [`OTHER_ENV_PREFIXES`].
pub const OTHER_ENV_VARS: &[&str] = &[
    "DTAAS_PROJECT_DIR",
    "DTAAS_LOG",
    "DTAAS_STORE_KEY",
    "DTAAS_LOCK_WAIT",
    "DTAAS_UPDATE_DOCS",
    "DTAAS_RUN_IMAGES",
    "DTAAS_RUN_TIMEOUT",
    "DTAAS_JOBS_IMAGE",
    "DTAAS_JOBS_USER",
];

/// Prefixes of test-only `DTAAS_*` variables (`DTAAS_TEST_PG_URL`, ...).
pub const OTHER_ENV_PREFIXES: &[&str] = &["DTAAS_TEST_", "DTAAS_STORE_TEST_"];

/// True for a `DTAAS_*` variable that is known but not a settings key (see
/// [`OTHER_ENV_VARS`]).
#[must_use]
pub fn is_other_env_var(var: &str) -> bool {
    OTHER_ENV_VARS.contains(&var) || OTHER_ENV_PREFIXES.iter().any(|p| var.starts_with(p))
}

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Source {
    Default,
    File { path: PathBuf, line: usize },
    Env { var: String },
    Flag,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("built-in default"),
            Source::File { path, line } => write!(f, "{}:{line}", path.display()),
            Source::Env { var } => write!(f, "environment variable {var}"),
            Source::Flag => f.write_str("--set flag"),
        }
    }
}

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The project directory (holding `config/services.env`).
    pub project_dir: PathBuf,
    /// The process environment (only `DTAAS_<KEY>` entries of known keys are used; the shell's
    /// own `HOSTNAME` and friends never leak in; other `DTAAS_*` entries warn, except
    /// [`OTHER_ENV_VARS`]).
    pub env: Vec<(String, String)>,
    /// `KEY=VALUE` overrides from flags, highest precedence.
    pub overrides: Vec<(String, String)>,
}

/// The `DTAAS_*` entries of a process environment (e.g. `std::env::vars_os()`), for
/// [`LoadOptions::env`]; entries that are not UTF-8 are skipped.
pub fn env_layer(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<(String, String)> {
    vars.into_iter()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect()
}

/// A non-fatal finding while loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning(pub String);

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One resolved key.
#[derive(Clone)]
struct Resolved {
    value: String,
    source: Source,
}

/// The validated, typed settings of a project, resolved once per command.
#[derive(Clone)]
pub struct Settings {
    project_dir: PathBuf,
    values: BTreeMap<String, Resolved>,
    /// Keys in services.env that no spec knows (kept for compose interpolation).
    extra: BTreeMap<String, String>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (k, r) in &self.values {
            if key_spec(k).is_some_and(KeySpec::is_secret) {
                m.entry(k, &"***");
            } else {
                m.entry(k, &r.value);
            }
        }
        m.finish()
    }
}

/// The settings file of a project.
#[must_use]
pub fn env_file_path(project_dir: &Path) -> PathBuf {
    project_dir.join("config").join("services.env")
}

struct Layer {
    name: &'static str,
    dict: Dict,
}

impl Provider for Layer {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name)
    }
    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

fn layer(name: &'static str, pairs: impl IntoIterator<Item = (String, String)>) -> Layer {
    Layer {
        name,
        dict: pairs
            .into_iter()
            .map(|(k, v)| (k, Value::from(v)))
            .collect(),
    }
}

const L_DEFAULT: &str = "built-in default";
const L_FILE: &str = "services.env";
const L_ENV: &str = "environment";
const L_FLAG: &str = "flag";

/// Load and validate the settings of `opts.project_dir`.
///
/// # Errors
/// Any [`ConfigError`]: missing or malformed services.env, an invalid value (naming where it
/// came from), a missing required key, an unknown key in a flag.
pub fn load(opts: &LoadOptions) -> Result<(Settings, Vec<Warning>), ConfigError> {
    let file = EnvFile::read(&env_file_path(&opts.project_dir))?;
    resolve(&opts.project_dir, &file, &opts.env, &opts.overrides)
}

/// Resolve settings from an already parsed services.env.
///
/// # Errors
/// As [`load`].
pub fn resolve(
    project_dir: &Path,
    file: &EnvFile,
    env: &[(String, String)],
    overrides: &[(String, String)],
) -> Result<(Settings, Vec<Warning>), ConfigError> {
    let mut warnings = Vec::new();
    let extra = check_file_keys(file, &mut warnings);
    check_env_keys(env, &mut warnings);
    check_overrides(overrides, &mut warnings)?;
    let values = merge(file, env, overrides)?;
    Ok((
        Settings {
            project_dir: project_dir.to_owned(),
            values,
            extra,
        },
        warnings,
    ))
}

/// Warnings for keys set twice and unknown keys in services.env; the unknown ones, kept as
/// they are.
fn check_file_keys(file: &EnvFile, warnings: &mut Vec<Warning>) -> BTreeMap<String, String> {
    let mut extra = BTreeMap::new();
    let mut seen = BTreeMap::new();
    for (key, value, line) in file.entries() {
        if let Some(prev) = seen.insert(key, line) {
            warnings.push(Warning(format!(
                "{}:{line}: {key} is also set on line {prev}; the last one wins",
                file.path().display()
            )));
        }
        if key_spec(key).is_none() {
            extra.insert(key.to_owned(), value.to_owned());
            let hint = suggest(key)
                .map(|s| format!("; did you mean {s}?"))
                .unwrap_or_default();
            warnings.push(Warning(format!(
                "{}:{line}: unknown key {key}{hint}",
                file.path().display()
            )));
        }
    }
    extra
}

/// A misspelt DTAAS_<KEY> would otherwise be ignored without a word.
fn check_env_keys(env: &[(String, String)], warnings: &mut Vec<Warning>) {
    for (var, _) in env {
        let Some(key) = var.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if key_spec(key).is_none() && !is_other_env_var(var) {
            let hint = suggest(key)
                .map(|s| format!("; did you mean {ENV_PREFIX}{s}?"))
                .unwrap_or_default();
            warnings.push(Warning(format!(
                "environment variable {var}: unknown key {key}, ignored{hint}"
            )));
        }
    }
}

/// An unknown key in `--set` is an error; a secret there is warned about.
fn check_overrides(
    overrides: &[(String, String)],
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    for (key, _) in overrides {
        match key_spec(key) {
            None => {
                return Err(ConfigError::UnknownKey {
                    key: key.clone(),
                    suggestion: suggest(key).map(str::to_owned),
                });
            }
            Some(spec) if spec.is_secret() => {
                warnings.push(Warning(crate::secret_input::set_flag_warning(spec.name)));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// The layers merged (defaults < file < environment < flags), every known key validated and
/// kept with where its value came from.
fn merge(
    file: &EnvFile,
    env: &[(String, String)],
    overrides: &[(String, String)],
) -> Result<BTreeMap<String, Resolved>, ConfigError> {
    let defaults = KEYS
        .iter()
        .filter_map(|k| k.default.map(|d| (k.name.to_owned(), d.to_owned())));
    let file_pairs = file
        .entries()
        .filter(|(k, _, _)| key_spec(k).is_some())
        .map(|(k, v, _)| (k.to_owned(), v.to_owned()));
    let env_pairs = env.iter().filter_map(|(var, v)| {
        let key = var.strip_prefix(ENV_PREFIX)?;
        key_spec(key).map(|_| (key.to_owned(), v.clone()))
    });
    let figment = Figment::new()
        .merge(layer(L_DEFAULT, defaults))
        .merge(layer(L_FILE, file_pairs))
        .merge(layer(L_ENV, env_pairs.collect::<Vec<_>>()))
        .merge(layer(L_FLAG, overrides.iter().cloned()));
    let merged: BTreeMap<String, String> = figment
        .extract()
        .map_err(|e| ConfigError::Merge(e.to_string()))?;

    let mut values = BTreeMap::new();
    for spec in KEYS {
        let Some(value) = merged.get(spec.name) else {
            if spec.required {
                return Err(ConfigError::Required {
                    key: spec.name.to_owned(),
                    hint: Some(format!("in {}", file.path().display())),
                });
            }
            continue;
        };
        let source = match figment.find_metadata(spec.name).map(|m| m.name.as_ref()) {
            Some(L_FILE) => Source::File {
                path: file.path().to_owned(),
                line: file.line_of(spec.name).unwrap_or(0),
            },
            Some(L_ENV) => Source::Env {
                var: format!("{ENV_PREFIX}{}", spec.name),
            },
            Some(L_FLAG) => Source::Flag,
            _ => Source::Default,
        };
        validate(spec, value).map_err(|message| ConfigError::Invalid {
            origin: source.to_string(),
            key: spec.name.to_owned(),
            message,
        })?;
        values.insert(
            spec.name.to_owned(),
            Resolved {
                value: value.clone(),
                source,
            },
        );
    }
    Ok(values)
}

fn parse_port(v: &str) -> Result<u16, String> {
    match v.trim().parse::<u32>() {
        Ok(p) if (1..=65535).contains(&p) => Ok(u16::try_from(p).unwrap_or(u16::MAX)),
        _ => Err(format!(
            "invalid port {v:?} (expected a number from 1 to 65535)"
        )),
    }
}

/// Check `value` against the kind of `spec`. The message never repeats a secret.
///
/// # Errors
/// A human-readable reason.
pub fn validate(spec: &KeySpec, value: &str) -> Result<(), String> {
    let no_ws = |what: &str| {
        if value.is_empty() {
            Err(format!("{what} must not be empty"))
        } else if value.chars().any(char::is_whitespace) {
            Err(format!("{what} {value:?} must not contain whitespace"))
        } else {
            Ok(())
        }
    };
    match spec.kind {
        Kind::Host => no_ws("a host name"),
        Kind::Port => parse_port(value).map(|_| ()),
        Kind::PortRange => {
            let (a, b) = value.split_once('-').unwrap_or((value, value));
            let (a, b) = (parse_port(a)?, parse_port(b)?);
            if a <= b {
                Ok(())
            } else {
                Err(format!("invalid port range {value:?} (start above end)"))
            }
        }
        Kind::Id => value
            .trim()
            .parse::<u32>()
            .map(|_| ())
            .map_err(|_| format!("invalid id {value:?} (expected a non-negative number)")),
        Kind::Text | Kind::Path => Ok(()),
        Kind::Secret => {
            if spec.name == "INFLUXDB_ADMIN_PASSWORD" && value.chars().count() < 8 {
                Err("InfluxDB requires a password of at least 8 characters".into())
            } else {
                Ok(())
            }
        }
        Kind::Bool => parse_bool(value).map(|_| ()).ok_or_else(|| {
            format!("invalid boolean {value:?} (expected true/false, yes/no, on/off, 1/0)")
        }),
        Kind::Email => {
            let ok = value.split_once('@').is_some_and(|(l, d)| {
                !l.is_empty()
                    && !d.is_empty()
                    && !d.contains('@')
                    && !value.contains(char::is_whitespace)
            });
            if ok {
                Ok(())
            } else {
                Err(format!("invalid email address {value:?}"))
            }
        }
        Kind::Seconds => match value.trim().parse::<u64>() {
            Ok(n) if n >= 1 => Ok(()),
            _ => Err(format!(
                "invalid number of seconds {value:?} (expected a whole number, at least 1)"
            )),
        },
        Kind::Image => no_ws("an image reference"),
        Kind::Scheme => match value {
            "http" | "https" => Ok(()),
            _ => Err(format!("invalid scheme {value:?} (expected http or https)")),
        },
        Kind::Orchestrator => crate::Orchestrator::parse(value).map(|_| ()),
        Kind::Name => {
            let empty_allowed = value.is_empty() && spec.default == Some("");
            let well_formed = !value.is_empty()
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-@".contains(c));
            if empty_allowed || well_formed {
                Ok(())
            } else {
                Err(format!("invalid name {value:?} (letters, digits, _ . - @)"))
            }
        }
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

impl Settings {
    /// The project directory these settings belong to.
    #[must_use]
    pub fn project_dir(&self) -> &Path {
        &self.project_dir
    }

    fn raw(&self, key: &str) -> &str {
        self.values.get(key).map_or("", |r| r.value.as_str())
    }

    /// The value of a non-secret key, or `None` when unset or secret.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        if key_spec(key).is_some_and(KeySpec::is_secret) {
            return None;
        }
        self.values.get(key).map(|r| r.value.as_str())
    }

    /// The value of a non-secret key; when the files and environment leave it unset, its
    /// default from `KEYS` (the default layer fills every key that has one), so a caller
    /// never writes a fallback of its own. Empty for a secret or a key with no default.
    #[must_use]
    pub fn text(&self, key: &str) -> &str {
        self.get(key).unwrap_or("")
    }

    /// Where a key's value came from.
    #[must_use]
    pub fn source(&self, key: &str) -> Option<&Source> {
        self.values.get(key).map(|r| &r.source)
    }

    /// A secret value.
    #[must_use]
    pub fn secret(&self, key: &str) -> Option<SecretString> {
        self.values
            .get(key)
            .map(|r| SecretString::from(r.value.clone()))
    }

    /// `HOSTNAME`.
    #[must_use]
    pub fn hostname(&self) -> &str {
        self.raw("HOSTNAME")
    }

    /// `POSTGRES_DB`, ThingsBoard's database (its default from the KEYS table when unset).
    #[must_use]
    pub fn postgres_db(&self) -> &str {
        self.raw("POSTGRES_DB")
    }

    /// The compose project name of `HOSTNAME` ([`crate::project_name_from_hostname`]).
    #[must_use]
    pub fn project_name(&self) -> String {
        crate::project_name_from_hostname(self.hostname())
    }

    /// A validated port key.
    #[must_use]
    pub fn port(&self, key: &str) -> u16 {
        parse_port(self.raw(key)).unwrap_or(0)
    }

    /// A validated id key (uid/gid).
    #[must_use]
    pub fn id(&self, key: &str) -> u32 {
        self.raw(key).trim().parse().unwrap_or(0)
    }

    /// A validated seconds key.
    #[must_use]
    pub fn seconds(&self, key: &str) -> std::time::Duration {
        std::time::Duration::from_secs(self.raw(key).trim().parse().unwrap_or(1))
    }

    /// `SSL_VERIFY`.
    #[must_use]
    pub fn ssl_verify(&self) -> bool {
        // Verification stays on for anything that is not a clear "off".
        parse_bool(self.raw("SSL_VERIFY")).unwrap_or(true)
    }

    /// A validated boolean key (true/false, yes/no, on/off, 1/0), its `KEYS` default when
    /// unset; false for a key that has neither.
    #[must_use]
    pub fn flag(&self, key: &str) -> bool {
        parse_bool(self.raw(key)).unwrap_or(false)
    }

    /// The image a service runs (`<SERVICE>_IMAGE` or the pinned default).
    #[must_use]
    pub fn image(&self, service: catalog::Service) -> &str {
        self.values
            .get(service.image_key())
            .map_or(service.default_image(), |r| r.value.as_str())
    }

    /// `CERTS_SRC`, relative paths taken from the project directory.
    #[must_use]
    pub fn certs_src(&self) -> PathBuf {
        self.project_dir.join(self.raw("CERTS_SRC"))
    }

    /// Every resolved key with its value masked when secret (unless `show_secrets`), and its source.
    #[must_use]
    pub fn entries(&self, show_secrets: bool) -> Vec<(&'static KeySpec, String, &Source)> {
        KEYS.iter()
            .filter_map(|spec| {
                let r = self.values.get(spec.name)?;
                let shown = if spec.is_secret() && !show_secrets {
                    "********".to_owned()
                } else {
                    r.value.clone()
                };
                Some((spec, shown, &r.source))
            })
            .collect()
    }

    /// The variables compose files are interpolated with: every resolved key plus the
    /// unknown keys of services.env. Contains secrets: hand it only to the compose engine.
    #[must_use]
    pub fn interpolation_vars(&self) -> BTreeMap<String, String> {
        let mut vars = self.extra.clone();
        for (k, r) in &self.values {
            vars.insert(k.clone(), r.value.clone());
        }
        vars
    }

    /// Secret keys whose value is still the public template default.
    #[must_use]
    pub fn default_secrets(&self) -> Vec<&'static str> {
        KEYS.iter()
            .filter(|s| {
                s.is_secret()
                    && s.default.is_some()
                    && self.values.get(s.name).map(|r| r.value.as_str()) == s.default
            })
            .map(|s| s.name)
            .collect()
    }
}
