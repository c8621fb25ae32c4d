//! The guard with the real provisioners: live RabbitMQ and PostgreSQL (DTAAS_TEST_*_URL;
//! they fail when CI is set and the service is not given), wiremock stand-ins of Grafana
//! and InfluxDB answering as the upstream APIs do, and a MongoDB exec stand-in answering
//! the provisioner's mongosh scripts.

use std::time::Duration;

use secrecy::SecretString;
use services_common::{HttpOptions, Retry};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

fn action_of(report: &users::Report, user: &str) -> &'static str {
    report
        .rows
        .iter()
        .find(|r| r.user == user)
        .map(|r| r.action.as_str())
        .unwrap_or("missing")
}

fn quick_retry() -> Retry {
    Retry {
        attempts: 2,
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(2),
    }
}

#[allow(clippy::print_stderr)]
fn live_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("{var} is not set, and CI is: the live test cannot run")
        }
        Err(_) => {
            eprintln!("skipped: set {var} to run");
            None
        }
    }
}

/// `http://user:pw@host:port` as RabbitMQ options.
fn rabbit_options(url: &str) -> (services_rabbitmq::RabbitMqOptions, String) {
    let (scheme, rest) = url.split_once("://").expect("scheme://");
    let (login, host) = rest.rsplit_once('@').expect("user:password@host");
    let (user, pw) = login.split_once(':').expect("user:password");
    (
        services_rabbitmq::RabbitMqOptions {
            base_url: format!("{scheme}://{}", host.trim_end_matches('/')),
            admin_user: user.to_owned(),
            admin_password: SecretString::from(pw.to_owned()),
            http: HttpOptions::default(),
            retry: Retry::default(),
        },
        pw.to_owned(),
    )
}

#[tokio::test]
async fn rabbitmq_live_admin_and_vhost_rows_are_refused_and_reruns_change_nothing() {
    let Some(url) = live_url("DTAAS_TEST_RABBITMQ_URL") else {
        return;
    };
    let (opts, admin_pw) = rabbit_options(&url);
    let admin = opts.admin_user.clone();
    let p = services_rabbitmq::RabbitMqProvisioner::new(opts.clone()).unwrap();
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets(&db, &dir).await;
    let ps: Vec<Box<dyn Provisioner>> = vec![Box::new(
        services_rabbitmq::RabbitMqProvisioner::new(opts).unwrap(),
    )];

    // A vhost someone else made (a user's kept vhost, its user gone).
    let vhost = test_support::unique_name("csvvh");
    let spec = UserSpec {
        name: vhost.clone(),
        password: SecretString::from("Vh-owner-Pw1"),
        email: None,
        password_state: PasswordState::Unknown,
    };
    p.ensure_user(&spec).await.unwrap();
    assert_eq!(p.remove_user(&vhost, true).await.unwrap(), Removal::Removed);

    let csv = format!("username,password\n{admin},Taken-Over-Pw1\n{vhost},Vh-thief-Pw1\n");
    let report = users::add(&ps, &creds(&csv), &secrets, &AddOptions::default()).await;
    let vhost_gone = p.remove_user(&vhost, false).await;
    assert_eq!(action_of(&report, &admin), "refused", "{report:?}");
    assert_eq!(action_of(&report, &vhost), "refused", "{report:?}");
    // The admin still logs in with its own password, and was not given a vhost.
    assert!(
        p.password_matches(&admin, &SecretString::from(admin_pw))
            .await
            .unwrap()
    );
    p.probe().await.unwrap();
    assert!(!p.list_users().await.unwrap().contains(&vhost));
    assert_eq!(vhost_gone.unwrap(), Removal::Removed);

    // A row of its own: created once, then unchanged; exit status 0 (nothing failed).
    let own = test_support::unique_name("csvok");
    let csv = format!("username,password\n{own},Own-Pw-1234\n");
    let first = users::add(&ps, &creds(&csv), &secrets, &AddOptions::default()).await;
    let again = users::add(&ps, &creds(&csv), &secrets, &AddOptions::default()).await;
    let cleanup = users::remove(&ps, &own, false, &secrets).await;
    assert_eq!(action_of(&first, &own), "created", "{first:?}");
    assert_eq!(action_of(&again, &own), "unchanged", "{again:?}");
    assert!(!again.failed());
    assert!(!cleanup.failed(), "{cleanup:?}");
}

#[tokio::test]
async fn postgres_live_admin_and_database_rows_are_refused() {
    use store::pg_admin::{PgAdmin, PgTarget, check_login};
    let Some(url) = live_url("DTAAS_TEST_PG_URL") else {
        return;
    };
    let target = PgTarget::from_url(&SecretString::from(url)).unwrap();
    let admin = target.user().to_owned();
    let pg = PgAdmin::connect(&target).await.unwrap();
    let foreign = test_support::unique_name("csvdb");
    pg.ensure_database(&foreign, &admin).await.unwrap();
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets(&db, &dir).await;
    let ps: Vec<Box<dyn Provisioner>> = vec![Box::new(
        services_postgres::PostgresProvisioner::new(target.clone()),
    )];
    let csv = format!("username,password\n{admin},Taken-Over-Pw1\n{foreign},Db-thief-Pw1\n");
    let report = users::add(&ps, &creds(&csv), &secrets, &AddOptions::default()).await;
    let role_made = pg.role_exists(&foreign).await.unwrap();
    pg.drop_database(&foreign).await.unwrap();
    assert_eq!(action_of(&report, &admin), "refused", "{report:?}");
    assert_eq!(action_of(&report, &foreign), "refused", "{report:?}");
    assert!(!role_made);
    check_login(&target).await.expect("the admin still logs in");
    pg.close().await;
}

fn grafana(server: &MockServer) -> Box<dyn Provisioner> {
    Box::new(
        services_grafana::GrafanaProvisioner::new(services_grafana::GrafanaOptions {
            base_url: server.uri(),
            admin_user: "admin".to_owned(),
            admin_password: SecretString::from("admin-pw"),
            http: HttpOptions::default(),
            retry: quick_retry(),
        })
        .unwrap(),
    )
}

/// Grafana v12.3.x: the admin's `POST /login` (basic auth is off in the generated
/// service, so the provisioner uses the session cookie: pkg/api/login.go `LoginPost` sets
/// `grafana_session`) and `GET /logout`, `GET /api/org` for the probe, `GET
/// /api/users/search` with the logins and emails as stored (lower-cased:
/// pkg/services/user/userimpl/user.go `Create`), and no other write may happen.
async fn grafana_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/login"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("set-cookie", "grafana_session=s3ss10n; Path=/; HttpOnly")
                .set_body_json(serde_json::json!({"message": "Logged in"})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/logout"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/org"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": 1})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/users/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "totalCount": 2,
            "users": [
                {"id": 1, "login": "admin", "email": "admin@localhost", "isAdmin": true},
                {"id": 2, "login": "alice", "email": "alice@example.org", "isAdmin": false}
            ],
            "page": 1, "perPage": 5000
        })))
        .mount(&server)
        .await;
    for m in ["POST", "PUT", "PATCH", "DELETE"] {
        Mock::given(method(m))
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(&server)
            .await;
    }
    server
}

#[tokio::test]
async fn grafana_case_variants_of_the_admin_and_of_others_are_refused() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets(&db, &dir).await;
    for name in ["Admin", "ADMIN", "admin", "Alice", "ALICE"] {
        let server = grafana_server().await;
        let ps = vec![grafana(&server)];
        let csv = format!("username,password\n{name},Some-Pw-123\n");
        let report = users::add(&ps, &creds(&csv), &secrets, &AddOptions::default()).await;
        assert_eq!(action_of(&report, name), "refused", "{name}: {report:?}");
        server.verify().await;
    }
}

/// InfluxDB v2.7: the probe and the paged `GET /api/v2/orgs` and `/api/v2/users` lists
/// (`{"orgs": [{"id", "name"}]}`), and no write may happen.
async fn influx_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/orgs"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "orgs": [{"id": "o1", "name": "platform"}, {"id": "o2", "name": "sensors"}]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "users": [{"id": "u1", "name": "operator"}]
        })))
        .mount(&server)
        .await;
    for m in ["POST", "PUT", "PATCH", "DELETE"] {
        Mock::given(method(m))
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(&server)
            .await;
    }
    server
}

#[tokio::test]
async fn influxdb_a_user_named_like_the_platform_org_or_another_org_is_refused() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets(&db, &dir).await;
    for name in ["platform", "sensors", "operator"] {
        let server = influx_server().await;
        let ps: Vec<Box<dyn Provisioner>> = vec![Box::new(
            services_influxdb::InfluxDbProvisioner::new(services_influxdb::InfluxDbOptions {
                base_url: server.uri(),
                token: SecretString::from("op-token"),
                admin_user: "operator".to_owned(),
                org: "platform".to_owned(),
                http: HttpOptions::default(),
                retry: quick_retry(),
            })
            .unwrap(),
        )];
        let csv = format!("username,password\n{name},Some-Pw-123\n");
        let report = users::add(&ps, &creds(&csv), &secrets, &AddOptions::default()).await;
        assert_eq!(action_of(&report, name), "refused", "{name}: {report:?}");
        server.verify().await;
    }
}

/// mongosh in the MongoDB container as the provisioner drives it: the probe and object
/// scripts are answered (the databases as `listDatabases` names them); any other script
/// (a change) is recorded.
#[derive(Debug, Default)]
struct MongoShell {
    changes: Mutex<Vec<String>>,
}

impl services_mongodb::MongoExec for MongoShell {
    fn exec<'a>(
        &'a self,
        spec: &'a docker::ExecSpec,
    ) -> BoxFuture<'a, Result<docker::ExecOutput, ProvisionError>> {
        Box::pin(async move {
            // mongosh 2.x runs the script given after `--eval` (mongodb-js/mongosh v2.5.10
            // packages/cli-repl/src/arg-parser.ts); nothing is read from stdin.
            assert!(
                spec.stdin.is_none(),
                "no script on stdin (it would run as the REPL)"
            );
            let at = spec.cmd.iter().position(|a| a == "--eval").expect("--eval");
            let script = spec.cmd[at + 1].clone();
            let out = if script.contains("getDBNames()") && script.contains("dbs:") {
                r#"DTAAS_RESULT {"dbs":["admin","config","local","sensors"],"users":[]}"#
            } else if script.contains("DTAAS_RESULT ok") {
                "DTAAS_RESULT ok"
            } else {
                self.changes.lock().unwrap().push(script);
                "DTAAS_RESULT created"
            };
            Ok(docker::ExecOutput {
                exit_code: 0,
                stdout: format!("{out}\n").into_bytes(),
                stderr: Vec::new(),
            })
        })
    }
}

#[tokio::test]
async fn mongodb_a_user_named_like_an_existing_database_is_refused() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets(&db, &dir).await;
    let shell = Arc::new(MongoShell::default());
    #[derive(Debug)]
    struct Exec(Arc<MongoShell>);
    impl services_mongodb::MongoExec for Exec {
        fn exec<'a>(
            &'a self,
            spec: &'a docker::ExecSpec,
        ) -> BoxFuture<'a, Result<docker::ExecOutput, ProvisionError>> {
            self.0.exec(spec)
        }
    }
    let ps: Vec<Box<dyn Provisioner>> = vec![Box::new(services_mongodb::MongoProvisioner::new(
        Exec(shell.clone()),
        services_mongodb::MongoOptions {
            admin_user: "root".to_owned(),
            admin_password: SecretString::from("root-pw"),
            ssl_verify: false,
        },
    ))];
    for name in ["sensors", "Sensors", "root", "Config"] {
        let csv = format!("username,password\n{name},Some-Pw-123\n");
        let report = users::add(&ps, &creds(&csv), &secrets, &AddOptions::default()).await;
        assert_eq!(action_of(&report, name), "refused", "{name}: {report:?}");
    }
    assert!(shell.changes.lock().unwrap().is_empty());
    // A name of its own goes through.
    let report = users::add(
        &ps,
        &creds("username,password\nfresh,Some-Pw-123\n"),
        &secrets,
        &AddOptions::default(),
    )
    .await;
    assert_eq!(action_of(&report, "fresh"), "created", "{report:?}");
    assert_eq!(shell.changes.lock().unwrap().len(), 1);
}
