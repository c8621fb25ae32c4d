use std::fs;
use std::os::unix::fs::PermissionsExt;

use certs::{Action, CertsError, Step, host_setup_as};

use crate::support::*;

#[test]
fn lets_encrypt_numbered_names_newest_by_mtime_wins() {
    let ca = ca("LE test CA");
    let old = good_leaf(&ca);
    let new = good_leaf(&ca);
    let f = Fixture::new();
    // privkey2 has the higher number but privkey1 is newer: mtime decides.
    f.write_src("privkey2.pem", &old.key, 3600);
    f.write_src("privkey1.pem", &new.key, 10);
    f.write_src("fullchain1.pem", &format!("{}{}", new.cert, ca.pem), 10);
    f.write_src("fullchain2.pem", &format!("{}{}", old.cert, ca.pem), 3600);
    f.write_src("cert1.pem", &new.cert, 10);
    f.write_src("chain1.pem", &ca.pem, 10);
    f.write_src("chain.pem", &ca.pem, 7200);
    f.write_src("README", "certbot readme", 0);
    f.write_src("privkey-extra.pem", &old.key, 0);
    fs::create_dir(f.src.join("subdir")).unwrap();
    fs::write(f.src.join("subdir/privkey9.pem"), "not copied").unwrap();
    // A leftover numbered file from an earlier manual copy.
    fs::create_dir_all(f.certs()).unwrap();
    fs::write(f.certs().join("privkey7.pem"), "stale").unwrap();

    let report = host_setup_as(&f.opts(), true).unwrap();

    assert_eq!(f.read_cert("privkey.pem"), new.key);
    assert_eq!(
        f.read_cert("fullchain.pem"),
        format!("{}{}", new.cert, ca.pem)
    );
    assert_eq!(f.read_cert("cert.pem"), new.cert);
    assert_eq!(f.read_cert("chain.pem"), ca.pem);
    assert_eq!(f.read_cert("privkey-extra.pem"), old.key);
    assert_eq!(
        names_in(&f.certs()),
        [
            "README",
            "cert.pem",
            "chain.pem",
            "combined.pem",
            "fullchain.pem",
            "postgres.crt",
            "postgres.key",
            "privkey-extra.pem",
            "privkey-influxdb.pem",
            "privkey-rabbitmq.pem",
            "privkey.pem",
            "thingsboard-fullchain.pem",
            "thingsboard-privkey.pem"
        ]
    );
    let copy = &report.steps[0];
    assert_eq!(copy.step, Step::CopyCertificates);
    assert!(
        copy.files
            .iter()
            .any(|f| f.path.ends_with("privkey7.pem") && f.action == Action::Remove)
    );
}

#[test]
fn owners_modes_and_contents_are_set_for_real() {
    let ca = ca("CA");
    let l = good_leaf(&ca);
    let f = Fixture::with_pair(&ca, &l);
    // A pre-existing rabbitmq key keeps its group ("group unchanged").
    fs::create_dir_all(f.certs()).unwrap();
    fs::write(f.certs().join("privkey-rabbitmq.pem"), "old").unwrap();
    std::os::unix::fs::chown(f.certs().join("privkey-rabbitmq.pem"), Some(1), Some(555)).unwrap();

    host_setup_as(&f.opts(), true).unwrap();

    let c = f.certs();
    let chain = format!("{}{}", l.cert, ca.pem);
    assert_eq!(meta(&c.join("privkey.pem")), (0o600, 472, 472));
    assert_eq!(meta(&c.join("fullchain.pem")).0, 0o644);
    assert_eq!(meta(&c.join("cert.pem")).0, 0o644);
    assert_eq!(meta(&c.join("combined.pem")), (0o600, 999, 999));
    assert_eq!(f.read_cert("combined.pem"), format!("{}{}", l.key, chain));
    assert_eq!(meta(&c.join("privkey-influxdb.pem")), (0o600, 1000, 1000));
    assert_eq!(f.read_cert("privkey-influxdb.pem"), l.key);
    assert_eq!(meta(&c.join("privkey-rabbitmq.pem")), (0o600, 998, 555));
    assert_eq!(f.read_cert("privkey-rabbitmq.pem"), l.key);
    assert_eq!(meta(&c.join("postgres.key")), (0o600, 997, 996));
    assert_eq!(meta(&c.join("postgres.crt")), (0o644, 997, 996));
    assert_eq!(f.read_cert("postgres.crt"), chain);
    assert_eq!(meta(&c.join("thingsboard-privkey.pem")), (0o600, 799, 799));
    assert_eq!(
        meta(&c.join("thingsboard-fullchain.pem")),
        (0o644, 799, 799)
    );
    assert_eq!(meta(&f.project.join("data/thingsboard")), (0o750, 799, 799));
    assert_eq!(meta(&f.project.join("log/thingsboard")), (0o750, 799, 799));
    // Grafana runs as USERID:GROUPID (not root) and writes its data dir.
    assert_eq!(meta(&f.project.join("data/grafana")), (0o750, 472, 472));
    assert!(temp_files(&c).is_empty());
}

#[test]
fn second_run_reports_unchanged_and_touches_nothing() {
    let ca = ca("CA");
    let f = Fixture::with_pair(&ca, &good_leaf(&ca));
    let first = host_setup_as(&f.opts(), true).unwrap();
    assert!(first.changed());
    let before = tree_state(&f.project);

    let second = host_setup_as(&f.opts(), true).unwrap();

    assert!(!second.changed());
    assert!(second.changed_paths().is_empty());
    assert_eq!(
        tree_state(&f.project),
        before,
        "mtimes, inodes, modes or owners changed"
    );
    insta::assert_snapshot!(second.to_string(), @r"
    Copying certificates: unchanged
    Configuring MongoDB: unchanged
    Configuring InfluxDB: unchanged
    Configuring RabbitMQ: unchanged
    Configuring PostgreSQL: unchanged
    Configuring ThingsBoard: unchanged
    Configuring Grafana: unchanged
    ");
}

#[test]
fn setup_report_snapshot() {
    let ca = ca("CA");
    let f = Fixture::with_pair(&ca, &good_leaf(&ca));
    let report = host_setup_as(&f.opts(), true).unwrap();
    insta::assert_snapshot!(report.to_string(), @"
    Copying certificates:
      certs/cert.pem created (0644)
      certs/chain.pem created (0644)
      certs/fullchain.pem created (0644)
      certs/privkey.pem created (0600, 472:472)
    Configuring MongoDB:
      certs/combined.pem created (0600, 999:999)
    Configuring InfluxDB:
      certs/privkey-influxdb.pem created (0600, 1000:1000)
    Configuring RabbitMQ:
      certs/privkey-rabbitmq.pem created (0600, 998)
    Configuring PostgreSQL:
      certs/postgres.key created (0600, 997:996)
      certs/postgres.crt created (0644, 997:996)
    Configuring ThingsBoard:
      certs/thingsboard-privkey.pem created (0600, 799:799)
      certs/thingsboard-fullchain.pem created (0644, 799:799)
      data/thingsboard created (0750, 799:799)
      log/thingsboard created (0750, 799:799)
    Configuring Grafana:
      data/grafana created (0750, 472:472)
    ");
    insta::assert_json_snapshot!(report.steps[1], @r#"
    {
      "step": "mongodb",
      "files": [
        {
          "path": "certs/combined.pem",
          "action": "create",
          "mode": "0600",
          "owner": "999:999"
        }
      ]
    }
    "#);
}

#[test]
fn fixes_modes_and_owners_of_existing_files() {
    let ca = ca("CA");
    let f = Fixture::with_pair(&ca, &good_leaf(&ca));
    host_setup_as(&f.opts(), true).unwrap();
    let c = f.certs();
    fs::set_permissions(c.join("privkey.pem"), fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(c.join("combined.pem"), Some(0), Some(0)).unwrap();
    // A file written by root inside ThingsBoard's data dir.
    fs::create_dir_all(f.project.join("data/thingsboard/db")).unwrap();
    fs::write(f.project.join("data/thingsboard/db/x"), "x").unwrap();

    let report = host_setup_as(&f.opts(), true).unwrap();

    insta::assert_snapshot!(report.to_string(), @"
    Copying certificates:
      certs/privkey.pem updated [mode] (0600, 472:472)
    Configuring MongoDB:
      certs/combined.pem updated [owner] (0600, 999:999)
    Configuring InfluxDB: unchanged
    Configuring RabbitMQ: unchanged
    Configuring PostgreSQL: unchanged
    Configuring ThingsBoard:
      data/thingsboard updated [owner] (0750, 799:799)
    Configuring Grafana: unchanged
    ");
    assert_eq!(meta(&c.join("privkey.pem")), (0o600, 472, 472));
    assert_eq!(meta(&c.join("combined.pem")), (0o600, 999, 999));
    assert_eq!(meta(&f.project.join("data/thingsboard/db/x")).1, 799);
    assert_eq!(meta(&f.project.join("data/thingsboard/db")).1, 799);
}

#[test]
fn dry_run_reports_and_changes_nothing() {
    let ca = ca("CA");
    let f = Fixture::with_pair(&ca, &good_leaf(&ca));
    let mut opts = f.opts();
    opts.dry_run = true;
    let report = host_setup_as(&opts, true).unwrap();
    assert!(report.dry_run && report.changed());
    assert!(
        report
            .steps
            .iter()
            .all(|s| s.files.iter().all(|x| x.action == Action::Create))
    );
    assert_eq!(names_in(&f.project), Vec::<String>::new());
    assert!(
        report
            .to_string()
            .contains("certs/combined.pem would be created (0600, 999:999)")
    );
}

#[test]
fn not_root_fails_before_changing_anything_and_names_the_files() {
    let ca = ca("CA");
    let f = Fixture::with_pair(&ca, &good_leaf(&ca));
    let err = host_setup_as(&f.opts(), false).unwrap_err();
    let CertsError::NeedsRoot { paths } = &err else {
        panic!("{err}")
    };
    let names: Vec<_> = paths
        .iter()
        .map(|p| p.strip_prefix(&f.project).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "certs/privkey.pem",
            "certs/combined.pem",
            "certs/privkey-influxdb.pem",
            "certs/privkey-rabbitmq.pem",
            "certs/postgres.key",
            "certs/postgres.crt",
            "certs/thingsboard-privkey.pem",
            "certs/thingsboard-fullchain.pem",
            "data/thingsboard",
            "log/thingsboard",
            "data/grafana"
        ]
    );
    assert!(err.is_usage());
    assert_eq!(names_in(&f.project), Vec::<String>::new());
    let msg = err
        .to_string()
        .replace(&f.project.display().to_string(), "[project]");
    insta::assert_snapshot!(msg, @r#"changing the owner of 11 path(s) needs root: [project]/certs/privkey.pem, [project]/certs/combined.pem, [project]/certs/privkey-influxdb.pem, [project]/certs/privkey-rabbitmq.pem, [project]/certs/postgres.key, [project]/certs/postgres.crt, [project]/certs/thingsboard-privkey.pem, [project]/certs/thingsboard-fullchain.pem, [project]/data/thingsboard, [project]/log/thingsboard, [project]/data/grafana. Run as root (sudo -E env PATH="$PATH" dtaas-services host setup), or pass --skip-chown to leave owners as they are"#);
}

#[test]
fn not_root_with_skip_chown_succeeds_and_keeps_owners() {
    let ca = ca("CA");
    let f = Fixture::with_pair(&ca, &good_leaf(&ca));
    let mut opts = f.opts();
    opts.skip_chown = true;
    let report = host_setup_as(&opts, false).unwrap();
    let me = nix::unistd::geteuid().as_raw();
    let c = f.certs();
    assert_eq!(
        meta(&c.join("combined.pem")),
        (0o600, me, nix::unistd::getegid().as_raw())
    );
    assert_eq!(meta(&c.join("privkey.pem")).0, 0o600);
    assert_eq!(meta(&c.join("postgres.crt")).0, 0o644);
    assert_eq!(meta(&f.project.join("data/thingsboard")).0, 0o750);
    assert_eq!(meta(&f.project.join("data/thingsboard")).1, me);
    let tb = report
        .steps
        .iter()
        .find(|s| s.step == Step::Thingsboard)
        .unwrap();
    assert!(tb.notes[0].contains("--skip-chown"), "{:?}", tb.notes);
    assert!(
        report
            .steps
            .iter()
            .flat_map(|s| &s.files)
            .all(|x| x.owner.is_none())
    );
    // Idempotent too.
    let before = tree_state(&f.project);
    assert!(!host_setup_as(&opts, false).unwrap().changed());
    assert_eq!(tree_state(&f.project), before);
}

#[test]
fn failure_half_way_leaves_no_temp_file_and_names_finished_steps() {
    let ca = ca("CA");
    let f = Fixture::with_pair(&ca, &good_leaf(&ca));
    // Something in the way of postgres.key: the PostgreSQL step cannot rename over it.
    fs::create_dir_all(f.certs().join("postgres.key/inside")).unwrap();

    let err = host_setup_as(&f.opts(), true).unwrap_err();

    assert_eq!(
        err.finished_steps(),
        [
            Step::CopyCertificates,
            Step::Mongodb,
            Step::Influxdb,
            Step::Rabbitmq
        ]
    );
    assert!(matches!(
        &err,
        CertsError::StepFailed {
            step: Step::Postgres,
            ..
        }
    ));
    assert!(!err.is_usage());
    assert!(
        temp_files(&f.certs()).is_empty(),
        "{:?}",
        temp_files(&f.certs())
    );
    assert!(f.certs().join("combined.pem").is_file());
    assert!(!f.certs().join("thingsboard-privkey.pem").exists());
    let msg = err
        .to_string()
        .replace(&f.project.display().to_string(), "[project]");
    insta::assert_snapshot!(msg, @"Configuring PostgreSQL failed: cannot write [project]/certs/postgres.key: Is a directory (os error 21); finished steps: Copying certificates, Configuring MongoDB, Configuring InfluxDB, Configuring RabbitMQ");
}

#[test]
fn unreadable_source_changes_nothing() {
    let ca = ca("CA");
    let f = Fixture::with_pair(&ca, &good_leaf(&ca));
    // A Let's Encrypt live/ link whose archive is gone.
    std::os::unix::fs::symlink("../archive/privkey3.pem", f.src.join("privkey3.pem")).unwrap();

    let err = host_setup_as(&f.opts(), true).unwrap_err();

    assert!(err.finished_steps().is_empty());
    assert!(matches!(
        &err,
        CertsError::StepFailed {
            step: Step::CopyCertificates,
            ..
        }
    ));
    assert_eq!(names_in(&f.project), Vec::<String>::new());
    let msg = err
        .to_string()
        .replace(&f.src.display().to_string(), "[src]");
    insta::assert_snapshot!(msg, @"Copying certificates failed: cannot read [src]/privkey3.pem: No such file or directory (os error 2); no step was applied, nothing was changed");
}

#[test]
fn missing_source_dir_and_missing_key_are_configuration_errors() {
    let f = Fixture::new();
    let mut opts = f.opts();
    opts.certs_src = f.project.join("nope");
    let err = host_setup_as(&opts, true).unwrap_err();
    assert!(err.is_usage());
    assert!(
        err.to_string()
            .contains("source directory for certificates not found"),
        "{err}"
    );

    let ca = ca("CA");
    f.write_src("fullchain.pem", &ca.pem, 0);
    let err = host_setup_as(&f.opts(), true).unwrap_err();
    assert!(err.is_usage());
    assert!(matches!(
        &err,
        CertsError::StepFailed {
            step: Step::Mongodb,
            ..
        }
    ));
    assert!(err.to_string().contains("missing privkey.pem"), "{err}");
    assert_eq!(names_in(&f.project), Vec::<String>::new());
}
