use std::os::unix::fs::symlink;
use std::os::unix::net::UnixListener;

use super::*;
use crate::unpack::{Limits, extract};

/// A GitLab-like data dir: a file, a relative link inside, a unix socket (bound by a live
/// listener, as a running service leaves it), a FIFO, and links that lead out of it.
fn gitlab_like(project: &Path, outside: &Path) -> UnixListener {
    let d = project.join("data/svc");
    for sub in ["gitlab-rails/sockets", "postgresql", "git-data"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(d.join("git-data/HEAD"), b"ref: refs/heads/main\n").unwrap();
    symlink("../git-data/HEAD", d.join("postgresql/head-link")).unwrap();
    let listener = UnixListener::bind(d.join("gitlab-rails/sockets/gitlab.socket")).unwrap();
    nix::unistd::mkfifo(
        &d.join("postgresql/.s.PGSQL.5432.fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    symlink(outside, d.join("host-link")).unwrap();
    symlink("../../config/services.env", d.join("settings-link")).unwrap();
    listener
}

#[test]
fn sockets_fifos_and_outside_links_are_left_out_and_listed_inside_links_round_trip() {
    let src = tempfile::tempdir().unwrap();
    let sentinel = test_support::Sentinel::plant();
    let _listener = gitlab_like(src.path(), sentinel.path());
    let paths = vec!["data/svc".to_owned()];
    let out = src.path().join("svc.tar.gz");
    let w = crate::archive::create(src.path(), &paths, &out, "svc").unwrap();
    let left: Vec<(&str, &str)> = w
        .left_out
        .iter()
        .map(|l| (l.path.as_str(), l.reason.as_str()))
        .collect();
    let host = sentinel.path().display().to_string();
    assert_eq!(
        left,
        [
            (
                "data/svc/gitlab-rails/sockets/gitlab.socket",
                "a socket, a runtime object the service makes again: not archived"
            ),
            (
                "data/svc/host-link",
                format!("a symbolic link to {host}, outside data/svc: not archived").as_str()
            ),
            (
                "data/svc/postgresql/.s.PGSQL.5432.fifo",
                "a FIFO, a runtime object the service makes again: not archived"
            ),
            (
                "data/svc/settings-link",
                "a symbolic link to ../../config/services.env, outside data/svc: not archived"
            ),
        ]
    );

    let dst = tempfile::tempdir().unwrap();
    let limits = Limits {
        bytes: w.unpacked_size,
        entries: w.entries.unwrap(),
    };
    extract(&out, dst.path(), &paths, "svc", true, limits).unwrap();
    let d = dst.path().join("data/svc");
    assert_eq!(
        std::fs::read(d.join("git-data/HEAD")).unwrap(),
        b"ref: refs/heads/main\n"
    );
    let link = d.join("postgresql/head-link");
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        Path::new("../git-data/HEAD")
    );
    for gone in [
        "gitlab-rails/sockets/gitlab.socket",
        "postgresql/.s.PGSQL.5432.fifo",
        "host-link",
        "settings-link",
    ] {
        assert!(
            std::fs::symlink_metadata(d.join(gone)).is_err(),
            "{gone} was restored"
        );
    }
    assert!(d.join("gitlab-rails/sockets").is_dir());
    sentinel.assert_unchanged("backup and restore of a data dir linking to it");
}

#[test]
fn a_hard_linked_file_is_archived_only_when_all_its_names_are_inside() {
    let src = tempfile::tempdir().unwrap();
    let d = src.path().join("data/svc");
    std::fs::create_dir_all(d.join("a")).unwrap();
    std::fs::write(d.join("a/pack"), b"objects").unwrap();
    std::fs::hard_link(d.join("a/pack"), d.join("pool-pack")).unwrap();
    let paths = vec!["data/svc".to_owned()];
    let out = src.path().join("svc.tar.gz");
    let w = crate::archive::create(src.path(), &paths, &out, "svc").unwrap();
    assert_eq!(w.unpacked_size, 14, "both names archived as files");

    // A third name outside the state paths (the settings, say): refused, naming it.
    std::fs::create_dir_all(src.path().join("config")).unwrap();
    std::fs::hard_link(d.join("a/pack"), src.path().join("config/services.env")).unwrap();
    let err = crate::archive::create(src.path(), &paths, &out, "svc").unwrap_err();
    assert!(
        err.to_string().contains(
            "data/svc/a/pack: has 3 hard links and only 2 of them are in the state paths"
        ),
        "{err}"
    );
}

#[test]
fn a_linked_state_path_fails_the_backup_naming_it() {
    let src = tempfile::tempdir().unwrap();
    let sentinel = test_support::Sentinel::plant();
    std::fs::create_dir_all(src.path().join("data")).unwrap();
    symlink(sentinel.path(), src.path().join("data/svc")).unwrap();
    let out = src.path().join("svc.tar.gz");
    let err =
        crate::archive::create(src.path(), &["data/svc".to_owned()], &out, "svc").unwrap_err();
    assert!(
        err.to_string().contains("data/svc is a symbolic link"),
        "{err}"
    );
}
