//! Root safety (docs/security.md, "Files and links"): `host setup` and the certs refresh
//! never read, write, chmod or chown through a link below the project, and give copied
//! files a mode decided by what they hold. Each test plants a sentinel tree outside the
//! project that must keep every file's content, mode, owner and mtime.

use std::fs;
use std::os::unix::fs::symlink;

use certs::{CertsError, host_setup_as, refresh_as};
use test_support::Sentinel;

use crate::support::*;

fn refusal(e: &CertsError) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(x) = src {
        s.push_str(&format!(" | {x}"));
        src = x.source();
    }
    s
}

/// A source with only the certificates: the key is read from `certs/privkey.pem`.
fn fixture_without_key() -> (Fixture, String) {
    let ca = ca("CA");
    let l = good_leaf(&ca);
    let f = Fixture::new();
    f.write_src("fullchain.pem", &format!("{}{}", l.cert, ca.pem), 0);
    fs::create_dir_all(f.certs()).unwrap();
    (f, l.key)
}

#[test]
fn a_linked_privkey_is_never_read_and_republished() {
    let sentinel = Sentinel::plant();
    let (f, _) = fixture_without_key();
    symlink(sentinel.secret(), f.certs().join("privkey.pem")).unwrap();
    let err = host_setup_as(&f.opts(), true).unwrap_err();
    assert!(
        refusal(&err).contains("privkey.pem is a symbolic link"),
        "{}",
        refusal(&err)
    );
    assert!(!f.certs().join("combined.pem").exists());
    sentinel.assert_unchanged("host setup with certs/privkey.pem linked");
    // The refresh of dtaas-jobs is the same code path.
    assert!(refresh_as(&f.opts(), true).is_err());
    sentinel.assert_unchanged("certs refresh with certs/privkey.pem linked");
}

#[test]
fn a_hard_linked_privkey_is_never_read_and_republished() {
    let sentinel = Sentinel::plant();
    let (f, _) = fixture_without_key();
    fs::hard_link(sentinel.secret(), f.certs().join("privkey.pem")).unwrap();
    let err = host_setup_as(&f.opts(), true).unwrap_err();
    assert!(refusal(&err).contains("hard links"), "{}", refusal(&err));
    assert!(!f.certs().join("combined.pem").exists());
    sentinel.assert_unchanged("host setup with certs/privkey.pem hard-linked");
}

#[test]
fn a_linked_certs_dir_is_refused() {
    let sentinel = Sentinel::plant();
    let ca = ca("CA");
    let f = Fixture::with_pair(&ca, &good_leaf(&ca));
    symlink(sentinel.path(), f.certs()).unwrap();
    let err = host_setup_as(&f.opts(), true).unwrap_err();
    assert!(
        refusal(&err).contains("certs is a symbolic link"),
        "{}",
        refusal(&err)
    );
    sentinel.assert_unchanged("host setup with certs/ linked");
}

#[test]
fn linked_data_dirs_are_refused_and_hard_links_inside_keep_their_owner() {
    let sentinel = Sentinel::plant();
    let ca = ca("CA");
    let f = Fixture::with_pair(&ca, &good_leaf(&ca));
    symlink(sentinel.path(), f.project.join("data")).unwrap();
    let err = host_setup_as(&f.opts(), true).unwrap_err();
    assert!(
        refusal(&err).contains("data is a symbolic link"),
        "{}",
        refusal(&err)
    );
    sentinel.assert_unchanged("host setup with data/ linked");

    fs::remove_file(f.project.join("data")).unwrap();
    fs::create_dir(f.project.join("data")).unwrap();
    symlink(sentinel.path(), f.project.join("data/thingsboard")).unwrap();
    let err = host_setup_as(&f.opts(), true).unwrap_err();
    assert!(
        refusal(&err).contains("thingsboard is a symbolic link"),
        "{}",
        refusal(&err)
    );
    sentinel.assert_unchanged("host setup with data/thingsboard linked");

    // Inside a real data dir: a link is changed as a link, a hard-linked file is left alone.
    fs::remove_file(f.project.join("data/thingsboard")).unwrap();
    fs::create_dir(f.project.join("data/thingsboard")).unwrap();
    symlink(
        sentinel.path(),
        f.project.join("data/thingsboard/to-outside"),
    )
    .unwrap();
    fs::hard_link(sentinel.secret(), f.project.join("data/thingsboard/hard")).unwrap();
    let report = host_setup_as(&f.opts(), true).unwrap();
    let notes: Vec<&String> = report.steps.iter().flat_map(|s| &s.notes).collect();
    assert!(
        notes.iter().any(|n| n.contains("data/thingsboard/hard")),
        "{notes:?}"
    );
    assert_eq!(meta(&f.project.join("data/thingsboard")).1, 799);
    assert_eq!(meta(&f.project.join("data/thingsboard/to-outside")).1, 799);
    sentinel.assert_unchanged("host setup with links inside data/thingsboard");
}

#[test]
fn copied_files_get_their_mode_from_what_they_hold() {
    let ca = ca("CA");
    let l = good_leaf(&ca);
    let f = Fixture::with_pair(&ca, &l);
    // A DER private key (PKCS#8: SEQUENCE, INTEGER 0, ...) and a PKCS#12 bundle.
    fs::write(
        f.src.join("server-key.der"),
        [0x30, 0x82, 0x04, 0xbe, 0x02, 0x01, 0x00, 0x30, 0x0d],
    )
    .unwrap();
    fs::write(
        f.src.join("bundle.p12"),
        [0x30, 0x82, 0x0a, 0x41, 0x02, 0x01, 0x03, 0x30, 0x82],
    )
    .unwrap();
    // A chain file with a key appended by mistake: a key, whatever the name says.
    f.write_src("ca-bundle.pem", &format!("{}{}", ca.pem, l.key), 0);
    f.write_src("ca.pem", &ca.pem, 0);
    host_setup_as(&f.opts(), true).unwrap();
    let c = f.certs();
    assert_eq!(meta(&c.join("server-key.der")).0, 0o600);
    assert_eq!(meta(&c.join("bundle.p12")).0, 0o600);
    assert_eq!(meta(&c.join("ca-bundle.pem")).0, 0o600);
    assert_eq!(meta(&c.join("ca.pem")).0, 0o644);
    assert_eq!(meta(&c.join("fullchain.pem")).0, 0o644);
    assert_eq!(meta(&c.join("privkey.pem")).0, 0o600);
    // Only the ThingsBoard dirs are 0750; `data/` and `log/` made on the way are 0755.
    assert_eq!(meta(&f.project.join("data")).0, 0o755);
    assert_eq!(meta(&f.project.join("data/thingsboard")).0, 0o750);
}

#[test]
fn certs_check_never_reads_a_linked_key() {
    let sentinel = Sentinel::plant();
    let ca = ca("CA");
    let f = Fixture::with_pair(&ca, &good_leaf(&ca));
    host_setup_as(&f.opts(), true).unwrap();
    fs::remove_file(f.certs().join("privkey.pem")).unwrap();
    symlink(sentinel.secret(), f.certs().join("privkey.pem")).unwrap();
    let report = certs::check(&certs::CheckOptions::new(
        f.project.clone(),
        Some(f.src.clone()),
        HOST.to_owned(),
    ));
    let files: Vec<&str> = report
        .findings_of("files")
        .map(|x| x.message.as_str())
        .collect();
    assert!(
        files
            .iter()
            .any(|m| m.contains("privkey.pem is a symbolic link")),
        "{files:?}"
    );
    sentinel.assert_unchanged("certs check with certs/privkey.pem linked");
}
