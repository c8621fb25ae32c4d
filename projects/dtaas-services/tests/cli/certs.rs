//! `certs self-signed`: never puts a development certificate over a real one without asking.

use predicates::prelude::*;

use crate::support::{Project, stderr, stdout};

/// A Let's Encrypt archive directory (the default CERTS_SRC layout) is refused; --force asks
/// (refused without a terminal), and with --yes writes next to the numbered files, which it
/// never changes.
#[test]
fn self_signed_refuses_a_lets_encrypt_directory_unless_forced_and_confirmed() {
    let p = Project::new();
    let src = p.dir.join("le-archive");
    std::fs::create_dir_all(&src).unwrap();
    let numbered = [
        ("privkey1.pem", "-----BEGIN PRIVATE KEY-----\nreal\n"),
        ("fullchain1.pem", "-----BEGIN CERTIFICATE-----\nreal\n"),
    ];
    for (name, text) in numbered {
        std::fs::write(src.join(name), text).unwrap();
    }
    p.cmd()
        .args(["config", "set", "CERTS_SRC", "le-archive"])
        .assert()
        .success();
    let names = || {
        let mut v: Vec<String> = std::fs::read_dir(&src)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };

    let out = p
        .cmd()
        .args(["certs", "self-signed", "--hostname", "localhost"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("holds Let's Encrypt certificates"), "{err}");
    assert!(err.contains("privkey1.pem"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(names(), ["fullchain1.pem", "privkey1.pem"]);

    // --force is destructive: without a terminal it needs --yes.
    p.cmd()
        .args(["certs", "self-signed", "--hostname", "localhost", "--force"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("pass --yes"));
    assert_eq!(names(), ["fullchain1.pem", "privkey1.pem"]);

    let out = p
        .cmd()
        .args([
            "--yes",
            "certs",
            "self-signed",
            "--hostname",
            "localhost",
            "--force",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("written to"), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("host setup installs the newer self-signed set"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        names(),
        [
            "ca.pem",
            "cert.pem",
            "chain.pem",
            "fullchain.pem",
            "fullchain1.pem",
            "privkey.pem",
            "privkey1.pem"
        ]
    );
    for (name, text) in numbered {
        assert_eq!(std::fs::read_to_string(src.join(name)).unwrap(), text);
    }
}

/// Files of another set: refused, and --force (confirmed) overwrites them.
#[test]
fn self_signed_force_overwrites_another_set_after_confirmation() {
    let p = Project::new();
    p.cmd()
        .args(["config", "set", "CERTS_SRC", "certs-src"])
        .assert()
        .success();
    let key = p.dir.join("certs-src/privkey.pem");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, "not a key\n").unwrap();
    p.cmd()
        .args(["certs", "self-signed"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "refusing to overwrite existing certificates",
        ));
    p.cmd()
        .args(["certs", "self-signed", "--force"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("This overwrites").and(predicate::str::contains("pass --yes")),
        );
    assert_eq!(std::fs::read_to_string(&key).unwrap(), "not a key\n");
    p.cmd()
        .args(["--yes", "certs", "self-signed", "--force"])
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .contains("PRIVATE KEY")
    );
    // Nothing to overwrite: --force does not ask.
    p.cmd()
        .args(["certs", "self-signed", "--force"])
        .assert()
        .success()
        .stdout(predicate::str::contains("unchanged"));
}

#[test]
fn self_signed_help_says_numbered_lets_encrypt_files_are_never_overwritten() {
    let out = crate::support::bin()
        .args(["certs", "self-signed", "--help"])
        .output()
        .unwrap();
    // One line per flag, whatever the wrapping.
    let text = stdout(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains("--force"), "{text}");
    assert!(
        text.contains("Numbered Let's Encrypt files (privkey1.pem, ...) and the links to them are never overwritten"),
        "{text}"
    );
}
