//! The files: the derived per-service copies in step, key modes, and CERTS_SRC.

use std::fs;
use std::io;
use std::path::Path;

use super::{Checker, HINT_REFRESH, KEY_FILES, Level};
use crate::setup::{DERIVED, scan_source};

pub(super) fn check_derived(c: &mut Checker, key: &[u8], chain: &[u8]) {
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

pub(super) fn check_modes(c: &mut Checker) {
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

pub(super) fn check_source(c: &mut Checker, src: &Path) {
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
