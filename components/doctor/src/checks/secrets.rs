//! Certificates, secret file modes and weak secrets.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use secrecy::ExposeSecret as _;

use super::MIN_SECRET_LEN;
use crate::{DoctorReport, Level};

/// `certs::check` of the project's certificates for HOSTNAME: its problems, or one line
/// saying they are valid.
pub(super) fn check_certs(r: &mut DoctorReport, dir: &Path, s: &config::Settings, host: &str) {
    let cert_report = certs::check(&certs::CheckOptions::new(
        dir.to_owned(),
        Some(s.certs_src()),
        host.to_owned(),
    ));
    let mut cert_problems = 0;
    for f in &cert_report.findings {
        let level = match f.level {
            certs::Level::Ok => continue,
            certs::Level::Warning => Level::Warning,
            certs::Level::Error => Level::Error,
        };
        cert_problems += 1;
        let message = match &f.file {
            Some(file) => format!("{file}: {}", f.message),
            None => f.message.clone(),
        };
        r.push("certs", level, message, f.hint.clone());
    }
    if cert_problems == 0 {
        let until = cert_report
            .certificate
            .as_ref()
            .map(|c| format!(", valid for {} more days", c.days_left))
            .unwrap_or_default();
        r.push(
            "certs",
            Level::Ok,
            format!("certificates valid for {host}{until}"),
            None,
        );
    }
}

/// The secret files that exist, relative to the project directory.
fn secret_files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = [
        "config/services.env",
        "config/credentials.csv",
        "config/gitlab_oauth.json",
        ".dtaas/store.key",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    if let Ok(entries) = std::fs::read_dir(dir.join("certs")) {
        let mut keys: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| {
                std::path::Path::new(n)
                    .extension()
                    .is_some_and(|x| x == "key")
                    || n.starts_with("privkey")
            })
            .map(|n| format!("certs/{n}"))
            .collect();
        keys.sort();
        out.extend(keys);
    }
    out.retain(|f| dir.join(f).is_file());
    out
}

pub(super) fn check_modes(r: &mut DoctorReport, dir: &Path) {
    let files = secret_files(dir);
    let mut bad = 0;
    for f in &files {
        let Ok(meta) = std::fs::metadata(dir.join(f)) else {
            continue;
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bad += 1;
            r.push(
                "file_modes",
                Level::Error,
                format!("{f} is mode {mode:04o}: readable by other users"),
                Some(format!("chmod 600 {}", dir.join(f).display())),
            );
        }
    }
    if bad == 0 {
        r.push(
            "file_modes",
            Level::Ok,
            format!("{} secret files are 0600", files.len()),
            None,
        );
    }
}

pub(super) fn check_passwords(r: &mut DoctorReport, s: &config::Settings) {
    let defaults = s.default_secrets();
    if !defaults.is_empty() {
        r.push(
            "passwords",
            Level::Error,
            format!(
                "{} secrets still have the public template value: {}",
                defaults.len(),
                defaults.join(", ")
            ),
            Some("set each with `dtaas-services config set KEY -` (the value on stdin) before the services are first started".to_owned()),
        );
    }
    let weak: Vec<&str> = config::KEYS
        .iter()
        .filter(|k| k.is_secret() && !defaults.contains(&k.name))
        .filter(|k| {
            s.secret(k.name).is_some_and(|v| {
                !v.expose_secret().is_empty() && v.expose_secret().chars().count() < MIN_SECRET_LEN
            })
        })
        .map(|k| k.name)
        .collect();
    if !weak.is_empty() {
        r.push(
            "passwords",
            Level::Warning,
            format!(
                "{} secrets are shorter than {MIN_SECRET_LEN} characters: {}",
                weak.len(),
                weak.join(", ")
            ),
            Some(
                "use longer passwords (`dtaas-services config set KEY -`, the value on stdin)"
                    .to_owned(),
            ),
        );
    }
    if defaults.is_empty() && weak.is_empty() {
        r.push(
            "passwords",
            Level::Ok,
            "no default or weak secrets in config/services.env",
            None,
        );
    }
}
