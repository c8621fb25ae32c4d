//! The status view's HTTP client (issue 19): built only when probes run, and built while
//! the engine answers, not after.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use catalog::Service;
use lifecycle::{PublishedPort, ServiceStatus, StatusReport};
use services_common::HttpOptions;

use crate::ProbeSettings;
use crate::view::status_view_with;

fn settings(enabled: bool) -> ProbeSettings {
    ProbeSettings {
        hostname: "127.0.0.1".into(),
        tb_scheme: "http".into(),
        local_host: "127.0.0.1".into(),
        http: HttpOptions::default(),
        timeout: Duration::from_secs(2),
        rabbitmq_admin: None,
        postgres_admin: None,
        enabled,
    }
}

fn report() -> StatusReport {
    // Nothing listens on the port: the probe is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    StatusReport {
        services: vec![ServiceStatus {
            service: Service::Grafana,
            display_name: Service::Grafana.display_name(),
            container: "grafana".into(),
            state: "running".into(),
            health: None,
            image: "img:1".into(),
            tag: "1".into(),
            ports: vec![PublishedPort {
                host_ip: None,
                host_port: port,
                container_port: 3000,
                protocol: "tcp",
            }],
            started_at: None,
            uptime_secs: None,
            restart_count: Some(0),
            exit_code: None,
            desired: None,
            desired_assumed: false,
            maintenance: None,
            deviation: None,
        }],
        not_defined: Vec::new(),
    }
}

#[tokio::test]
async fn no_client_is_built_without_probes() {
    let builds = Arc::new(AtomicUsize::new(0));
    let b = Arc::clone(&builds);
    let view = status_view_with(
        "p",
        async { Ok::<_, ()>(report()) },
        &settings(false),
        move |http| {
            b.fetch_add(1, Ordering::SeqCst);
            services_common::http_client(http).map_err(|e| e.to_string())
        },
    )
    .await
    .unwrap();
    assert_eq!(view.services[0].probe, None);
    assert_eq!(
        builds.load(Ordering::SeqCst),
        0,
        "--no-probes loads no TLS roots"
    );
}

#[tokio::test]
async fn the_client_is_built_while_the_engine_answers() {
    // The engine's answer waits for the client to be under way: built after it, the view
    // would never come (the bound below only turns that hang into a failure).
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let engine = async move {
        rx.await.expect("the client build started");
        Ok::<_, ()>(report())
    };
    let view = tokio::time::timeout(
        Duration::from_secs(60),
        status_view_with("p", engine, &settings(true), move |http| {
            let _ = tx.send(());
            services_common::http_client(http).map_err(|e| e.to_string())
        }),
    )
    .await
    .expect("the client is built concurrently with the engine call")
    .unwrap();
    let probe = view.services[0].probe.as_ref().expect("probed");
    assert_eq!(view.services[0].ready, Some(false), "{probe:?}");
}
