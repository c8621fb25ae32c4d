//! Let's Encrypt naming and what `CERTS_SRC` provides.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::CertsError;

const LE_PREFIXES: [&str; 4] = ["privkey", "fullchain", "cert", "chain"];

/// Files `host setup` derives; never copied from `CERTS_SRC`.
pub(crate) const DERIVED: [&str; 7] = [
    "combined.pem",
    "privkey-influxdb.pem",
    "privkey-rabbitmq.pem",
    "postgres.key",
    "postgres.crt",
    "thingsboard-privkey.pem",
    "thingsboard-fullchain.pem",
];

/// `privkey.pem` -> (`privkey`, None); `privkey12.pem` -> (`privkey`, Some(12)).
pub(crate) fn le_split(name: &str) -> Option<(&'static str, Option<u64>)> {
    let stem = name.strip_suffix(".pem")?;
    LE_PREFIXES.iter().find_map(|p| {
        let rest = stem.strip_prefix(p)?;
        if rest.is_empty() {
            Some((*p, None))
        } else if rest.bytes().all(|b| b.is_ascii_digit()) {
            rest.parse().ok().map(|n| (*p, Some(n)))
        } else {
            None
        }
    })
}

/// The mode of a file copied from `CERTS_SRC`: by what it holds (`safe_fs::mode_for`:
/// public only for PEM certificates); a `.key` name only ever makes a file private.
pub(crate) fn copy_mode(name: &str, content: &[u8]) -> u32 {
    if name.ends_with(".key") {
        safe_fs::PRIVATE
    } else {
        safe_fs::mode_for(content)
    }
}

/// What `CERTS_SRC` provides.
#[derive(Debug)]
pub(crate) struct SourceScan {
    /// (name in `certs/`, source path), sorted by name.
    pub(crate) targets: Vec<(String, PathBuf)>,
    /// The Let's Encrypt prefixes found (`privkey`, ...).
    pub(crate) prefixes: Vec<&'static str>,
    pub(crate) notes: Vec<String>,
}

/// Lists what the copy step takes from `src`: regular files (symlinks followed, not
/// recursive), Let's Encrypt names normalised (`<prefix>.pem` / `<prefix><N>.pem`: newest by
/// mtime wins, ties go to the unnumbered name, then the highest number), derived names skipped.
pub(crate) fn scan_source(src: &Path) -> Result<SourceScan, CertsError> {
    if !src.is_dir() {
        return Err(CertsError::SourceMissing {
            dir: src.to_path_buf(),
        });
    }
    let mut notes = Vec::new();
    let mut targets: Vec<(String, PathBuf)> = Vec::new();
    // prefix -> (mtime, rank (unnumbered ranks highest), path)
    let mut le: BTreeMap<&'static str, (SystemTime, u64, PathBuf)> = BTreeMap::new();
    let entries = fs::read_dir(src).map_err(|e| CertsError::read(src, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| CertsError::read(src, e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            notes.push(format!("skipped {} (name is not UTF-8)", path.display()));
            continue;
        };
        // Follows symlinks: a dangling link is an unreadable source, not something to skip.
        let meta = fs::metadata(&path).map_err(|e| CertsError::read(&path, e))?;
        if !meta.is_file() {
            continue;
        }
        if DERIVED.contains(&name.as_str()) {
            notes.push(format!(
                "skipped {name} from the source: host setup derives it"
            ));
            continue;
        }
        match le_split(&name) {
            Some((prefix, number)) => {
                let mtime = meta.modified().map_err(|e| CertsError::read(&path, e))?;
                let rank = number.unwrap_or(u64::MAX);
                let better = le
                    .get(prefix)
                    .is_none_or(|(t, r, _)| (mtime, rank) > (*t, *r));
                if better {
                    le.insert(prefix, (mtime, rank, path));
                }
            }
            None => targets.push((name, path)),
        }
    }
    let prefixes = le.keys().copied().collect();
    targets.extend(
        le.into_iter()
            .map(|(prefix, (_, _, path))| (format!("{prefix}.pem"), path)),
    );
    targets.sort();
    notes.sort();
    Ok(SourceScan {
        targets,
        prefixes,
        notes,
    })
}
