use predicates::prelude::*;

use crate::support::{Project, bin, stderr, stdout};

#[test]
fn root_help_lists_the_nouns_in_install_order() {
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = stdout(&out);
    let nouns: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        nouns,
        [
            "project",
            "host",
            "service",
            "user",
            "config",
            "certs",
            "secrets",
            "history",
            "db",
            "doctor",
            "completions",
            "help"
        ]
    );
    for hidden in [
        "generate-project",
        "setup",
        "install",
        "start",
        "remove",
        "man",
    ] {
        assert!(
            !text.contains(&format!("\n  {hidden} ")),
            "{hidden} should be hidden"
        );
    }
}

#[test]
fn a_noun_without_a_verb_prints_its_verbs_and_exits_2() {
    for (noun, verbs) in [
        ("project", &["generate"][..]),
        ("host", &["setup"][..]),
        (
            "service",
            &[
                "install", "start", "stop", "restart", "status", "remove", "clean",
            ][..],
        ),
        ("user", &["add", "reset-password"][..]),
        (
            "config",
            &[
                "show",
                "get",
                "set",
                "unset",
                "restore-defaults",
                "validate",
            ][..],
        ),
    ] {
        let out = bin().arg(noun).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{noun}");
        let text = stderr(&out);
        for v in verbs {
            assert!(
                text.contains(&format!("  {v} ")),
                "{noun} help lacks {v}: {text}"
            );
        }
    }
}

#[test]
fn unknown_commands_and_flags_are_usage_errors() {
    bin()
        .arg("frobnicate")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unrecognized subcommand 'frobnicate'",
        ));
    bin().args(["service", "start", "--bogus"]).assert().code(2);
}

#[test]
fn version_prints_the_crate_version() {
    bin()
        .arg("--version")
        .assert()
        .success()
        .stdout(format!("dtaas-services {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn generate_project_alias_warns_and_forwards() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["generate-project", "--path"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stderr(&out),
        "Warning: 'dtaas-services generate-project' is deprecated; use 'dtaas-services project generate'.\n"
    );
    assert!(tmp.path().join("config/services.env").is_file());
}

#[test]
fn every_lifecycle_alias_warns_then_runs_the_new_command() {
    let p = Project::new();
    for (old, new) in [
        ("install", "service install"),
        ("start", "service start"),
        ("stop", "service stop"),
        ("restart", "service restart"),
        ("status", "service status"),
        ("remove", "service remove"),
        ("clean", "service clean"),
    ] {
        // An unknown service makes the target command fail the same way, before any work.
        let out = p.cmd().args([old, "-s", "nosuch"]).output().unwrap();
        let err = stderr(&out);
        assert!(
            err.starts_with(&format!(
                "Warning: 'dtaas-services {old}' is deprecated; use 'dtaas-services {new}'.\n"
            )),
            "{old}: {err}"
        );
        let direct = p
            .cmd()
            .args(new.split(' '))
            .args(["-s", "nosuch"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), direct.status.code(), "{old}");
        assert_eq!(err.lines().nth(1), stderr(&direct).lines().next(), "{old}");
    }
}

#[test]
fn alias_help_matches_the_target_parameters() {
    for (old, new) in [
        ("setup", "host setup"),
        ("start", "service start"),
        ("remove", "service remove"),
        ("clean", "service clean"),
    ] {
        let a = stdout(&bin().args([old, "--help"]).output().unwrap());
        let b = stdout(&bin().args(new.split(' ')).arg("--help").output().unwrap());
        let opts = |t: &str| {
            t.lines()
                .skip_while(|l| !l.starts_with("Options:"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(opts(&a), opts(&b), "{old}");
    }
}

#[test]
fn selector_errors_list_the_valid_names_and_exit_2() {
    let p = Project::new();
    p.cmd()
        .args(["service", "stop", "-s", "mysql,rabbitmq"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unknown service: mysql; valid names: rabbitmq, mongodb, grafana, influxdb, postgres, thingsboard-ce, gitlab",
        ));
    p.cmd()
        .args(["service", "start", "-s", " , "])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no service named in the selector"));
}

#[test]
fn no_project_found_is_a_usage_error_with_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    bin()
        .current_dir(tmp.path())
        .args(["config", "show"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no DTaaS services project found in",
        ))
        .stderr(predicate::str::contains(
            "hint: run `dtaas-services project generate`",
        ));
}

#[test]
fn the_project_is_found_from_a_subdirectory_and_via_the_env_var() {
    let p = Project::new();
    bin()
        .current_dir(p.dir.join("data/postgres"))
        .args(["config", "get", "HOSTNAME"])
        .assert()
        .success()
        .stdout("services.intocps.org\n");
    bin()
        .env("DTAAS_PROJECT_DIR", &p.dir)
        .args(["config", "get", "POSTGRES_PORT"])
        .assert()
        .success()
        .stdout("5432\n");
}

#[test]
fn completions_print_a_script_and_man_writes_the_pages() {
    let out = bin().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("complete -F _dtaas__services"),
        "{}",
        stdout(&out)
    );
    let out = bin().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let man1 = dir.path().join("man1");
    let out = bin().args(["man", "--dir"]).arg(&man1).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let root = std::fs::read_to_string(man1.join("dtaas-services.1")).unwrap();
    assert!(root.contains(".TH dtaas-services 1"), "{root}");
    assert!(man1.join("dtaas-services-service-start.1").is_file());
}
