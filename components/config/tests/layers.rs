//! Config acceptance cases (C1–C14): defaults, file, env, flags, precedence,
//! write/reload, invalid input, unknown keys, concurrent loads; the rules they check are
//! in docs/configuration.md.

use std::path::Path;

use config::{ConfigError, EnvFile, LoadOptions, Source, load};
use secrecy::ExposeSecret as _;

fn project(env_text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(dir.path().join("config/services.env"), env_text).unwrap();
    dir
}

fn opts(dir: &Path) -> LoadOptions {
    LoadOptions {
        project_dir: dir.to_owned(),
        env: Vec::new(),
        overrides: Vec::new(),
    }
}

fn pair(k: &str, v: &str) -> (String, String) {
    (k.to_owned(), v.to_owned())
}

#[test]
fn c1_defaults_apply_to_keys_the_file_does_not_set() {
    let dir = project("HOSTNAME=h.example.org\n");
    let (s, warnings) = load(&opts(dir.path())).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(s.port("RABBITMQ_PORT"), 8083);
    assert_eq!(s.port("POSTGRES_PORT"), 5432);
    assert_eq!(s.id("THINGSBOARD_UID"), 799);
    assert_eq!(s.get("NETWORK_NAME"), Some("dtaas-services"));
    assert_eq!(s.image(catalog::Service::Postgres), "postgres:16.11");
    assert_eq!(s.source("RABBITMQ_PORT"), Some(&Source::Default));
    assert!(s.ssl_verify());
    assert_eq!(s.postgres_db(), "thingsboard");
    let dir = project("HOSTNAME=h.example.org\nPOSTGRES_DB=tb_prod\n");
    assert_eq!(load(&opts(dir.path())).unwrap().0.postgres_db(), "tb_prod");
    // The typed readers give the KEYS defaults (no caller supplies its own).
    assert_eq!(s.text("RABBITMQ_ADMIN_USERNAME"), "dtaas");
    assert_eq!(s.text("POSTGRES_USER"), "dtaas_user");
    assert_eq!(s.text("THINGSBOARD_SCHEME"), "https");
    assert_eq!(s.text("POSTGRES_PASSWORD"), "", "a secret is never text");
    assert!(!s.flag("JOBS_CERTS_REFRESH"));
    let dir = project(
        "HOSTNAME=h.example.org
JOBS_CERTS_REFRESH=Yes
",
    );
    assert!(
        load(&opts(dir.path()))
            .unwrap()
            .0
            .flag("JOBS_CERTS_REFRESH")
    );
}

#[test]
fn c2_values_come_from_the_file_with_their_line() {
    let dir =
        project("# c\nHOSTNAME=h.example.org\nRABBITMQ_PORT=9001\nPOSTGRES_IMAGE=local/pg:1\n");
    let (s, _) = load(&opts(dir.path())).unwrap();
    assert_eq!(s.port("RABBITMQ_PORT"), 9001);
    assert_eq!(s.image(catalog::Service::Postgres), "local/pg:1");
    match s.source("RABBITMQ_PORT").unwrap() {
        Source::File { line, .. } => assert_eq!(*line, 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn c3_a_value_is_replaced_not_merged() {
    let dir = project("HOSTNAME=h\nTHINGSBOARD_COAP_LwM2M_PORTS=6000-6001\n");
    let (s, _) = load(&opts(dir.path())).unwrap();
    assert_eq!(s.get("THINGSBOARD_COAP_LwM2M_PORTS"), Some("6000-6001"));
}

#[test]
fn c4_prefixed_env_overrides_the_file_and_the_shell_hostname_never_leaks() {
    let dir = project("HOSTNAME=from-file.example.org\nGRAFANA_PORT=9000\n");
    let mut o = opts(dir.path());
    o.env = vec![
        pair("HOSTNAME", "shell-host"),
        pair("GRAFANA_PORT", "1"),
        pair("DTAAS_GRAFANA_PORT", "9100"),
        pair("DTAAS_PROJECT_DIR", "/elsewhere"),
    ];
    let (s, _) = load(&o).unwrap();
    assert_eq!(s.hostname(), "from-file.example.org");
    assert_eq!(s.port("GRAFANA_PORT"), 9100);
    assert_eq!(
        s.source("GRAFANA_PORT"),
        Some(&Source::Env {
            var: "DTAAS_GRAFANA_PORT".into()
        })
    );
}

#[test]
fn c5_flags_override() {
    let dir = project("HOSTNAME=h\n");
    let mut o = opts(dir.path());
    o.overrides = vec![pair("GITLAB_PORT", "5151")];
    let (s, _) = load(&o).unwrap();
    assert_eq!(s.port("GITLAB_PORT"), 5151);
    assert_eq!(s.source("GITLAB_PORT"), Some(&Source::Flag));
}

#[test]
fn c6_precedence_flag_over_env_over_file_over_default() {
    let dir = project("HOSTNAME=h\nINFLUXDB_PORT=5000\n");
    let mut o = opts(dir.path());
    o.env = vec![pair("DTAAS_INFLUXDB_PORT", "6000")];
    assert_eq!(load(&o).unwrap().0.port("INFLUXDB_PORT"), 6000);
    o.overrides = vec![pair("INFLUXDB_PORT", "7000")];
    assert_eq!(load(&o).unwrap().0.port("INFLUXDB_PORT"), 7000);
    o.env.clear();
    o.overrides.clear();
    assert_eq!(load(&o).unwrap().0.port("INFLUXDB_PORT"), 5000);
}

#[test]
fn c7_c11_write_then_reload_round_trips_and_keeps_comments() {
    let dir = project("# keep me\nHOSTNAME=h\n\n# ports\nMONGODB_PORT=8087\n");
    let path = dir.path().join("config/services.env");
    let mut doc = EnvFile::read(&path).unwrap();
    doc.set("MONGODB_PORT", "9999");
    doc.set("MONGODB_ADMIN_PASSWORD", "p a$$ 'x'");
    doc.write_atomic().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("# keep me\nHOSTNAME=h\n\n# ports\nMONGODB_PORT=9999\n"),
        "{text}"
    );
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (s, _) = load(&opts(dir.path())).unwrap();
    assert_eq!(s.port("MONGODB_PORT"), 9999);
    assert_eq!(
        s.secret("MONGODB_ADMIN_PASSWORD").unwrap().expose_secret(),
        "p a$$ 'x'"
    );
}

#[test]
fn c8_malformed_line_is_an_error_naming_file_and_line() {
    let dir = project("HOSTNAME=h\nRABBITMQ_PORT 8083\n");
    let err = load(&opts(dir.path())).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ConfigError::Syntax { line: 2, .. }), "{msg}");
    assert!(
        msg.ends_with("config/services.env:2: expected KEY=VALUE"),
        "{msg}"
    );
}

#[test]
fn c8_invalid_port_names_origin_and_key_and_never_falls_back() {
    let dir = project("HOSTNAME=h\n\nRABBITMQ_PORT=70000\n");
    let msg = load(&opts(dir.path())).unwrap_err().to_string();
    assert!(
        msg.ends_with("config/services.env:3: RABBITMQ_PORT: invalid port \"70000\" (expected a number from 1 to 65535)"),
        "{msg}"
    );
    let mut o = opts(project("HOSTNAME=h\n").path());
    let dir2 = project("HOSTNAME=h\n");
    o.project_dir = dir2.path().to_owned();
    o.env = vec![pair("DTAAS_SSL_VERIFY", "maybe")];
    insta::assert_snapshot!(load(&o).unwrap_err(), @r#"environment variable DTAAS_SSL_VERIFY: SSL_VERIFY: invalid boolean "maybe" (expected true/false, yes/no, on/off, 1/0)"#);
}

#[test]
fn c8_invalid_secret_never_repeats_the_value() {
    let dir = project("HOSTNAME=h\nINFLUXDB_ADMIN_PASSWORD=short7!\n");
    let msg = load(&opts(dir.path())).unwrap_err().to_string();
    assert!(!msg.contains("short7!"), "{msg}");
    assert!(msg.contains("INFLUXDB_ADMIN_PASSWORD"), "{msg}");
}

#[test]
fn c8_non_utf8_and_missing_files_are_errors() {
    let dir = project("");
    std::fs::write(
        dir.path().join("config/services.env"),
        b"HOSTNAME=h\nA=\xff\xfe\n",
    )
    .unwrap();
    let msg = load(&opts(dir.path())).unwrap_err().to_string();
    assert!(
        msg.ends_with("config/services.env:2: the file is not valid UTF-8"),
        "{msg}"
    );

    let empty = tempfile::tempdir().unwrap();
    let err = load(&opts(empty.path())).unwrap_err();
    assert!(matches!(err, ConfigError::Missing { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("configuration file not found: "),
        "{err}"
    );
}

#[test]
fn c8_missing_hostname_is_required() {
    let dir = project("RABBITMQ_PORT=1\n");
    let msg = load(&opts(dir.path())).unwrap_err().to_string();
    assert!(msg.starts_with("HOSTNAME must be set (in "), "{msg}");
}

#[test]
fn c9_unknown_keys_warn_with_a_suggestion_and_flags_refuse_them() {
    let dir = project("HOSTNAME=h\nRABBITMQ_PROT=1\nMY_OWN=x\n");
    let (s, warnings) = load(&opts(dir.path())).unwrap();
    let w: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert!(
        w[0].ends_with(
            "config/services.env:2: unknown key RABBITMQ_PROT; did you mean RABBITMQ_PORT?"
        ),
        "{w:?}"
    );
    assert!(
        w[1].ends_with("config/services.env:3: unknown key MY_OWN"),
        "{w:?}"
    );
    // Unknown keys stay available to compose interpolation.
    assert_eq!(
        s.interpolation_vars().get("MY_OWN").map(String::as_str),
        Some("x")
    );

    let mut o = opts(dir.path());
    o.overrides = vec![pair("GRAFANA_PROT", "1")];
    insta::assert_snapshot!(load(&o).unwrap_err(), @"unknown key GRAFANA_PROT; did you mean GRAFANA_PORT?");
}

#[test]
fn c10_concurrent_loads_agree() {
    let dir = project("HOSTNAME=h\nPOSTGRES_PORT=6543\n");
    let path = dir.path().to_owned();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..30)
            .map(|_| scope.spawn(|| load(&opts(&path)).map(|(s, _)| s.port("POSTGRES_PORT"))))
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap(), 6543);
        }
    });
}

#[test]
fn c12_a_first_write_creates_the_file_and_a_second_loader_sees_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    let mut doc = EnvFile::empty(dir.path().join("config/services.env"));
    doc.set("HOSTNAME", "new.example.org");
    doc.write_atomic().unwrap();
    let (s, _) = load(&opts(dir.path())).unwrap();
    assert_eq!(s.hostname(), "new.example.org");
    assert_eq!(s.project_name(), "new-example-org");
}

#[test]
fn debug_output_masks_secrets() {
    let dir = project("HOSTNAME=h\nPOSTGRES_PASSWORD=hunter2hunter2\n");
    let (s, _) = load(&opts(dir.path())).unwrap();
    let dbg = format!("{s:?}");
    assert!(!dbg.contains("hunter2"), "{dbg}");
    assert!(dbg.contains("\"POSTGRES_PASSWORD\": \"***\""), "{dbg}");
    let shown = s.entries(false);
    assert!(shown.iter().all(|(_, v, _)| !v.contains("hunter2")));
    assert_eq!(s.get("POSTGRES_PASSWORD"), None);
}

#[test]
fn project_name_follows_the_python_rule() {
    assert_eq!(
        config::project_name_from_hostname("Services.INTOCPS_org"),
        "services-intocps-org"
    );
}

/// Upstream: github.com/compose-spec/compose-go v2.13.0 loader/loader.go
/// `NormalizeProjectName` (lower case, only `[a-z0-9_-]`, no leading `_`/`-`), applied
/// after the Python CLI's `.`/`_` -> `-`.
#[test]
fn project_name_is_one_docker_compose_accepts() {
    let name = config::project_name_from_hostname;
    // Upper case, dots, underscores, surrounding blanks: the Python CLI's rule.
    assert_eq!(name("  DT.Example_ORG \n"), "dt-example-org");
    // A leading dot or underscore would start the name with `-`: compose drops it.
    assert_eq!(name(".services.example.org"), "services-example-org");
    assert_eq!(name("_-a"), "a");
    // What compose does not allow is dropped: a port, unicode letters (lower-cased first,
    // so the Kelvin sign becomes an ASCII `k`), spaces inside.
    assert_eq!(name("host:8080"), "host8080");
    assert_eq!(name("Bücher.de"), "bcher-de");
    assert_eq!(name("\u{212A}elvin.org"), "kelvin-org");
    assert_eq!(name("a b"), "ab");
    assert_eq!(name("localhost"), "localhost");
}

#[test]
fn misspelt_dtaas_env_vars_warn_with_a_suggestion_and_known_non_keys_do_not() {
    let dir = project("HOSTNAME=h\n");
    let mut o = opts(dir.path());
    o.env = vec![
        pair("DTAAS_GRAFANA_PROT", "9100"),
        pair("DTAAS_hostname", "x"),
        pair("DTAAS_NOTHING_LIKE_IT", "1"),
        pair("DTAAS_GRAFANA_PORT", "9101"),
        pair("DTAAS_PROJECT_DIR", "/elsewhere"),
        pair("DTAAS_LOG", "debug"),
        pair("DTAAS_STORE_KEY", "00"),
        pair("DTAAS_UPDATE_DOCS", "1"),
        pair("DTAAS_TEST_PG_URL", "postgres://x"),
        pair("DTAAS_STORE_TEST_CHILD_MODE", "x"),
        pair("DTAAS_RUN_TIMEOUT", "10m"),
        pair("GRAFANA_PROT", "not ours"),
    ];
    let (s, warnings) = load(&o).unwrap();
    assert_eq!(s.port("GRAFANA_PORT"), 9101);
    let w: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        w,
        [
            "environment variable DTAAS_GRAFANA_PROT: unknown key GRAFANA_PROT, ignored; did you mean DTAAS_GRAFANA_PORT?",
            "environment variable DTAAS_hostname: unknown key hostname, ignored; did you mean DTAAS_HOSTNAME?",
            "environment variable DTAAS_NOTHING_LIKE_IT: unknown key NOTHING_LIKE_IT, ignored",
        ]
    );
}

/// Every `DTAAS_*` variable the workspace reads from an environment is a key or on
/// `config::OTHER_ENV_VARS`, so no real variable is warned about as a typo.
#[test]
fn every_dtaas_env_var_read_in_the_workspace_is_allowed() {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy();
            if name == "target" || name.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                walk(&p, out);
            } else if [".rs", ".sh", ".yml", ".yaml", "Makefile"]
                .iter()
                .any(|s| name.ends_with(s))
            {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for d in [
        "bases",
        "components",
        "projects",
        "scripts",
        "images",
        "Makefile",
    ] {
        let p = root.join(d);
        if p.is_dir() {
            walk(&p, &mut files);
        } else if p.is_file() {
            files.push(p);
        }
    }
    // How a variable is read: Rust env lookups, clap's `env =`, shell and compose `${...}`.
    let readers = ["var(\"", "var_os(\"", "env = \"", "${", "$"];
    let mut unknown = Vec::new();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for reader in readers {
            for (i, _) in text.match_indices(&format!("{reader}DTAAS_")) {
                let start = i + reader.len();
                let var: String = text[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let key = &var["DTAAS_".len()..];
                if config::key_spec(key).is_none() && !config::is_other_env_var(&var) {
                    unknown.push(format!("{}: {var}", f.display()));
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "add these to config::OTHER_ENV_VARS: {unknown:#?}"
    );
}
