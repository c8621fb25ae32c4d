//! Issue 15 finding 8: a secret never travels in argv (`config set KEY -` reads stdin, the
//! command line is refused with a hint, `--set` of a secret warns), and an unreachable
//! DATABASE_URL shows no part of its password.

use crate::support::{Project, mode, stderr, stdout};

#[test]
fn config_set_reads_a_secret_from_stdin() {
    let p = Project::new();
    p.cmd()
        .args(["config", "set", "POSTGRES_PASSWORD", "-"])
        .write_stdin("Stdin-Secret-42\n")
        .assert()
        .success();
    let got = p
        .cmd()
        .args(["config", "get", "POSTGRES_PASSWORD", "--show-secrets"])
        .output()
        .unwrap();
    assert_eq!(stdout(&got), "Stdin-Secret-42\n");
    assert!(p.read_env().contains("POSTGRES_PASSWORD=Stdin-Secret-42\n"));
    assert_eq!(mode(&p.env_path()), 0o600);
    // A non-secret key can come from stdin too.
    p.cmd()
        .args(["config", "set", "HOSTNAME", "-"])
        .write_stdin("stdin.example.org\n")
        .assert()
        .success();
    assert!(p.read_env().contains("HOSTNAME=stdin.example.org\n"));
}

#[test]
fn a_secret_on_the_command_line_is_refused_with_a_hint_and_nothing_written() {
    let p = Project::new();
    let before = p.read_env();
    let out = p
        .cmd()
        .args(["config", "set", "POSTGRES_PASSWORD", "Argv-Secret-7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("config set POSTGRES_PASSWORD -"), "{err}");
    assert!(!err.contains("Argv-Secret-7"), "{err}");
    assert_eq!(p.read_env(), before);

    // No value and no terminal to ask on: the same hint.
    let out = p
        .cmd()
        .args(["config", "set", "POSTGRES_PASSWORD"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("config set POSTGRES_PASSWORD -"),
        "{}",
        stderr(&out)
    );
    // An empty or multi-line stdin is refused too, naming the key only.
    for input in ["", "\n", "two\nlines\n"] {
        let out = p
            .cmd()
            .args(["config", "set", "POSTGRES_PASSWORD", "-"])
            .write_stdin(input)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{input:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("lines"), "{}", stderr(&out));
    }
    assert_eq!(p.read_env(), before);
}

#[test]
fn set_flag_of_a_secret_warns_without_the_value() {
    let p = Project::new();
    let out = p
        .cmd()
        .args([
            "--set",
            "GRAFANA_ADMIN_PASSWORD=Flag-Secret-3",
            "config",
            "get",
            "HOSTNAME",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--set GRAFANA_ADMIN_PASSWORD"), "{err}");
    assert!(err.contains("config set GRAFANA_ADMIN_PASSWORD -"), "{err}");
    assert!(!err.contains("Flag-Secret-3"), "{err}");
    let out = p
        .cmd()
        .args(["--set", "GRAFANA_PORT=3001", "config", "get", "HOSTNAME"])
        .output()
        .unwrap();
    assert!(!stderr(&out).contains("--set"), "{}", stderr(&out));
}

#[test]
fn an_unreachable_database_url_shows_no_part_of_its_password() {
    let p = Project::new();
    let out = p
        .cmd()
        .env(
            "DTAAS_DATABASE_URL",
            "postgres://h:1/db?user=u&password=Secret@Tail",
        )
        .args(["db", "status"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("postgres://h:1/db?user=u&password=***"),
        "{err}"
    );
    assert!(!err.contains("Secret") && !err.contains("Tail"), "{err}");
}
