//! A tree outside the project that no command may touch: every entry's content hash, mode,
//! owner and mtime are recorded when it is planted and compared later.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

/// What is recorded of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    kind: &'static str,
    sha256: Option<String>,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, i64),
}

/// A sentinel tree in its own temp dir: `secret.key` (0600), `public.pem` (0644),
/// `sub/deep/data.bin` (0640) and their directories.
#[derive(Debug)]
pub struct Sentinel {
    dir: tempfile::TempDir,
    before: BTreeMap<PathBuf, Record>,
}

impl Default for Sentinel {
    fn default() -> Self {
        Self::plant()
    }
}

impl Sentinel {
    /// Plant the tree and record it.
    ///
    /// # Panics
    /// When the temp dir cannot be written.
    #[must_use]
    pub fn plant() -> Self {
        let dir = tempfile::tempdir().expect("sentinel temp dir");
        let root = dir.path();
        fs::create_dir_all(root.join("sub/deep")).expect("sentinel dirs");
        for (rel, content, mode) in [
            (
                "secret.key",
                &b"-----BEGIN PRIVATE KEY-----\nsentinel\n-----END PRIVATE KEY-----\n"[..],
                0o600,
            ),
            ("public.pem", b"sentinel public\n", 0o644),
            ("sub/deep/data.bin", b"\x00sentinel data\xff", 0o640),
        ] {
            fs::write(root.join(rel), content).expect("sentinel file");
            fs::set_permissions(root.join(rel), fs::Permissions::from_mode(mode)).expect("mode");
        }
        fs::set_permissions(root.join("sub"), fs::Permissions::from_mode(0o755)).expect("mode");
        let before = snapshot(root);
        Sentinel { dir, before }
    }

    /// The root of the tree.
    #[must_use]
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `secret.key`: a root-only private key.
    #[must_use]
    pub fn secret(&self) -> PathBuf {
        self.path().join("secret.key")
    }

    /// Assert that nothing in the tree changed, and nothing was added or removed.
    ///
    /// # Panics
    /// Naming every entry that changed.
    pub fn assert_unchanged(&self, what: &str) {
        let after = snapshot(self.path());
        let mut diffs = Vec::new();
        for (p, b) in &self.before {
            match after.get(p) {
                None => diffs.push(format!("{} removed", p.display())),
                Some(a) if a != b => diffs.push(format!("{}: {b:?} -> {a:?}", p.display())),
                Some(_) => {}
            }
        }
        for p in after.keys().filter(|p| !self.before.contains_key(*p)) {
            diffs.push(format!("{} added", p.display()));
        }
        assert!(
            diffs.is_empty(),
            "{what} changed the sentinel tree outside the project:\n{}",
            diffs.join("\n")
        );
    }
}

fn snapshot(root: &Path) -> BTreeMap<PathBuf, Record> {
    let mut out = BTreeMap::new();
    walk(root, Path::new(""), &mut out);
    out
}

fn walk(root: &Path, rel: &Path, out: &mut BTreeMap<PathBuf, Record>) {
    let path = root.join(rel);
    let m = fs::symlink_metadata(&path).expect("sentinel entry");
    let kind = if m.is_dir() {
        "dir"
    } else if m.is_file() {
        "file"
    } else if m.file_type().is_symlink() {
        "symlink"
    } else {
        "other"
    };
    let sha256 = m
        .is_file()
        .then(|| hex(&Sha256::digest(fs::read(&path).expect("sentinel read"))));
    out.insert(
        rel.to_owned(),
        Record {
            kind,
            sha256,
            mode: m.mode() & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
            mtime: (m.mtime(), m.mtime_nsec()),
        },
    );
    if m.is_dir() {
        let mut names: Vec<_> = fs::read_dir(&path)
            .expect("sentinel dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        names.sort();
        for n in names {
            walk(root, &rel.join(n), out);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
