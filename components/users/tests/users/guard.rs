//! The guard against in-memory services: admin accounts and objects that are not the row
//! user's own are refused before anything changes, with the CSV line; names compare as the
//! service compares them; a re-run of the same CSV changes nothing.

use super::*;

fn ids(report: &users::Report) -> Vec<(String, &'static str)> {
    report
        .rows
        .iter()
        .map(|r| (r.user.clone(), r.action.as_str()))
        .collect()
}

fn detail(report: &users::Report, user: &str) -> String {
    report
        .rows
        .iter()
        .find(|r| r.user == user)
        .and_then(|r| r.detail.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_row_named_like_the_admin_is_refused_and_nothing_changes() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets(&db, &dir).await;
    let rabbit = Arc::new(Memory {
        admin: Some("admin"),
        ..Memory::new(Service::RabbitMq)
    });
    let other = Arc::new(Memory::new(Service::Postgres));
    rabbit
        .users
        .lock()
        .unwrap()
        .insert("admin".to_owned(), "admin-pw".to_owned());
    let ps: Vec<Box<dyn Provisioner>> = vec![
        Box::new(Shared(rabbit.clone())),
        Box::new(Shared(other.clone())),
    ];
    let c = creds("username,password\nbob,pw-bobbob1\nadmin,taken-over-1\n");
    let report = users::add(&ps, &c, &secrets, &AddOptions::default()).await;
    assert!(report.refused() && report.failed());
    assert_eq!(
        ids(&report),
        [
            ("bob".to_owned(), "skipped"),
            ("admin".to_owned(), "refused"),
            ("bob".to_owned(), "skipped"),
            ("admin".to_owned(), "skipped"),
        ]
    );
    insta::assert_snapshot!(detail(&report, "admin"), @r#"credentials.csv line 3: admin: user "admin" is the admin (ADMIN_USERNAME); it is never managed from credentials.csv (refused, nothing changed)"#);
    // Nothing changed anywhere: the admin password, no user created in any service.
    assert_eq!(rabbit.users.lock().unwrap()["admin"], "admin-pw");
    assert!(rabbit.seen_states.lock().unwrap().is_empty());
    assert!(other.users.lock().unwrap().is_empty());
    assert!(secrets.store().accounts(None).await.unwrap().is_empty());
    // The journal says why.
    let history = format!("{:?}", secrets.store().history(10).await.unwrap());
    assert!(
        history.contains("is the admin (ADMIN_USERNAME)"),
        "{history}"
    );
    assert!(!history.contains("taken-over"), "{history}");
}

#[tokio::test]
async fn an_existing_object_of_someone_else_is_refused() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets(&db, &dir).await;
    let rabbit = Arc::new(Memory::new(Service::RabbitMq));
    rabbit.vhosts.lock().unwrap().push("billing".to_owned());
    rabbit
        .users
        .lock()
        .unwrap()
        .insert("monitor".to_owned(), "monitor-pw".to_owned());
    let ps: Vec<Box<dyn Provisioner>> = vec![Box::new(Shared(rabbit.clone()))];
    let c = creds("username,password\nbilling,pw-billing1\nmonitor,pw-monitor1\n");
    let report = users::add(&ps, &c, &secrets, &AddOptions::default()).await;
    assert_eq!(
        ids(&report),
        [
            ("billing".to_owned(), "refused"),
            ("monitor".to_owned(), "refused")
        ]
    );
    insta::assert_snapshot!(detail(&report, "billing"), @r#"credentials.csv line 2: billing: RabbitMQ vhost "billing" already exists and was not created by this tool for "billing"; it is not taken over (refused, nothing changed)"#);
    assert!(detail(&report, "monitor").contains("RabbitMQ user \"monitor\" already exists"));
    assert_eq!(rabbit.users.lock().unwrap()["monitor"], "monitor-pw");
    assert!(!rabbit.users.lock().unwrap().contains_key("billing"));
    // A dry run reports the same refusals.
    let dry = AddOptions {
        dry_run: true,
        ..AddOptions::default()
    };
    let report = users::add(&ps, &c, &secrets, &dry).await;
    assert!(report.refused());
}

#[tokio::test]
async fn adopt_takes_over_the_rows_existing_objects_once_but_never_an_admin() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets(&db, &dir).await;
    // A project provisioned by the Python CLI: the user and its vhost exist, unrecorded.
    let rabbit = Arc::new(Memory {
        admin: Some("admin"),
        ..Memory::new(Service::RabbitMq)
    });
    rabbit.vhosts.lock().unwrap().push("billing".to_owned());
    rabbit
        .users
        .lock()
        .unwrap()
        .insert("billing".to_owned(), "old-pw".to_owned());
    let ps: Vec<Box<dyn Provisioner>> = vec![Box::new(Shared(rabbit.clone()))];
    let adopt = AddOptions {
        adopt_existing: true,
        ..AddOptions::default()
    };
    // An admin row stays refused, adopt or not.
    let c = creds(
        "username,password
billing,pw-billing1
admin,taken-over-1
",
    );
    let report = users::add(&ps, &c, &secrets, &adopt).await;
    assert!(report.refused(), "{report:?}");
    assert_eq!(rabbit.users.lock().unwrap()["billing"], "old-pw");
    // Without the admin row the existing user is taken over and recorded ...
    let c = creds(
        "username,password
billing,pw-billing1
",
    );
    let report = users::add(&ps, &c, &secrets, &adopt).await;
    assert!(!report.refused() && !report.failed(), "{report:?}");
    assert_eq!(rabbit.users.lock().unwrap()["billing"], "pw-billing1");
    // ... so the next run needs no --adopt.
    let report = users::add(&ps, &c, &secrets, &AddOptions::default()).await;
    assert!(!report.refused() && !report.failed(), "{report:?}");
}

#[tokio::test]
async fn names_compare_as_the_service_compares_them() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets(&db, &dir).await;
    // Grafana-like: logins are case-insensitive.
    let insensitive = Arc::new(Memory {
        admin: Some("admin"),
        ignore_case: true,
        ..Memory::new(Service::Grafana)
    });
    insensitive
        .users
        .lock()
        .unwrap()
        .insert("carol".to_owned(), "carol-pw".to_owned());
    let ps: Vec<Box<dyn Provisioner>> = vec![Box::new(Shared(insensitive.clone()))];
    for (csv, refused) in [
        ("username,password\nAdmin,pw-admin-1\n", "Admin"),
        ("username,password\nADMIN,pw-admin-1\n", "ADMIN"),
        ("username,password\nCarol,pw-carol-1\n", "Carol"),
    ] {
        let report = users::add(&ps, &creds(csv), &secrets, &AddOptions::default()).await;
        assert!(report.refused(), "{csv}");
        let row = report.rows.iter().find(|r| r.user == refused).unwrap();
        assert_eq!(row.action, users::Action::Refused, "{csv}");
    }
    assert!(insensitive.seen_states.lock().unwrap().is_empty());
    // Two rows the service takes for one (rows from another source than the csv reader,
    // which refuses such duplicates itself).
    let row = |line, name: &str| credentials::Credential {
        line,
        username: name.to_owned(),
        password: secrecy::SecretString::from("pw-dave-1"),
        email: None,
    };
    let two = credentials::Credentials::from_rows(
        "credentials.csv",
        vec![row(2, "dave"), row(3, "Dave")],
    );
    let report = users::add(&ps, &two, &secrets, &AddOptions::default()).await;
    assert_eq!(
        ids(&report),
        [
            ("dave".to_owned(), "skipped"),
            ("Dave".to_owned(), "refused")
        ]
    );
    insta::assert_snapshot!(detail(&report, "Dave"), @r#"credentials.csv line 3: Dave: Grafana user "Dave" is the same as that of "dave" (credentials.csv line 2) (refused, nothing changed)"#);

    // RabbitMQ-like: exact; `Admin` is another user than `admin`.
    let exact = Arc::new(Memory {
        admin: Some("admin"),
        ..Memory::new(Service::RabbitMq)
    });
    let ps: Vec<Box<dyn Provisioner>> = vec![Box::new(Shared(exact.clone()))];
    let report = users::add(
        &ps,
        &creds("username,password\nAdmin,pw-admin-1\n"),
        &secrets,
        &AddOptions::default(),
    )
    .await;
    assert_eq!(ids(&report), [("Admin".to_owned(), "created")]);
}

#[tokio::test]
async fn a_rerun_of_the_same_csv_changes_nothing() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets(&db, &dir).await;
    let rabbit = Arc::new(Memory {
        admin: Some("admin"),
        ..Memory::new(Service::RabbitMq)
    });
    let ps: Vec<Box<dyn Provisioner>> = vec![Box::new(Shared(rabbit.clone()))];
    let c = creds("username,password\nerin,pw-erin-11\nfrank,pw-frank-1\n");
    let first = users::add(&ps, &c, &secrets, &AddOptions::default()).await;
    assert_eq!(
        ids(&first),
        [
            ("erin".to_owned(), "created"),
            ("frank".to_owned(), "created")
        ]
    );
    let again = users::add(&ps, &c, &secrets, &AddOptions::default()).await;
    assert!(!again.failed());
    assert_eq!(
        ids(&again),
        [
            ("erin".to_owned(), "unchanged"),
            ("frank".to_owned(), "unchanged")
        ]
    );
    // Data kept by `user remove --keep-data` stays the user's own.
    let removed = users::remove(&ps, "erin", true, &secrets).await;
    assert!(!removed.failed());
    assert!(rabbit.vhosts.lock().unwrap().contains(&"erin".to_owned()));
    let back = users::add(&ps, &c, &secrets, &AddOptions::default()).await;
    assert_eq!(
        ids(&back),
        [
            ("erin".to_owned(), "created"),
            ("frank".to_owned(), "unchanged")
        ]
    );
}

#[tokio::test]
async fn a_row_left_half_done_is_still_its_own_next_time() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets(&db, &dir).await;
    let rabbit = Arc::new(Memory {
        fail_after_vhost: Some("gina"),
        ..Memory::new(Service::RabbitMq)
    });
    let ps: Vec<Box<dyn Provisioner>> = vec![Box::new(Shared(rabbit.clone()))];
    let c = creds("username,password\ngina,pw-gina-11\n");
    let first = users::add(&ps, &c, &secrets, &AddOptions::default()).await;
    assert_eq!(ids(&first), [("gina".to_owned(), "failed")]);
    assert!(rabbit.vhosts.lock().unwrap().contains(&"gina".to_owned()));
    let rabbit = Arc::new(Memory {
        vhosts: Mutex::new(rabbit.vhosts.lock().unwrap().clone()),
        ..Memory::new(Service::RabbitMq)
    });
    let ps: Vec<Box<dyn Provisioner>> = vec![Box::new(Shared(rabbit))];
    let again = users::add(&ps, &c, &secrets, &AddOptions::default()).await;
    assert_eq!(ids(&again), [("gina".to_owned(), "created")]);
}

#[tokio::test]
async fn removing_an_admin_is_refused_as_the_service_compares_names() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets(&db, &dir).await;
    let grafana = Arc::new(Memory {
        admin: Some("admin"),
        ignore_case: true,
        ..Memory::new(Service::Grafana)
    });
    grafana
        .users
        .lock()
        .unwrap()
        .insert("admin".to_owned(), "admin-pw".to_owned());
    let ps: Vec<Box<dyn Provisioner>> = vec![Box::new(Shared(grafana.clone()))];
    let removed = users::remove(&ps, "ADMIN", false, &secrets).await;
    assert!(removed.failed());
    assert!(grafana.users.lock().unwrap().contains_key("admin"));
}
