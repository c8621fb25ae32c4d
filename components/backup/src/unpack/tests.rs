use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

use flate2::Compression;
use flate2::write::GzEncoder;

use super::*;

const UNLIMITED: Limits = Limits {
    bytes: u64::MAX,
    entries: MAX_ENTRIES,
};

fn svc() -> Vec<String> {
    vec!["data/svc".to_owned()]
}

/// One entry of a crafted archive, its name written raw into the header (so `..` and
/// absolute names get in as an attacker would write them).
struct Raw<'a> {
    name: &'a str,
    kind: tar::EntryType,
    link: Option<&'a str>,
    data: &'a [u8],
}

fn raw(name: &str, kind: tar::EntryType) -> Raw<'_> {
    Raw {
        name,
        kind,
        link: None,
        data: b"",
    }
}

fn crafted(out: &Path, entries: &[Raw<'_>]) {
    let gz = GzEncoder::new(std::fs::File::create(out).unwrap(), Compression::default());
    let mut tar = tar::Builder::new(gz);
    for e in entries {
        let mut h = tar::Header::new_old();
        let name = &mut h.as_old_mut().name;
        name[..e.name.len()].copy_from_slice(e.name.as_bytes());
        if let Some(l) = e.link {
            let link = &mut h.as_old_mut().linkname;
            link[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_entry_type(e.kind);
        h.set_mode(0o4755);
        h.set_size(e.data.len() as u64);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        tar.append(&h, e.data).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

/// sha256, mode, owner and mtime of every file below `dir`, and the directory's own.
fn snapshot(dir: &Path) -> Vec<(PathBuf, String, u32, u32, i64)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        let m = std::fs::symlink_metadata(&d).unwrap();
        let sha = if m.is_file() {
            crate::manifest::sha256_file(&d).unwrap()
        } else {
            String::new()
        };
        out.push((d.clone(), sha, m.mode(), m.uid(), m.mtime()));
        if m.is_dir() {
            for e in std::fs::read_dir(&d).unwrap() {
                todo.push(e.unwrap().path());
            }
        }
    }
    out.sort();
    out
}

fn names(dir: &Path) -> Vec<std::ffi::OsString> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    v.sort();
    v
}

/// A project with config/services.env, and a sentinel tree outside it.
struct Scene {
    project: tempfile::TempDir,
    outside: tempfile::TempDir,
    archive_dir: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        let project = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(project.path().join("config")).unwrap();
        std::fs::create_dir_all(project.path().join("data")).unwrap();
        std::fs::write(
            project.path().join("config/services.env"),
            b"POSTGRES_PASSWORD=admin-secret\n",
        )
        .unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("sentinel"), b"keep me").unwrap();
        Scene {
            project,
            outside,
            archive_dir: tempfile::tempdir().unwrap(),
        }
    }

    fn archive(&self, entries: &[Raw<'_>]) -> PathBuf {
        let out = self.archive_dir.path().join("svc.tar.gz");
        crafted(&out, entries);
        out
    }

    /// Refused by `check` and by `extract`, with `reason` in the message; nothing
    /// changed outside the project or in its config, nothing left in its data.
    fn assert_refused(&self, entries: &[Raw<'_>], limits: Limits, reason: &str) {
        let out = self.archive(entries);
        let before = (
            snapshot(self.outside.path()),
            snapshot(&self.project.path().join("config")),
            names(&self.project.path().join("data")),
        );
        let err = check(&out, &svc(), "svc", limits).unwrap_err();
        assert!(err.to_string().contains(reason), "{err}");
        assert!(err.to_string().ends_with("nothing was restored"), "{err}");
        let err = extract(&out, self.project.path(), &svc(), "svc", false, limits).unwrap_err();
        assert!(err.to_string().contains(reason), "{err}");
        let after = (
            snapshot(self.outside.path()),
            snapshot(&self.project.path().join("config")),
            names(&self.project.path().join("data")),
        );
        assert_eq!(before, after, "something changed");
    }
}

#[test]
fn directories_and_files_round_trip_with_modes_and_mtimes() {
    use tar::EntryType::{Directory, Regular};
    let s = Scene::new();
    let out = s.archive(&[
        raw("data/svc/", Directory),
        raw("data/svc/sub/", Directory),
        Raw {
            data: b"hello",
            ..raw("data/svc/sub/file", Regular)
        },
    ]);
    extract(&out, s.project.path(), &svc(), "svc", false, UNLIMITED).unwrap();
    let e = s.project.path().join("data/svc");
    assert_eq!(std::fs::read(e.join("sub/file")).unwrap(), b"hello");
    let meta = |p: &Path| std::fs::symlink_metadata(p).unwrap();
    // The set-uid bit of the archive is dropped.
    assert_eq!(meta(&e.join("sub/file")).mode() & 0o7777, 0o755);
    assert_eq!(meta(&e).mode() & 0o7777, 0o755);
    assert_eq!(meta(&e.join("sub/file")).mtime(), 1_700_000_000);
    assert_eq!(meta(&e.join("sub")).mtime(), 1_700_000_000);
    let names: Vec<_> = std::fs::read_dir(s.project.path().join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["svc"], "no staging directory left");
}

#[test]
fn a_backup_round_trips() {
    let src = tempfile::tempdir().unwrap();
    let d = src.path().join("data/svc");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::write(d.join("sub/file"), b"hello").unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = src.path().join("a.tar.gz");
    let w = crate::archive::create(src.path(), &svc(), &out, "svc").unwrap();
    let limits = Limits {
        bytes: w.unpacked_size,
        entries: w.entries.unwrap(),
    };
    let dst = tempfile::tempdir().unwrap();
    extract(&out, dst.path(), &svc(), "svc", false, limits).unwrap();
    let e = dst.path().join("data/svc");
    assert_eq!(std::fs::read(e.join("sub/file")).unwrap(), b"hello");
    assert_eq!(std::fs::metadata(&e).unwrap().mode() & 0o777, 0o700);
}

#[test]
fn a_symlink_entry_leading_outside_is_refused() {
    use tar::EntryType::{Directory, Symlink};
    let s = Scene::new();
    let outside = s.outside.path().to_str().unwrap().to_owned();
    // The service path itself a link to a host directory, as in the finding.
    s.assert_refused(
        &[Raw {
            link: Some(&outside),
            ..raw("data/svc", Symlink)
        }],
        UNLIMITED,
        "entry data/svc is a symbolic link where a directory belongs",
    );
    // Links inside the service's path that lead out of it: absolute, `..` above the
    // path (to the settings), `..` after a name.
    for target in [outside.as_str(), "../../config/services.env", "sub/../../x"] {
        s.assert_refused(
            &[
                raw("data/svc/", Directory),
                Raw {
                    link: Some(target),
                    ..raw("data/svc/l", Symlink)
                },
            ],
            UNLIMITED,
            &format!("entry data/svc/l is a symbolic link to {target} (outside data/svc)"),
        );
    }
}

#[test]
fn a_symlink_entry_inside_its_path_is_restored_as_a_link() {
    use tar::EntryType::{Directory, Regular, Symlink};
    let s = Scene::new();
    let out = s.archive(&[
        raw("data/svc/", Directory),
        raw("data/svc/sub/", Directory),
        raw("data/svc/sub/f", Regular),
        Raw {
            link: Some("../sub/f"),
            ..raw("data/svc/sub/l", Symlink)
        },
    ]);
    check(&out, &svc(), "svc", UNLIMITED).unwrap();
    extract(&out, s.project.path(), &svc(), "svc", false, UNLIMITED).unwrap();
    let l = s.project.path().join("data/svc/sub/l");
    assert!(std::fs::symlink_metadata(&l).unwrap().is_symlink());
    assert_eq!(std::fs::read_link(&l).unwrap(), Path::new("../sub/f"));
    // A later entry through the link is refused, never written through it.
    let out = s.archive(&[
        raw("data/svc/", Directory),
        Raw {
            link: Some("."),
            ..raw("data/svc/l", Symlink)
        },
        raw("data/svc/l/f", Regular),
    ]);
    let dst = tempfile::tempdir().unwrap();
    std::fs::create_dir(dst.path().join("data")).unwrap();
    let err = extract(&out, dst.path(), &svc(), "svc", false, UNLIMITED).unwrap_err();
    assert!(err.to_string().contains("is a symbolic link"), "{err}");
    assert_eq!(
        names(&dst.path().join("data")),
        Vec::<std::ffi::OsString>::new()
    );
}

#[test]
fn a_hard_link_to_the_settings_is_refused() {
    use tar::EntryType::{Directory, Link};
    let s = Scene::new();
    s.assert_refused(
        &[
            raw("data/svc/", Directory),
            Raw {
                link: Some("config/services.env"),
                ..raw("data/svc/services.env", Link)
            },
        ],
        UNLIMITED,
        "entry data/svc/services.env is a hard link",
    );
    assert!(!s.project.path().join("data/svc").exists());
}

#[test]
fn names_outside_the_service_path_are_refused() {
    use tar::EntryType::{Directory, Regular};
    let s = Scene::new();
    for name in [
        "data/svc/../../config/services.env",
        "/etc/x",
        "data/other/f",
        "config/services.env",
        "./data/svc/f",
    ] {
        s.assert_refused(
            &[raw("data/svc/", Directory), raw(name, Regular)],
            UNLIMITED,
            &format!("entry {name} is outside the paths of svc"),
        );
    }
}

#[test]
fn devices_and_fifos_are_refused() {
    use tar::EntryType::{Block, Char, Directory, Fifo};
    let s = Scene::new();
    for (kind, what) in [
        (Char, "a character device"),
        (Block, "a block device"),
        (Fifo, "a FIFO"),
    ] {
        s.assert_refused(
            &[raw("data/svc/", Directory), raw("data/svc/dev", kind)],
            UNLIMITED,
            &format!("entry data/svc/dev is {what}"),
        );
    }
}

#[test]
fn more_entries_or_bytes_than_the_manifest_says_are_refused() {
    use tar::EntryType::{Directory, Regular};
    let s = Scene::new();
    let many: Vec<String> = (0..20).map(|i| format!("data/svc/f{i}")).collect();
    let mut entries = vec![raw("data/svc/", Directory)];
    entries.extend(many.iter().map(|n| raw(n, Regular)));
    let limits = Limits {
        bytes: u64::MAX,
        entries: 10,
    };
    s.assert_refused(&entries, limits, "unpacks to more than 10 entries");
    let big = vec![0u8; 4096];
    let entries = [
        raw("data/svc/", Directory),
        Raw {
            data: &big,
            ..raw("data/svc/zeros", Regular)
        },
    ];
    let limits = Limits {
        bytes: 1000,
        entries: 10,
    };
    s.assert_refused(&entries, limits, "unpacks to more than 1000 bytes");
}

#[test]
fn limits_come_from_the_manifest_and_a_hard_cap() {
    let mut entry = ServiceBackup {
        service: "svc".into(),
        kind: crate::BackupKind::Archive,
        image: "i".into(),
        paths: svc(),
        file: "svc.tar.gz".into(),
        size: 100,
        sha256: String::new(),
        unpacked_size: Some(5000),
        entries: Some(7),
        left_out: Vec::new(),
    };
    assert_eq!(
        Limits::of(&entry),
        Limits {
            bytes: 5000,
            entries: 7
        }
    );
    // A manifest cannot claim more than the entry cap; an older one has only that.
    entry.entries = Some(u64::MAX);
    assert_eq!(Limits::of(&entry).entries, MAX_ENTRIES);
    entry.unpacked_size = None;
    entry.entries = None;
    assert_eq!(
        Limits::of(&entry),
        Limits {
            bytes: u64::MAX,
            entries: MAX_ENTRIES
        }
    );
}

#[test]
fn a_symlink_in_the_destination_is_never_followed() {
    use tar::EntryType::{Directory, Regular};
    let s = Scene::new();
    // `data` itself replaced by a link to a host directory.
    std::fs::remove_dir(s.project.path().join("data")).unwrap();
    std::os::unix::fs::symlink(s.outside.path(), s.project.path().join("data")).unwrap();
    let before = snapshot(s.outside.path());
    let out = s.archive(&[raw("data/svc/", Directory), raw("data/svc/f", Regular)]);
    let err = extract(&out, s.project.path(), &svc(), "svc", false, UNLIMITED).unwrap_err();
    assert!(err.to_string().contains("data is a symbolic link"), "{err}");
    assert_eq!(snapshot(s.outside.path()), before);
    // The destination itself present (as a link): refused, not written through.
    let s = Scene::new();
    std::os::unix::fs::symlink(s.outside.path(), s.project.path().join("data/svc")).unwrap();
    let before = snapshot(s.outside.path());
    let out = s.archive(&[raw("data/svc/", Directory), raw("data/svc/f", Regular)]);
    let err = extract(&out, s.project.path(), &svc(), "svc", false, UNLIMITED).unwrap_err();
    assert!(err.to_string().contains("is in the way"), "{err}");
    assert_eq!(snapshot(s.outside.path()), before);
    let names: Vec<_> = std::fs::read_dir(s.project.path().join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["svc"], "no staging directory left");
}

/// RabbitMQ preallocates its segment files: tar stores them as GNU sparse entries, which
/// a restore takes as the regular files they are, and writes sparse again.
#[test]
fn a_sparse_file_round_trips_and_stays_sparse() {
    let src = tempfile::tempdir().unwrap();
    let d = src.path().join("data/svc");
    std::fs::create_dir_all(&d).unwrap();
    let f = std::fs::File::create(d.join("00000001.segment")).unwrap();
    f.set_len(64 << 20).unwrap();
    std::os::unix::fs::FileExt::write_at(&f, b"header", 0).unwrap();
    drop(f);
    let out = src.path().join("a.tar.gz");
    let w = crate::archive::create(src.path(), &svc(), &out, "svc").unwrap();
    assert_eq!(w.unpacked_size, 64 << 20);
    let limits = Limits {
        bytes: w.unpacked_size,
        entries: w.entries.unwrap(),
    };
    let dst = tempfile::tempdir().unwrap();
    extract(&out, dst.path(), &svc(), "svc", false, limits).unwrap();
    let back = dst.path().join("data/svc/00000001.segment");
    let m = std::fs::metadata(&back).unwrap();
    assert_eq!(m.len(), 64 << 20);
    assert!(
        m.blocks() * 512 < 1 << 20,
        "not sparse: {} blocks",
        m.blocks()
    );
    let mut head = [0u8; 6];
    std::os::unix::fs::FileExt::read_at(&std::fs::File::open(&back).unwrap(), &mut head, 0)
        .unwrap();
    assert_eq!(&head, b"header");
}

#[test]
fn directories_are_never_created_through_a_symlink() {
    let s = Scene::new();
    std::fs::remove_dir(s.project.path().join("data")).unwrap();
    std::os::unix::fs::symlink(s.outside.path(), s.project.path().join("data")).unwrap();
    let before = snapshot(s.outside.path());
    let err = create_empty_dirs(s.project.path(), &["data/postgres".to_owned()]).unwrap_err();
    assert!(err.to_string().contains("data is a symbolic link"), "{err}");
    assert_eq!(snapshot(s.outside.path()), before);
    let s = Scene::new();
    create_empty_dirs(s.project.path(), &["data/postgres/x".to_owned()]).unwrap();
    assert!(s.project.path().join("data/postgres/x").is_dir());
}
