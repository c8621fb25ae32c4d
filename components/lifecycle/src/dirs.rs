//! The per-service directories `remove --volumes`, `clean` and `start` change, reached
//! through `safe_fs` from the project directory: a link anywhere in a path is refused (a
//! data dir linked to `/somewhere` is never emptied), links inside a data dir are removed
//! as links, and a mount point inside one is left in place and reported.

use std::io;
use std::path::Path;

use catalog::Service;
use safe_fs::{Dir, Kind};

use crate::LeftAlone;

/// InfluxDB's setup output: a stale one breaks the next setup.
const INFLUX_CONFIGS: &str = "config/influxdb/influx-configs";

/// What `remove --volumes` and `clean` wipe for `services`: data and log dirs, and
/// InfluxDB's `config/influxdb/influx-configs`.
pub(crate) fn service_dirs(services: &[Service]) -> Vec<&'static str> {
    let mut out = Vec::new();
    for s in services {
        out.push(s.data_dir());
        out.extend(s.log_dir());
        if *s == Service::InfluxDb {
            out.push(INFLUX_CONFIGS);
        }
    }
    out
}

/// Refuse before anything changes: every path of `rels` that exists must be reachable
/// from `project` without a link (InfluxDB's file may itself be a link: removed as one).
pub(crate) fn check(project: &Path, rels: &[&str]) -> io::Result<()> {
    let root = Dir::open_root(project)?;
    for rel in rels {
        if *rel == INFLUX_CONFIGS {
            root.meta(rel)?;
            continue;
        }
        match root.open_dir(rel) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Wipe `rel` below `project`: InfluxDB's configs removed, a directory emptied (see
/// [`empty_dir`]). Returns whether there was something; links removed as links and mount
/// points left in place are added to `left`.
pub(crate) fn wipe(project: &Path, rel: &str, left: &mut LeftAlone) -> io::Result<bool> {
    if rel == INFLUX_CONFIGS {
        let root = Dir::open_root(project)?;
        let out = root.remove_all(rel)?;
        if let Some(out) = &out {
            left.add(rel, out);
        }
        return Ok(out.is_some());
    }
    empty_dir(project, rel, left)
}

/// Delete everything inside `project/rel` except a top-level `.gitkeep`; the directory
/// itself, its owner and mode stay. `false` when it does not exist. A link at `rel` (or
/// above it) is refused; links inside are removed as links and mount points inside left
/// in place (both added to `left`).
pub(crate) fn empty_dir(project: &Path, rel: &str, left: &mut LeftAlone) -> io::Result<bool> {
    let dir = match Dir::open_root(project).and_then(|r| r.open_dir(rel)) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let out = dir.empty(&[".gitkeep"])?;
    left.add(rel, &out);
    Ok(true)
}

/// Remove `project/rel/.gitkeep` when it is the only entry. PostgreSQL's initdb refuses a
/// data directory that is not empty, and projects made by the Python CLI (and older
/// versions of this one) ship `data/postgres/.gitkeep`. Returns whether it was removed.
pub(crate) fn drop_lone_gitkeep(project: &Path, rel: &str) -> io::Result<bool> {
    let dir = match Dir::open_root(project).and_then(|r| r.open_dir(rel)) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    match dir.entries()?.as_slice() {
        [(name, meta)] if name == ".gitkeep" && meta.kind == Kind::File => {
            dir.remove_file(".gitkeep")
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn empties_but_keeps_dir_mode_and_gitkeep() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("data/x");
        fs::create_dir_all(dir.join("sub/deep")).unwrap();
        fs::write(dir.join("sub/deep/f"), "1").unwrap();
        fs::write(dir.join("file"), "1").unwrap();
        fs::write(dir.join(".gitkeep"), "").unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o750)).unwrap();
        let mut left = LeftAlone::default();
        assert!(empty_dir(d.path(), "data/x", &mut left).unwrap());
        assert_eq!(left, LeftAlone::default());
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, [".gitkeep"]);
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o750
        );
        assert!(!empty_dir(d.path(), "missing", &mut LeftAlone::default()).unwrap());
    }

    #[test]
    fn a_lone_gitkeep_is_dropped_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        let pg = d.path().join("pg");
        fs::create_dir_all(&pg).unwrap();
        fs::write(pg.join(".gitkeep"), "").unwrap();
        assert!(drop_lone_gitkeep(d.path(), "pg").unwrap());
        assert!(pg.is_dir() && !pg.join(".gitkeep").exists());
        fs::write(pg.join(".gitkeep"), "").unwrap();
        fs::write(pg.join("PG_VERSION"), "15").unwrap();
        assert!(!drop_lone_gitkeep(d.path(), "pg").unwrap());
        assert!(pg.join(".gitkeep").exists());
        assert!(!drop_lone_gitkeep(d.path(), "missing").unwrap());
    }
}
