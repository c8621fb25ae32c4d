//! `certs check`: validate the certificates in `certs/` against HOSTNAME, the clock, each
//! other and `CERTS_SRC`.

mod files;
mod leaf;

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Serialize;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use self::files::{check_derived, check_modes, check_source};
use self::leaf::{check_chain, check_key, check_leaf};
use crate::options::certs_dir;

/// Days before expiry from which `check` warns.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// What `certs check` looks at.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub project_dir: PathBuf,
    /// `CERTS_SRC`, to tell whether `certs/` is behind the source (renewed certificates).
    pub certs_src: Option<PathBuf>,
    pub hostname: String,
    /// The clock (injectable for tests).
    pub now: SystemTime,
}

impl CheckOptions {
    pub fn new(project_dir: PathBuf, certs_src: Option<PathBuf>, hostname: String) -> Self {
        CheckOptions {
            project_dir,
            certs_src,
            hostname,
            now: SystemTime::now(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Error,
}

/// One result of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub level: Level,
    /// Stable id of the check: `files`, `key_match`, `hostname`, `expiry`, `chain`,
    /// `derived`, `key_mode`, `source`.
    pub check: &'static str,
    /// Relative to the project directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub message: String,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The server certificate (first of `fullchain.pem`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// DNS names and IP addresses of the subjectAltName extension.
    pub names: Vec<String>,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339.
    pub not_after: String,
    /// Whole days until `not_after` (negative once expired).
    pub days_left: i64,
}

/// The result of `certs check` (`--json` prints it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub hostname: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertInfo>,
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// True when a finding is an error (`certs check` exits 1).
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.level == Level::Error)
    }

    pub fn has_warnings(&self) -> bool {
        self.findings.iter().any(|f| f.level == Level::Warning)
    }

    /// The findings of one check id.
    pub fn findings_of(&self, check: &str) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.check == check)
    }
}

const HINT_SETUP: &str = "run `dtaas-services host setup` (or `dtaas-services certs self-signed` for a development host)";
const HINT_REFRESH: &str = "run `dtaas-services certs refresh`";
const HINT_PAIR: &str = "put the private key and the certificate chain of the same issuance in CERTS_SRC, then run `dtaas-services certs refresh`";

/// Key files that must not be readable by group or others.
const KEY_FILES: [&str; 6] = [
    "privkey.pem",
    "combined.pem",
    "privkey-influxdb.pem",
    "privkey-rabbitmq.pem",
    "postgres.key",
    "thingsboard-privkey.pem",
];

struct Checker {
    certs: PathBuf,
    /// The project's `certs/`: read through `safe_fs` (never a link or a hard-linked file).
    /// `CERTS_SRC` (the operator's, made of links by Let's Encrypt) is read by path.
    in_project: bool,
    findings: Vec<Finding>,
}

impl Checker {
    fn load(&self, name: &str) -> io::Result<Vec<u8>> {
        let path = self.certs.join(name);
        if self.in_project {
            let (dir, name) = safe_fs::Dir::for_file(&path, None)?;
            dir.read(&name)
        } else {
            fs::read(path)
        }
    }

    /// The mode of a regular file `name` (`None` when missing, a link or unreadable).
    fn mode_of(&self, name: &str) -> Option<u32> {
        let path = self.certs.join(name);
        if self.in_project {
            let (dir, name) = safe_fs::Dir::for_file(&path, None).ok()?;
            let m = dir.meta(&name).ok()??;
            (m.kind == safe_fs::Kind::File).then_some(m.mode)
        } else {
            fs::metadata(path)
                .ok()
                .map(|m| m.permissions().mode() & 0o7777)
        }
    }

    fn push(
        &mut self,
        level: Level,
        check: &'static str,
        file: Option<&str>,
        message: impl Into<String>,
        hint: Option<&str>,
    ) {
        self.findings.push(Finding {
            level,
            check,
            file: file.map(|f| format!("certs/{f}")),
            message: message.into(),
            hint: hint.map(str::to_owned),
        });
    }

    fn read(&mut self, name: &'static str) -> Option<Vec<u8>> {
        match self.load(name) {
            Ok(c) => Some(c),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.push(
                    Level::Error,
                    "files",
                    Some(name),
                    format!("{name} is missing"),
                    Some(HINT_SETUP),
                );
                None
            }
            Err(e) => {
                self.push(
                    Level::Error,
                    "files",
                    Some(name),
                    format!("cannot read {name}: {e}"),
                    None,
                );
                None
            }
        }
    }
}

/// Validates `<project>/certs`. Never fails: every problem is a finding.
pub fn check(opts: &CheckOptions) -> CheckReport {
    check_in(&certs_dir(&opts.project_dir), opts, true)
}

/// [`check`] on the certificates in `certs` (the project directory of `opts` is not used).
pub(crate) fn check_dir(certs: &Path, opts: &CheckOptions) -> CheckReport {
    check_in(certs, opts, false)
}

fn check_in(certs: &Path, opts: &CheckOptions, in_project: bool) -> CheckReport {
    let mut c = Checker {
        certs: certs.to_path_buf(),
        in_project,
        findings: Vec::new(),
    };
    let mut info = None;
    if opts.hostname.trim().is_empty() {
        c.push(
            Level::Error,
            "hostname",
            None,
            "HOSTNAME is empty",
            Some("set HOSTNAME in config/services.env"),
        );
    }
    let key = c.read("privkey.pem");
    let chain = c.read("fullchain.pem");
    if let Some(chain_pem) = &chain {
        let ders: Result<Vec<CertificateDer<'_>>, _> =
            CertificateDer::pem_slice_iter(chain_pem).collect();
        match ders {
            Err(e) => c.push(
                Level::Error,
                "chain",
                Some("fullchain.pem"),
                format!("fullchain.pem is not a valid PEM certificate list: {e}"),
                Some(HINT_SETUP),
            ),
            Ok(ders) if ders.is_empty() => c.push(
                Level::Error,
                "chain",
                Some("fullchain.pem"),
                "fullchain.pem holds no certificate",
                Some(HINT_SETUP),
            ),
            Ok(ders) => {
                let parsed: Result<Vec<X509Certificate<'_>>, _> = ders
                    .iter()
                    .map(|d| X509Certificate::from_der(d).map(|(_, x)| x))
                    .collect();
                match parsed {
                    Err(e) => c.push(
                        Level::Error,
                        "chain",
                        Some("fullchain.pem"),
                        format!("fullchain.pem holds an unparsable certificate: {e}"),
                        Some(HINT_SETUP),
                    ),
                    Ok(certs) => {
                        info = Some(check_leaf(&mut c, &certs[0], &opts.hostname, opts.now));
                        check_chain(&mut c, &certs);
                        if let Some(key) = &key {
                            check_key(&mut c, key, &certs);
                        }
                    }
                }
            }
        }
    }
    if let (Some(key), Some(chain)) = (&key, &chain) {
        check_derived(&mut c, key, chain);
    }
    check_modes(&mut c);
    if let Some(src) = &opts.certs_src {
        check_source(&mut c, src);
    }
    CheckReport {
        hostname: opts.hostname.clone(),
        certificate: info,
        findings: c.findings,
    }
}

#[cfg(test)]
mod tests;
