//! `certs self-signed`: a local CA and a leaf for HOSTNAME, localhost and 127.0.0.1.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::check::{CheckOptions, Level, check_dir};
use crate::error::CertsError;
use crate::fsx;
use crate::setup::le_split;

/// The files written, in order.
pub const SELF_SIGNED_FILES: [&str; 5] = [
    "privkey.pem",
    "fullchain.pem",
    "cert.pem",
    "chain.pem",
    "ca.pem",
];

/// What `certs self-signed` does.
#[derive(Debug, Clone)]
pub struct SelfSignedOptions {
    /// Where `CERTS_SRC` points.
    pub dir: PathBuf,
    pub hostname: String,
    /// Validity of the leaf and the CA, in days.
    pub days: u32,
    /// Overwrite existing certificates that are not a valid set for this host, and write next
    /// to numbered Let's Encrypt files. Numbered files and Let's Encrypt's links to them are
    /// never changed, even with `force`.
    pub force: bool,
}

impl SelfSignedOptions {
    /// 365 days, no force.
    pub fn new(dir: PathBuf, hostname: String) -> Self {
        SelfSignedOptions {
            dir,
            hostname,
            days: 365,
            force: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SelfSignedReport {
    pub dir: PathBuf,
    /// False when a valid set for this host was already there (nothing written).
    pub generated: bool,
    /// Names the leaf certificate covers.
    pub names: Vec<String>,
    pub files: Vec<PathBuf>,
    /// Numbered Let's Encrypt files left in place next to the new set (only with `force`):
    /// `host setup` installs the newest file of each name, i.e. the self-signed set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lets_encrypt: Vec<PathBuf>,
}

fn leaf_names(hostname: &str) -> Vec<String> {
    let mut names = vec![hostname.to_owned()];
    for n in ["localhost", "127.0.0.1"] {
        if !names.iter().any(|x| x.eq_ignore_ascii_case(n)) {
            names.push(n.to_owned());
        }
    }
    names
}

/// Writes a development CA and a leaf certificate into `opts.dir` (keys 0600, certificates
/// 0644, atomically). An existing set that is valid for the host (key matches, names covered,
/// not expiring within 30 days) is kept; anything else already there is only replaced with
/// `force`.
pub fn self_signed(opts: &SelfSignedOptions) -> Result<SelfSignedReport, CertsError> {
    let hostname = opts.hostname.trim();
    if hostname.is_empty() || hostname.contains(['/', ' ', ':']) {
        return Err(CertsError::InvalidHostname {
            hostname: opts.hostname.clone(),
            reason: "expected a DNS name or an IP address".to_owned(),
        });
    }
    let names = leaf_names(hostname);
    let files: Vec<PathBuf> = SELF_SIGNED_FILES.iter().map(|f| opts.dir.join(f)).collect();
    // Let's Encrypt's live layout: `privkey.pem` -> `../../archive/<host>/privkey3.pem`.
    // Replacing those links would break certbot's renewals: never, not even with force.
    let links: Vec<PathBuf> = files
        .iter()
        .filter(|p| fs::read_link(p).is_ok_and(|t| is_numbered(&t)))
        .cloned()
        .collect();
    if !links.is_empty() {
        return Err(CertsError::LetsEncryptLinks { paths: links });
    }
    // Let's Encrypt's archive layout: `host setup` installs the newest `privkey<N>.pem`, so a
    // self-signed set written next to them would replace the real certificate.
    let lets_encrypt = numbered_files(&opts.dir)?;
    if !lets_encrypt.is_empty() && !opts.force {
        return Err(CertsError::LetsEncrypt {
            dir: opts.dir.clone(),
            paths: lets_encrypt,
        });
    }
    let existing: Vec<PathBuf> = files
        .iter()
        .filter(|p| fs::symlink_metadata(p).is_ok())
        .cloned()
        .collect();
    if !existing.is_empty() && !opts.force {
        if existing.len() == files.len() && existing_set_is_valid(&opts.dir, &names) {
            return Ok(SelfSignedReport {
                dir: opts.dir.clone(),
                generated: false,
                names,
                files,
                lets_encrypt,
            });
        }
        return Err(CertsError::Exists { paths: existing });
    }

    let contents = generate(hostname, &names, opts.days)?;
    fsx::ensure_dir_path(&opts.dir)?;
    for (path, (content, mode)) in files.iter().zip(contents) {
        fsx::write_path(path, content.as_bytes(), mode)?;
    }
    Ok(SelfSignedReport {
        dir: opts.dir.clone(),
        generated: true,
        names,
        files,
        lets_encrypt,
    })
}

/// A new development CA and a leaf for `names` valid `days` days: the contents and modes of
/// [`SELF_SIGNED_FILES`], in that order.
fn generate(hostname: &str, names: &[String], days: u32) -> Result<[(String, u32); 5], CertsError> {
    let now = OffsetDateTime::now_utc();
    let not_before = now - Duration::days(1);
    let not_after = now + Duration::days(i64::from(days.max(1)));

    let mut ca = CertificateParams::default();
    ca.distinguished_name.push(
        DnType::CommonName,
        format!("dtaas-services development CA for {hostname}"),
    );
    ca.distinguished_name
        .push(DnType::OrganizationName, "dtaas-services");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let mut leaf = CertificateParams::new(names.to_vec())?;
    leaf.distinguished_name
        .push(DnType::CommonName, hostname.to_owned());
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    leaf.use_authority_key_identifier_extension = true;
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    let leaf_key = KeyPair::generate()?;
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;

    let ca_pem = ca_cert.pem();
    let leaf_pem = leaf_cert.pem();
    Ok([
        (leaf_key.serialize_pem(), 0o600),
        (format!("{leaf_pem}{ca_pem}"), 0o644),
        (leaf_pem, 0o644),
        (ca_pem.clone(), 0o644),
        (ca_pem, 0o644),
    ])
}

/// `privkey3.pem`, `fullchain12.pem`, ...: a numbered Let's Encrypt name.
fn is_numbered(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(le_split)
        .is_some_and(|(_, number)| number.is_some())
}

/// The numbered Let's Encrypt files in `dir` (none when `dir` does not exist), sorted.
fn numbered_files(dir: &Path) -> Result<Vec<PathBuf>, CertsError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CertsError::read(dir, e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| CertsError::read(dir, e))?.path();
        if is_numbered(&path) {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// The set in `dir` has a matching key, covers every name and is not close to expiry.
fn existing_set_is_valid(dir: &Path, names: &[String]) -> bool {
    names.iter().all(|name| {
        let report = check_dir(
            dir,
            &CheckOptions {
                project_dir: PathBuf::new(),
                certs_src: None,
                hostname: name.clone(),
                now: SystemTime::now(),
            },
        );
        ["files", "key_match", "hostname", "expiry", "chain"]
            .iter()
            .all(|id| report.findings_of(id).all(|f| f.level == Level::Ok))
    })
}
