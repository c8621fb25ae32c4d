//! The retry policy of `HttpApi::send` against a real local HTTP server: a POST whose answer
//! is lost (whole-request timeout) or that failed with 500 is sent once, never duplicated;
//! idempotent requests are retried; a POST is retried when no connection could be made.

use std::time::Duration;

use reqwest::Method;
use services_common::{HttpApi, HttpOptions, ProvisionError, Retry, http_client};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ATTEMPTS: u32 = 3;

fn api(base: &str, timeout: Duration, first_delay: Duration) -> HttpApi {
    let opts = HttpOptions {
        timeout,
        connect_timeout: Duration::from_secs(2),
        ..HttpOptions::default()
    };
    let mut api = HttpApi::new(http_client(&opts).unwrap(), base, "Test");
    api.retry = Retry {
        attempts: ATTEMPTS,
        first_delay,
        max_delay: first_delay,
    };
    api
}

async fn slow(server: &MockServer, m: &str, expected: u64) {
    Mock::given(method(m))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(2)))
        .expect(expected)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_post_that_times_out_is_sent_exactly_once() {
    let s = MockServer::start().await;
    slow(&s, "POST", 1).await;
    let api = api(
        &s.uri(),
        Duration::from_millis(200),
        Duration::from_millis(1),
    );
    let e = api
        .send(api.request(Method::POST, "/slow").body("{}"))
        .await
        .unwrap_err();
    assert!(matches!(e, ProvisionError::Unreachable { .. }), "{e}");
    assert_eq!(s.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_patch_that_times_out_is_sent_exactly_once() {
    let s = MockServer::start().await;
    slow(&s, "PATCH", 1).await;
    let api = api(
        &s.uri(),
        Duration::from_millis(200),
        Duration::from_millis(1),
    );
    assert!(api.send(api.request(Method::PATCH, "/slow")).await.is_err());
    assert_eq!(s.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn idempotent_requests_that_time_out_are_retried() {
    for m in [Method::GET, Method::PUT, Method::DELETE] {
        let s = MockServer::start().await;
        slow(&s, m.as_str(), u64::from(ATTEMPTS)).await;
        let api = api(
            &s.uri(),
            Duration::from_millis(200),
            Duration::from_millis(1),
        );
        assert!(api.send(api.request(m.clone(), "/slow")).await.is_err());
        assert_eq!(
            s.received_requests().await.unwrap().len(),
            ATTEMPTS as usize,
            "{m}"
        );
    }
}

#[tokio::test]
async fn server_errors_retry_posts_only_when_unavailable() {
    for (m, status, sent) in [
        (Method::POST, 500, 1),
        (Method::POST, 502, 1),
        (Method::POST, 503, ATTEMPTS),
        (Method::GET, 500, ATTEMPTS),
        (Method::PUT, 502, ATTEMPTS),
    ] {
        let s = MockServer::start().await;
        Mock::given(method(m.as_str()))
            .respond_with(ResponseTemplate::new(status))
            .expect(u64::from(sent))
            .mount(&s)
            .await;
        let api = api(&s.uri(), Duration::from_secs(5), Duration::from_millis(1));
        let resp = api.send(api.request(m.clone(), "/x")).await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{m} {status}");
        assert_eq!(
            s.received_requests().await.unwrap().len(),
            sent as usize,
            "{m} {status}"
        );
    }
}

#[tokio::test]
async fn a_post_is_retried_when_no_connection_could_be_made() {
    // A port nobody listens on yet; the server comes up before the second attempt.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let api = api(
        &format!("http://{addr}"),
        Duration::from_secs(5),
        Duration::from_millis(800),
    );
    let server = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let listener = std::net::TcpListener::bind(addr).unwrap();
        let s = MockServer::builder().listener(listener).start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(201))
            .expect(1)
            .mount(&s)
            .await;
        for _ in 0..100 {
            if !s.received_requests().await.unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        s.received_requests().await.unwrap().len()
    });
    let resp = api
        .send(api.request(Method::POST, "/x").body("{}"))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    assert_eq!(server.await.unwrap(), 1);
}
