//! `certs check`: validate the certificates in `certs/` against HOSTNAME, the clock, each
//! other and `CERTS_SRC`.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use crate::options::certs_dir;
use crate::setup::{DERIVED, scan_source};

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

fn check_leaf(
    c: &mut Checker,
    leaf: &X509Certificate<'_>,
    hostname: &str,
    now: SystemTime,
) -> CertInfo {
    let fc = Some("fullchain.pem");
    // Names.
    let mut names = Vec::new();
    let mut ips = Vec::new();
    if let Ok(Some(san)) = leaf.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push((*d).to_owned()),
                GeneralName::IPAddress(b) => {
                    let ip = match b.len() {
                        4 => <[u8; 4]>::try_from(*b).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*b).ok().map(IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        ips.push(ip);
                    }
                }
                _ => {}
            }
        }
    }
    let all_names: Vec<String> = names
        .iter()
        .cloned()
        .chain(ips.iter().map(IpAddr::to_string))
        .collect();
    let host = hostname.trim();
    if !host.is_empty() {
        let covered = match host.parse::<IpAddr>() {
            Ok(ip) => ips.contains(&ip),
            Err(_) => names.iter().any(|n| dns_matches(n, host)),
        };
        if covered {
            c.push(
                Level::Ok,
                "hostname",
                fc,
                format!("the certificate covers {host}"),
                None,
            );
        } else if all_names.is_empty() {
            c.push(
                Level::Error,
                "hostname",
                fc,
                format!(
                    "the certificate has no subjectAltName, so no client accepts it for {host}"
                ),
                Some(HINT_PAIR),
            );
        } else {
            c.push(
                Level::Error,
                "hostname",
                fc,
                format!(
                    "the certificate does not cover HOSTNAME {host}; it is for {}",
                    all_names.join(", ")
                ),
                Some("issue a certificate for HOSTNAME, or set HOSTNAME in config/services.env to a name the certificate covers"),
            );
        }
    }
    // Validity.
    let now_s = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let validity = leaf.validity();
    let not_after = validity.not_after.timestamp();
    let not_before = validity.not_before.timestamp();
    let days_left = (not_after - now_s).div_euclid(86_400);
    let renew =
        Some("renew the certificate (certbot renew), then run `dtaas-services certs refresh`");
    if now_s > not_after {
        c.push(
            Level::Error,
            "expiry",
            fc,
            format!("the certificate expired {} days ago", -days_left),
            renew,
        );
    } else if now_s < not_before {
        c.push(
            Level::Error,
            "expiry",
            fc,
            "the certificate is not valid yet (check the clock)",
            None,
        );
    } else if days_left < EXPIRY_WARNING_DAYS {
        c.push(
            Level::Warning,
            "expiry",
            fc,
            format!("the certificate expires in {days_left} days"),
            renew,
        );
    } else {
        c.push(
            Level::Ok,
            "expiry",
            fc,
            format!("the certificate is valid for {days_left} more days"),
            None,
        );
    }
    CertInfo {
        subject: leaf.subject().to_string(),
        issuer: leaf.issuer().to_string(),
        names: all_names,
        not_before: rfc3339(validity.not_before.to_datetime()),
        not_after: rfc3339(validity.not_after.to_datetime()),
        days_left,
    }
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// RFC 6125 matching: case-insensitive; a wildcard covers exactly one left-most label.
pub(crate) fn dns_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => match host.split_once('.') {
            Some((first, rest)) => !first.is_empty() && rest == suffix && suffix.contains('.'),
            None => false,
        },
        None => pattern == host,
    }
}

fn check_chain(c: &mut Checker, certs: &[X509Certificate<'_>]) {
    let fc = Some("fullchain.pem");
    let mut ok = true;
    if certs[0].is_ca() {
        ok = false;
        c.push(
            Level::Error,
            "chain",
            fc,
            format!(
                "the first certificate of fullchain.pem is a CA ({}), not the server certificate",
                certs[0].subject()
            ),
            Some("fullchain.pem must list the server certificate first, then each issuer (as Let's Encrypt writes it)"),
        );
    }
    for (i, pair) in certs.windows(2).enumerate() {
        if pair[0].issuer().as_raw() != pair[1].subject().as_raw() {
            ok = false;
            c.push(
                Level::Error,
                "chain",
                fc,
                format!(
                    "certificate #{} ({}) is not issued by the next one, #{} ({})",
                    i + 1,
                    pair[0].subject(),
                    i + 2,
                    pair[1].subject()
                ),
                Some("order fullchain.pem leaf first, each certificate followed by its issuer"),
            );
        }
    }
    if ok && certs.len() == 1 && certs[0].issuer().as_raw() != certs[0].subject().as_raw() {
        c.push(
            Level::Warning,
            "chain",
            fc,
            "fullchain.pem holds only the server certificate, without its issuer; clients may fail to verify it",
            Some("use fullchain.pem (not cert.pem) from the certificate source"),
        );
    } else if ok {
        c.push(
            Level::Ok,
            "chain",
            fc,
            format!(
                "{} certificate(s), leaf first, each issued by the next",
                certs.len()
            ),
            None,
        );
    }
}

fn check_key(c: &mut Checker, key_pem: &[u8], certs: &[X509Certificate<'_>]) {
    let pk = Some("privkey.pem");
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| e.to_string())
        .and_then(|der| rcgen::KeyPair::try_from(&der).map_err(|e| e.to_string()));
    let key = match key {
        Ok(k) => k,
        Err(e) => {
            c.push(
                Level::Error,
                "key_match",
                pk,
                format!("privkey.pem is not a usable private key: {e}"),
                Some(HINT_PAIR),
            );
            return;
        }
    };
    let raw = key.public_key_raw();
    if certs[0].public_key().subject_public_key.data.as_ref() == raw {
        c.push(
            Level::Ok,
            "key_match",
            pk,
            "privkey.pem matches the certificate",
            None,
        );
        return;
    }
    let other = certs
        .iter()
        .position(|x| x.public_key().subject_public_key.data.as_ref() == raw);
    let message = match other {
        Some(i) => format!(
            "privkey.pem does not match the first certificate of fullchain.pem but certificate #{}: the chain is out of order",
            i + 1
        ),
        None => "privkey.pem does not match the certificate in fullchain.pem".to_owned(),
    };
    c.push(Level::Error, "key_match", pk, message, Some(HINT_PAIR));
}

fn check_derived(c: &mut Checker, key: &[u8], chain: &[u8]) {
    let mut combined = key.to_vec();
    if !combined.is_empty() && !combined.ends_with(b"\n") {
        combined.push(b'\n');
    }
    combined.extend_from_slice(chain);
    let mut all_ok = true;
    for name in DERIVED {
        let expected: &[u8] = match name {
            "combined.pem" => &combined,
            "postgres.crt" | "thingsboard-fullchain.pem" => chain,
            _ => key,
        };
        match c.load(name) {
            Ok(actual) if actual == expected => {}
            Ok(_) => {
                all_ok = false;
                c.push(
                    Level::Warning,
                    "derived",
                    Some(name),
                    format!("{name} is out of step with privkey.pem/fullchain.pem"),
                    Some(HINT_REFRESH),
                );
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                all_ok = false;
                c.push(
                    Level::Warning,
                    "derived",
                    Some(name),
                    format!("{name} is missing"),
                    Some("run `dtaas-services host setup`"),
                );
            }
            Err(e) => {
                all_ok = false;
                c.push(
                    Level::Error,
                    "derived",
                    Some(name),
                    format!("cannot read {name}: {e}"),
                    None,
                );
            }
        }
    }
    if all_ok {
        c.push(
            Level::Ok,
            "derived",
            None,
            "the per-service files are in step with privkey.pem/fullchain.pem",
            None,
        );
    }
}

fn check_modes(c: &mut Checker) {
    let mut all_ok = true;
    for name in KEY_FILES {
        let Some(mode) = c.mode_of(name) else {
            continue;
        };
        let mode = mode & 0o777;
        let hint = format!("chmod 600 certs/{name} (`dtaas-services host setup` does it)");
        if mode & 0o004 != 0 {
            all_ok = false;
            c.push(
                Level::Error,
                "key_mode",
                Some(name),
                format!("{name} is readable by everyone (mode {mode:04o})"),
                Some(&hint),
            );
        } else if mode & 0o040 != 0 {
            all_ok = false;
            c.push(
                Level::Warning,
                "key_mode",
                Some(name),
                format!("{name} is readable by its group (mode {mode:04o})"),
                Some(&hint),
            );
        }
    }
    if all_ok {
        c.push(
            Level::Ok,
            "key_mode",
            None,
            "key files are readable by their owner only",
            None,
        );
    }
}

fn check_source(c: &mut Checker, src: &Path) {
    let scan = match scan_source(src) {
        Ok(s) => s,
        Err(e) => {
            c.push(
                Level::Warning,
                "source",
                None,
                format!("cannot compare with CERTS_SRC: {e}"),
                Some("set CERTS_SRC in config/services.env"),
            );
            return;
        }
    };
    let mut behind = Vec::new();
    for (name, path) in &scan.targets {
        if !matches!(name.as_str(), "privkey.pem" | "fullchain.pem") {
            continue;
        }
        let src_content = fs::read(path).ok();
        let dst_content = c.load(name).ok();
        if src_content.is_some() && src_content != dst_content {
            behind.push(name.as_str());
        }
    }
    if behind.is_empty() {
        c.push(
            Level::Ok,
            "source",
            None,
            "certs/ is in step with CERTS_SRC",
            None,
        );
    } else {
        c.push(
            Level::Warning,
            "source",
            None,
            format!(
                "CERTS_SRC holds a different {} than certs/ (renewed?)",
                behind.join(" and ")
            ),
            Some(HINT_REFRESH),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::dns_matches;

    #[test]
    fn wildcard_matching() {
        assert!(dns_matches("example.org", "EXAMPLE.org"));
        assert!(dns_matches("*.example.org", "a.example.org"));
        assert!(!dns_matches("*.example.org", "example.org"));
        assert!(!dns_matches("*.example.org", "a.b.example.org"));
        assert!(!dns_matches("*.org", "example.org"));
        assert!(!dns_matches("a.example.org", "b.example.org"));
        assert!(dns_matches("example.org.", "example.org"));
    }
}
