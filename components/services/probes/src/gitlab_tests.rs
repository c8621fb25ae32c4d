//! The GitLab probe against a stand-in of GitLab's web front (nginx, workhorse, Rails) as a
//! client outside the container sees it.
//!
//! Reproduces gitlabhq/gitlabhq v18.10.1:
//! - app/controllers/health_controller.rb (`/-/readiness`, `/-/liveness`) includes
//!   app/controllers/concerns/requires_allowlisted_monitoring_client.rb: `render_404` unless
//!   the client IP is in `Settings.monitoring.ip_whitelist` (config/gitlab.yml.example and
//!   omnibus `gitlab_rails['monitoring_whitelist']`: 127.0.0.0/8 and ::1/128) or the
//!   request carries the health-check token. A request through a published port reaches the
//!   container from the Docker network's gateway, never from loopback.
//! - `/users/sign_in` (Devise sessions#new) answers anonymous clients with 200 once Rails
//!   serves; while Puma boots, omnibus nginx answers 502 for every path.

use std::net::IpAddr;
use std::time::Duration;

use catalog::Service;
use lifecycle::PublishedPort;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::{Probe, ProbeSettings, ProbeState, run_probe};

/// GitLab's web front; every request is seen as coming from `peer`.
struct GitLabWeb {
    peer: IpAddr,
    booted: bool,
}

impl GitLabWeb {
    fn allowlisted(&self) -> bool {
        match self.peer {
            IpAddr::V4(v4) => v4.is_loopback(),
            IpAddr::V6(v6) => {
                v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v| v.is_loopback())
            }
        }
    }
}

impl Respond for GitLabWeb {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if !self.booted {
            return ResponseTemplate::new(502).set_body_string("GitLab is not responding");
        }
        let not_found =
            ResponseTemplate::new(404).set_body_string("<h1>404</h1>The page could not be found");
        match req.url.path() {
            "/gitlab/-/readiness" | "/gitlab/-/liveness" if self.allowlisted() => {
                ResponseTemplate::new(200).set_body_string(r#"{"status":"ok"}"#)
            }
            "/gitlab/-/readiness" | "/gitlab/-/liveness" => not_found,
            "/gitlab/users/sign_in" => {
                ResponseTemplate::new(200).set_body_string("<html>Sign in</html>")
            }
            _ => not_found,
        }
    }
}

async fn gitlab_web(peer: &str, booted: bool) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(GitLabWeb {
            peer: peer.parse().unwrap(),
            booted,
        })
        .mount(&server)
        .await;
    server
}

/// The probe `service status` runs for GitLab published on port 9000, moved to `server`.
fn gitlab_probe_at(server: &MockServer) -> Probe {
    let s = ProbeSettings {
        hostname: "127.0.0.1".into(),
        tb_scheme: "https".into(),
        local_host: "127.0.0.1".into(),
        http: services_common::HttpOptions::default(),
        timeout: Duration::from_secs(2),
        rabbitmq_admin: None,
        postgres_admin: None,
        enabled: true,
    };
    let published = PublishedPort {
        host_ip: None,
        host_port: 9000,
        container_port: 443,
        protocol: "tcp",
    };
    match Probe::for_service(Service::GitLab, &published, &s) {
        Probe::Http { url, auth } => Probe::Http {
            url: url.replace("https://127.0.0.1:9000", &server.uri()),
            auth,
        },
        other => panic!("not an HTTP probe: {other:?}"),
    }
}

async fn get(server: &MockServer, path: &str) -> u16 {
    reqwest::get(format!("{}{path}", server.uri()))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn the_stand_in_answers_readiness_only_to_loopback() {
    let outside = gitlab_web("172.17.0.1", true).await;
    assert_eq!(get(&outside, "/gitlab/-/readiness").await, 404);
    assert_eq!(get(&outside, "/gitlab/users/sign_in").await, 200);
    let inside = gitlab_web("127.0.0.1", true).await;
    assert_eq!(get(&inside, "/gitlab/-/readiness").await, 200);
    let mapped = gitlab_web("::ffff:127.0.0.1", true).await;
    assert_eq!(get(&mapped, "/gitlab/-/readiness").await, 200);
}

#[tokio::test]
async fn a_ready_gitlab_probes_ready_through_the_published_port() {
    let client = reqwest::Client::new();
    let t = Duration::from_secs(2);
    let ready = gitlab_web("172.17.0.1", true).await;
    let r = run_probe(&gitlab_probe_at(&ready), Ok(&client), t).await;
    assert_eq!(
        (r.state, r.detail.as_str()),
        (ProbeState::Ready, "HTTP 200"),
        "{r:?}"
    );
    assert!(r.target.ends_with("/gitlab/users/sign_in"), "{r:?}");

    let booting = gitlab_web("172.17.0.1", false).await;
    let r = run_probe(&gitlab_probe_at(&booting), Ok(&client), t).await;
    assert_eq!(
        (r.state, r.detail.as_str()),
        (ProbeState::NotReady, "HTTP 502 Bad Gateway")
    );
}
