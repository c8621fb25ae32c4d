use std::fs;
use std::io;
use std::path::Path;

/// Delete everything inside `dir` except a top-level `.gitkeep`; the directory itself,
/// its owner and mode stay. Returns `false` when `dir` does not exist.
pub(crate) fn empty_dir(dir: &Path) -> io::Result<bool> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_name() == ".gitkeep" {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
    }
    Ok(true)
}

/// Remove `dir/.gitkeep` when it is the only entry. PostgreSQL's initdb refuses a data
/// directory that is not empty, and projects made by the Python CLI (and older versions of
/// this one) ship `data/postgres/.gitkeep`. Returns whether the file was removed.
pub(crate) fn drop_lone_gitkeep(dir: &Path) -> io::Result<bool> {
    let mut entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let first = entries.next().transpose()?;
    if entries.next().is_some() {
        return Ok(false);
    }
    match first {
        Some(e) if e.file_name() == ".gitkeep" && e.file_type()?.is_file() => {
            fs::remove_file(e.path())?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert!(empty_dir(&dir).unwrap());
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, [".gitkeep"]);
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o750
        );
        assert!(!empty_dir(&d.path().join("missing")).unwrap());
    }

    #[test]
    fn a_lone_gitkeep_is_dropped_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        let pg = d.path().join("pg");
        fs::create_dir_all(&pg).unwrap();
        fs::write(pg.join(".gitkeep"), "").unwrap();
        assert!(drop_lone_gitkeep(&pg).unwrap());
        assert!(pg.is_dir() && !pg.join(".gitkeep").exists());
        fs::write(pg.join(".gitkeep"), "").unwrap();
        fs::write(pg.join("PG_VERSION"), "15").unwrap();
        assert!(!drop_lone_gitkeep(&pg).unwrap());
        assert!(pg.join(".gitkeep").exists());
        assert!(!drop_lone_gitkeep(&d.path().join("missing")).unwrap());
    }
}
