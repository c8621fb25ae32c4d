use predicates::prelude::*;

use crate::support::{Project, bin, mode, stderr, stdout};

#[test]
fn generate_prints_each_item_then_skips_on_rerun() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    let first = bin()
        .args(["project", "generate", "--path"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = stdout(&first).replace(&dir.display().to_string(), "<DIR>");
    insta::assert_snapshot!("generate_first", text);
    let second = bin()
        .args(["project", "generate", "--path"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = stdout(&second).replace(&dir.display().to_string(), "<DIR>");
    insta::assert_snapshot!("generate_second", text);
}

#[test]
fn config_set_keeps_comments_writes_0600_and_validates_first() {
    let p = Project::new();
    let before = p.read_env();
    p.cmd()
        .args(["config", "set", "RABBITMQ_PORT", "9083"])
        .assert()
        .success();
    let after = p.read_env();
    assert_eq!(
        after,
        before.replace("RABBITMQ_PORT=8083", "RABBITMQ_PORT=9083")
    );
    assert_eq!(mode(&p.env_path()), 0o600);

    // Invalid values and unknown keys: exit 2, file untouched.
    p.cmd()
        .args(["config", "set", "RABBITMQ_PORT", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "RABBITMQ_PORT: invalid port \"0\"",
        ));
    p.cmd()
        .args(["config", "set", "RABBITMQ_PROT", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "unknown key RABBITMQ_PROT; did you mean RABBITMQ_PORT?",
        ));
    assert_eq!(p.read_env(), after);
}

#[test]
fn fresh_projects_get_random_secrets_and_a_rerun_keeps_them() {
    let p = Project::new();
    let env = p.read_env();
    let value = |text: &str, key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap()
            .to_owned()
    };
    for (key, public) in [
        ("POSTGRES_PASSWORD", "dtaas_secret"),
        ("RABBITMQ_ADMIN_PASSWORD", "dtaas"),
        ("GITLAB_ROOT_NEW_PASSWORD", "Astr0n0m1c@lG28ww"),
    ] {
        let v = value(&env, key);
        assert_ne!(v, public, "{key}");
        assert_eq!(v.len(), 24, "{key}");
    }
    // Non-secret keys keep the template's values; a second generate changes nothing.
    assert_eq!(value(&env, "POSTGRES_USER"), "dtaas_user");
    bin()
        .args(["project", "generate", "--path"])
        .arg(&p.dir)
        .assert()
        .success();
    assert_eq!(p.read_env(), env);
    let other = Project::new();
    assert_ne!(
        value(&other.read_env(), "POSTGRES_PASSWORD"),
        value(&env, "POSTGRES_PASSWORD")
    );
}

#[test]
fn config_unset_and_restore_defaults() {
    let p = Project::new();
    p.cmd()
        .args(["config", "set", "GRAFANA_PORT", "9999"])
        .assert()
        .success();
    p.cmd()
        .args(["config", "restore-defaults", "GRAFANA_PORT"])
        .assert()
        .success();
    assert!(p.read_env().contains("\nGRAFANA_PORT=8088\n"));
    p.cmd()
        .args(["config", "unset", "GRAFANA_PORT"])
        .assert()
        .success();
    assert!(!p.read_env().contains("GRAFANA_PORT="));
    p.cmd()
        .args(["config", "get", "GRAFANA_PORT"])
        .assert()
        .success()
        .stdout("8088\n");

    // --all replaces the file from the template, keeps a backup, and refuses without --yes
    // when there is no terminal.
    p.cmd()
        .args(["config", "set", "HOSTNAME", "mine.example.org"])
        .assert()
        .success();
    p.cmd()
        .args(["config", "restore-defaults", "--all"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("pass --yes"));
    assert!(p.read_env().contains("HOSTNAME=mine.example.org"));
    p.cmd()
        .args(["--yes", "config", "restore-defaults", "--all"])
        .assert()
        .success();
    assert!(p.read_env().contains("HOSTNAME=services.intocps.org"));
    let baks = backups(&p);
    assert_eq!(baks.len(), 1, "{baks:?}");
    let bak = std::fs::read_to_string(&baks[0]).unwrap();
    assert!(bak.contains("HOSTNAME=mine.example.org"));
    assert_eq!(mode(&baks[0]), 0o600);
}

/// The timestamped backups in config/ (`services.env.<UTC time>[-N].bak`), sorted.
fn backups(p: &Project) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(p.dir.join("config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.starts_with("services.env.") && name.ends_with(".bak")
        })
        .collect();
    v.sort();
    v
}

fn value_of(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap()
        .to_owned()
}

/// restore-defaults never puts a public template password back: a secret gets a new random
/// value, after asking; every run keeps its own backup.
#[test]
fn restore_defaults_gives_secrets_new_random_values_and_keeps_every_backup() {
    let p = Project::new();
    let generated = value_of(&p.read_env(), "POSTGRES_PASSWORD");

    // One secret: asks (refused without a terminal and --yes), nothing written.
    let before = p.read_env();
    p.cmd()
        .args(["config", "restore-defaults", "POSTGRES_PASSWORD"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("Services that already run keep their current passwords")
                .and(predicate::str::contains("pass --yes")),
        );
    assert_eq!(p.read_env(), before);
    assert!(backups(&p).is_empty());

    let out = p
        .cmd()
        .args(["--yes", "config", "restore-defaults", "POSTGRES_PASSWORD"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("new random value"),
        "{}",
        stdout(&out)
    );
    let env = p.read_env();
    let restored = value_of(&env, "POSTGRES_PASSWORD");
    assert_ne!(restored, "dtaas_secret");
    assert_ne!(restored, generated);
    assert_eq!(restored.len(), 24);
    assert!(!stdout(&out).contains(&restored) && !stderr(&out).contains(&restored));
    assert_eq!(backups(&p).len(), 1);
    assert_eq!(std::fs::read_to_string(&backups(&p)[0]).unwrap(), before);

    // A non-secret key does not ask and makes no backup.
    p.cmd()
        .args(["config", "restore-defaults", "GRAFANA_PORT"])
        .assert()
        .success();
    assert_eq!(backups(&p).len(), 1);

    // --all, twice in a row: fresh secrets each time, two backups, none overwritten.
    for run in 0..2 {
        let before = p.read_env();
        p.cmd()
            .args(["--yes", "config", "restore-defaults", "--all"])
            .assert()
            .success();
        let env = p.read_env();
        for (key, public) in [
            ("POSTGRES_PASSWORD", "dtaas_secret"),
            ("RABBITMQ_ADMIN_PASSWORD", "dtaas"),
            ("MONGODB_ADMIN_PASSWORD", "XaphrDKDTaaS2025"),
            ("GITLAB_ROOT_NEW_PASSWORD", "Astr0n0m1c@lG28ww"),
        ] {
            let v = value_of(&env, key);
            assert_ne!(v, public, "{key}");
            assert_ne!(v, value_of(&before, key), "{key}");
        }
        let baks = backups(&p);
        assert_eq!(baks.len(), 2 + run, "{baks:?}");
        let newest: Vec<String> = baks
            .iter()
            .map(|b| std::fs::read_to_string(b).unwrap())
            .collect();
        assert!(
            newest.contains(&before),
            "run {run}: the previous file is kept"
        );
    }
    let out = p.cmd().args(["config", "validate"]).output().unwrap();
    assert!(
        !stderr(&out).contains("public template value"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn config_show_masks_secrets_unless_asked() {
    let p = Project::new();
    p.cmd()
        .args(["config", "set", "POSTGRES_PASSWORD", "-"])
        .write_stdin("s3cr3t-value\n")
        .assert()
        .success();
    let masked = stdout(&p.cmd().args(["config", "show"]).output().unwrap());
    assert!(!masked.contains("s3cr3t-value"), "{masked}");
    assert!(masked.contains("POSTGRES_PASSWORD"));
    let json: serde_json::Value = serde_json::from_slice(
        &p.cmd()
            .args(["--json", "config", "show"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let row = json
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "POSTGRES_PASSWORD")
        .unwrap();
    assert_eq!(row["value"], "********");
    assert_eq!(row["secret"], true);
    assert_eq!(row["source"]["kind"], "file");
    let shown = stdout(
        &p.cmd()
            .args(["config", "show", "--show-secrets"])
            .output()
            .unwrap(),
    );
    assert!(shown.contains("s3cr3t-value"));
    p.cmd()
        .args(["config", "get", "POSTGRES_PASSWORD"])
        .assert()
        .code(2);
    p.cmd()
        .args(["config", "get", "POSTGRES_PASSWORD", "--show-secrets"])
        .assert()
        .success()
        .stdout("s3cr3t-value\n");
}

#[test]
fn env_and_flag_layers_override_the_file() {
    let p = Project::new();
    p.cmd()
        .env("DTAAS_MONGODB_PORT", "9187")
        .env("HOSTNAME", "the-shells-own-hostname")
        .args(["config", "get", "MONGODB_PORT"])
        .assert()
        .stdout("9187\n");
    p.cmd()
        .env("HOSTNAME", "the-shells-own-hostname")
        .args(["config", "get", "HOSTNAME"])
        .assert()
        .stdout("services.intocps.org\n");
    p.cmd()
        .env("DTAAS_MONGODB_PORT", "9187")
        .args([
            "--set",
            "MONGODB_PORT=9287",
            "config",
            "get",
            "MONGODB_PORT",
        ])
        .assert()
        .stdout("9287\n");
}

/// Each bad input: a clear message naming file, line and key; exit 2; nothing written.
#[test]
fn bad_services_env_input_is_exit_2_naming_file_line_and_key() {
    let p = Project::new();
    let env = p.env_path().display().to_string();
    let cases: [(&[u8], String); 4] = [
        (
            b"HOSTNAME=h\nthis is not an entry\n",
            format!("error: {env}:2: expected KEY=VALUE"),
        ),
        (
            b"HOSTNAME=h\n# c\nGITLAB_PORT=99999\n",
            format!(
                "error: {env}:3: GITLAB_PORT: invalid port \"99999\" (expected a number from 1 to 65535)"
            ),
        ),
        (
            b"HOSTNAME=h\nGITLAB_PORT=8090\nX=\xc3\x28\n",
            format!("error: {env}:3: the file is not valid UTF-8"),
        ),
        (
            b"HOSTNAME=h\nTB_SYSADMIN_EMAIL='x@y\n",
            format!(
                "error: {env}:2: TB_SYSADMIN_EMAIL: unterminated ' quote (multi-line values are not supported)"
            ),
        ),
    ];
    for (text, want) in cases {
        p.write_env(text);
        for args in [
            &["config", "validate"][..],
            &["config", "set", "GRAFANA_PORT", "1234"][..],
            &["service", "status"][..],
        ] {
            let out = p.cmd().args(args).output().unwrap();
            assert_eq!(out.status.code(), Some(2), "{args:?} {want}");
            assert_eq!(stderr(&out).lines().next(), Some(want.as_str()), "{args:?}");
            assert_eq!(
                std::fs::read(p.env_path()).unwrap(),
                text,
                "file changed by {args:?}"
            );
        }
    }
    std::fs::remove_file(p.env_path()).unwrap();
    let out = p.cmd().args(["config", "validate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).lines().next(),
        Some(format!("error: configuration file not found: {env}").as_str())
    );
    assert!(!p.env_path().exists());
}

#[test]
fn validate_warns_about_public_default_passwords_without_printing_them() {
    let p = Project::new();
    // A fresh project has random secrets: no warning.
    let out = p.cmd().args(["config", "validate"]).output().unwrap();
    assert!(out.status.success());
    assert!(
        !stderr(&out).contains("public template value"),
        "{}",
        stderr(&out)
    );
    // A project that still has a template password (e.g. made by the Python CLI) is warned.
    p.cmd()
        .args(["config", "set", "POSTGRES_PASSWORD", "-"])
        .write_stdin("dtaas_secret")
        .assert()
        .success();
    let out = p.cmd().args(["config", "validate"]).output().unwrap();
    assert!(out.status.success());
    let err = stderr(&out);
    assert!(err.contains("POSTGRES_PASSWORD"), "{err}");
    assert!(!err.contains("dtaas_secret"), "{err}");
}

#[test]
fn generate_failure_is_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("f");
    std::fs::write(&file, "").unwrap();
    bin()
        .args(["project", "generate", "--path"])
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("exists and is not a directory"));
}

#[test]
fn settings_are_resolved_once_per_command() {
    let p = Project::new();
    p.write_env(format!("{}MY_TYPO_KEY=1\n", p.read_env()));
    for args in [
        &["service", "status"][..],
        &["service", "install", "-s", "gitlab"][..],
        &["user", "reset-password", "-s", "gitlab"][..],
        &["certs", "refresh"][..],
    ] {
        let out = p
            .cmd()
            .args(args)
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .output()
            .unwrap();
        let warnings = stderr(&out).matches("unknown key MY_TYPO_KEY").count();
        assert_eq!(warnings, 1, "{args:?}:\n{}", stderr(&out));
    }
}

#[test]
fn mutating_commands_leave_a_journal_line_and_read_only_ones_do_not() {
    let p = Project::new();
    // No state database yet: none is created just for the journal.
    p.cmd()
        .args(["config", "set", "RABBITMQ_PORT", "9081"])
        .assert()
        .success();
    assert!(!p.dir.join(".dtaas/state.db").exists());

    p.cmd().args(["db", "migrate"]).assert().success();
    p.cmd()
        .args(["config", "set", "RABBITMQ_PORT", "9082"])
        .assert()
        .success();
    p.cmd()
        .args(["config", "set", "NO_SUCH_KEY", "x"])
        .assert()
        .code(2);
    p.cmd().args(["config", "show"]).assert().success();

    let out = p.cmd().args(["--json", "history"]).output().unwrap();
    assert!(out.status.success());
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let config: Vec<(&str, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["command"].as_str().unwrap().starts_with("config"))
        .map(|r| {
            (
                r["command"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    // Newest first: the refused set changed nothing (skipped), `config show` left no line.
    assert_eq!(config, [("config set", "skipped"), ("config set", "ok")]);
}

#[test]
fn a_corrupt_state_db_a_wrong_key_and_an_unreachable_db_url_fail_clearly_changing_nothing() {
    let p = Project::new();
    p.cmd().args(["db", "migrate"]).assert().success();
    p.cmd().args(["secrets", "list"]).assert().success();
    let db = p.dir.join(".dtaas/state.db");

    // A store key that is not the database's: exit 2, nothing changed, the key never shown.
    let before = std::fs::read(&db).unwrap();
    let wrong = "ff".repeat(32);
    let out = p
        .cmd()
        .env("DTAAS_STORE_KEY", &wrong)
        .args(["secrets", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not the key"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(&wrong));
    assert_eq!(std::fs::read(&db).unwrap(), before);

    // The key file gone: exit 2, no new key made in its place.
    let key = p.dir.join(".dtaas/store.key");
    let saved = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    let out = p.cmd().args(["secrets", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is missing"), "{}", stderr(&out));
    assert!(!key.exists());
    std::fs::write(&key, saved).unwrap();

    // A corrupt database file: exit 1 naming it, the file left as it was.
    std::fs::write(&db, b"this is not a SQLite database, not at all").unwrap();
    let corrupt = std::fs::read(&db).unwrap();
    let out = p.cmd().args(["db", "status"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("state.db"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&db).unwrap(), corrupt);

    // An unreachable shared database: exit 1, its password redacted.
    let out = p
        .cmd()
        .env(
            "DTAAS_DATABASE_URL",
            "postgres://dtaas:Url-Secret-9@127.0.0.1:1/dtaas",
        )
        .args(["db", "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("127.0.0.1:1"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("Url-Secret-9"), "{}", stderr(&out));
}

/// A tmpfs mounted over a directory (its files copied in first), unmounted when dropped.
struct FullDisk(std::path::PathBuf);

impl FullDisk {
    /// Mount a 64 KiB tmpfs over `dir` keeping its files, then fill it up. `None` (after
    /// saying why) when mounting is impossible outside CI; in CI that is a failure.
    #[allow(clippy::print_stderr)]
    fn over(dir: &std::path::Path) -> Option<FullDisk> {
        let keep = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                std::fs::copy(e.path(), keep.path().join(e.file_name())).unwrap();
            }
        }
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        if !out.status.success() {
            assert!(
                std::env::var_os("CI").is_none(),
                "cannot mount a tmpfs in CI: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            eprintln!("skipped: cannot mount a tmpfs (needs root)");
            return None;
        }
        let disk = FullDisk(dir.to_owned());
        for e in std::fs::read_dir(keep.path()).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
        // Fill what is left, one byte at a time at the end.
        let mut filler = std::fs::File::create(dir.join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while std::io::Write::write_all(&mut filler, &block).is_ok() {}
        while std::io::Write::write_all(&mut filler, &[0]).is_ok() {}
        Some(disk)
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).output();
    }
}

#[test]
fn a_full_disk_leaves_services_env_whole() {
    let p = Project::new();
    let config = p.dir.join("config");
    let Some(_disk) = FullDisk::over(&config) else {
        return;
    };
    let env = config.join("services.env");
    let before = std::fs::read(&env).unwrap();
    let out = p
        .cmd()
        .args([
            "config",
            "set",
            "HOSTNAME",
            "a-much-longer-host-name.example.org",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("services.env"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&env).unwrap(), before, "services.env changed");
    let left: Vec<String> = std::fs::read_dir(&config)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
}

/// A misspelt DTAAS_<KEY> warns like a typo in services.env; the binaries' own DTAAS_*
/// variables do not.
#[test]
fn misspelt_dtaas_env_vars_warn_once_with_a_suggestion() {
    let p = Project::new();
    let out = p
        .cmd()
        .env("DTAAS_MONGODB_PROT", "9187")
        .env("DTAAS_LOG", "warn")
        .env("DTAAS_STORE_KEY", "00")
        .args(["config", "get", "MONGODB_PORT"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "8087\n");
    let err = stderr(&out);
    assert_eq!(
        err.matches(
            "environment variable DTAAS_MONGODB_PROT: unknown key MONGODB_PROT, ignored; did you mean DTAAS_MONGODB_PORT?"
        )
        .count(),
        1,
        "{err}"
    );
    assert!(
        !err.contains("DTAAS_LOG") && !err.contains("DTAAS_STORE_KEY"),
        "{err}"
    );
}
