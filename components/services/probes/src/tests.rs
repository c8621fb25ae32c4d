//! Probes against wiremock and closed ports; the view's JSON shape.

use std::time::Duration;

use catalog::Service;
use lifecycle::{PublishedPort, ServiceStatus, StatusReport};
use secrecy::SecretString;
use services_common::HttpOptions;
use wiremock::matchers::{basic_auth, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::*;

fn settings() -> ProbeSettings {
    ProbeSettings {
        hostname: "127.0.0.1".into(),
        tb_scheme: "http".into(),
        local_host: "127.0.0.1".into(),
        http: HttpOptions {
            timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            ..HttpOptions::default()
        },
        timeout: Duration::from_secs(2),
        rabbitmq_admin: Some(("admin".into(), SecretString::from("s3cret-pw"))),
        postgres_admin: Some(("dtaas_user".into(), SecretString::from("pg-pw"))),
        enabled: true,
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn row(service: Service, state: &str, ports: Vec<PublishedPort>) -> ServiceStatus {
    ServiceStatus {
        service,
        display_name: service.display_name(),
        container: service.container_name().to_owned(),
        state: state.into(),
        health: None,
        image: "img:1".into(),
        tag: "1".into(),
        ports,
        started_at: Some("2025-01-01T00:00:00Z".into()),
        uptime_secs: Some(42),
        restart_count: 0,
        exit_code: None,
    }
}

fn port(container_port: u16, host_port: u16) -> PublishedPort {
    PublishedPort {
        host_ip: None,
        host_port,
        container_port,
        protocol: "tcp",
    }
}

#[tokio::test]
async fn http_probe_states_follow_the_answer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/ok"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/busy"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let client = reqwest::Client::new();
    let probe = |p: &str| Probe::Http {
        url: format!("{}{p}", server.uri()),
        auth: None,
    };
    let t = Duration::from_millis(500);
    let r = run_probe(&probe("/ok"), Ok(&client), t).await;
    assert_eq!(
        (r.state, r.detail.as_str()),
        (ProbeState::Ready, "HTTP 200")
    );
    let r = run_probe(&probe("/busy"), Ok(&client), t).await;
    assert_eq!(
        (r.state, r.detail.as_str()),
        (ProbeState::NotReady, "HTTP 503 Service Unavailable")
    );
    let r = run_probe(&probe("/slow"), Ok(&client), t).await;
    assert_eq!(
        (r.state, r.detail.as_str()),
        (ProbeState::Unreachable, "no answer within 0.5s")
    );
    let closed = Probe::Tcp {
        host: "127.0.0.1".into(),
        port: closed_port(),
    };
    let r = run_probe(&closed, Ok(&client), t).await;
    assert_eq!(r.state, ProbeState::Unreachable);
    assert_eq!(r.kind, "tcp");
    let r = run_probe(&probe("/ok"), Err("bad CA"), t).await;
    assert_eq!(
        (r.state, r.detail.as_str()),
        (ProbeState::Unreachable, "HTTP client: bad CA")
    );
}

#[test]
fn probes_per_service_and_no_secret_in_the_target() {
    let s = settings();
    let p = |svc, c| Probe::for_service(svc, &port(c, 9000), &s);
    let rabbit = p(Service::RabbitMq, 15671);
    assert_eq!(
        rabbit.target(),
        "https://127.0.0.1:9000/api/health/checks/alarms"
    );
    assert!(matches!(&rabbit, Probe::Http { auth: Some((u, _)), .. } if u == "admin"));
    assert!(!format!("{rabbit:?}").contains("s3cret-pw"));
    let pg = p(Service::Postgres, 5432);
    assert_eq!(
        (pg.kind(), pg.target()),
        ("postgres-login", "dtaas_user@127.0.0.1:9000".to_owned())
    );
    assert!(!format!("{pg:?}").contains("pg-pw"));
    assert_eq!(
        p(Service::GitLab, 443).target(),
        "https://127.0.0.1:9000/gitlab/-/readiness"
    );
    assert_eq!(
        p(Service::ThingsBoard, 8080).target(),
        "http://127.0.0.1:9000/api/noauth/userPasswordPolicy"
    );
    assert_eq!(
        p(Service::InfluxDb, 8086).target(),
        "https://127.0.0.1:9000/health"
    );
    assert_eq!(
        p(Service::Grafana, 3000).target(),
        "https://127.0.0.1:9000/api/health"
    );
    assert_eq!(p(Service::MongoDb, 27017).kind(), "tcp");
}

#[tokio::test]
async fn rabbitmq_probe_sends_the_admin_login() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/health/checks/alarms"))
        .and(basic_auth("admin", "s3cret-pw"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let probe = Probe::Http {
        url: format!("{}/api/health/checks/alarms", server.uri()),
        auth: settings().rabbitmq_admin,
    };
    let r = run_probe(&probe, Ok(&reqwest::Client::new()), Duration::from_secs(2)).await;
    assert_eq!(r.state, ProbeState::Ready, "{r:?}");
}

#[tokio::test]
async fn the_view_joins_status_urls_and_probes() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/noauth/userPasswordPolicy"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&server)
        .await;
    let tb_port = server.address().port();
    let pg_port = closed_port();
    let report = StatusReport {
        services: vec![
            row(Service::MongoDb, "exited", vec![port(27017, 8087)]),
            row(Service::Postgres, "running", vec![port(5432, pg_port)]),
            row(
                Service::ThingsBoard,
                "running",
                vec![port(8080, tb_port), port(7070, 7070)],
            ),
            row(Service::GitLab, "running", vec![]),
        ],
        not_defined: vec![Service::Grafana],
    };
    let view = status_view("proj", &report, &settings()).await;
    assert!(view.matched());
    let text = serde_json::to_string_pretty(&view)
        .unwrap()
        .replace(&format!(":{tb_port}"), ":TB_PORT")
        .replace(&format!(":{pg_port}"), ":PG_PORT")
        .replace(
            &format!("\"host_port\": {tb_port}"),
            "\"host_port\": TB_PORT",
        )
        .replace(
            &format!("\"host_port\": {pg_port}"),
            "\"host_port\": PG_PORT",
        );
    insta::with_settings!({filters => vec![
        (r#""latency_ms": \d+"#, r#""latency_ms": "[ms]""#),
        (r#""detail": "(error|pool|connection|Connection|no answer)[^"]*""#, r#""detail": "[refused]""#),
    ]}, {
        insta::assert_snapshot!(text);
    });
    assert_eq!(view.services[1].ready, Some(false));
    assert_eq!(view.services[2].ready, Some(true));
}

/// `postgres://user:pw@host:port/db` from DTAAS_TEST_PG_URL (.ci/run sets it).
#[allow(clippy::print_stderr)]
fn pg_login() -> Option<(String, String, String, u16)> {
    let Ok(url) = std::env::var("DTAAS_TEST_PG_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "DTAAS_TEST_PG_URL is not set, and CI is: the live PostgreSQL probe test cannot run"
        );
        eprintln!("skipped: set DTAAS_TEST_PG_URL=postgres://user:pw@127.0.0.1:5432/db to run");
        return None;
    };
    let rest = url.split_once("://").unwrap().1;
    let (login, hostport) = rest.split_once('@').unwrap();
    let (user, pw) = login.split_once(':').unwrap();
    let hostport = hostport.split('/').next().unwrap();
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "5432"));
    Some((user.into(), pw.into(), host.into(), port.parse().unwrap()))
}

#[tokio::test]
async fn postgres_probe_logs_in_on_a_real_server() {
    let Some((user, pw, host, port)) = pg_login() else {
        return;
    };
    let probe = |pw: &str| Probe::PostgresLogin {
        host: host.clone(),
        port,
        user: user.clone(),
        password: SecretString::from(pw.to_owned()),
    };
    let client = reqwest::Client::new();
    let r = run_probe(&probe(&pw), Ok(&client), Duration::from_secs(5)).await;
    assert_eq!(
        (r.state, r.detail.as_str()),
        (ProbeState::Ready, "login accepted")
    );
    let r = run_probe(
        &probe("wrong-password"),
        Ok(&client),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(r.state, ProbeState::NotReady, "{r:?}");
    assert!(!r.detail.contains("wrong-password"), "{r:?}");
}
