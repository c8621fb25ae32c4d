//! DOCKER_HOST is shown redacted ([`redact::url`]) in every error and in `host()`: a
//! `tcp://user:password@host` or `ssh://user:password@host` value never shows its password.

use docker::BollardEngine;

#[tokio::test]
async fn an_unreachable_docker_host_shows_no_password() {
    for host in [
        "tcp://admin:Secret-Pw-1@127.0.0.1:1",
        "http://127.0.0.1:1/?token=Secret-Pw-1",
    ] {
        let err = BollardEngine::connect(Some(host))
            .await
            .expect_err("nothing listens on port 1");
        let (msg, dbg) = (err.to_string(), format!("{err:?}"));
        assert!(err.is_unreachable(), "{msg}");
        assert!(
            !msg.contains("Secret") && !dbg.contains("Secret"),
            "{host}: {msg} / {dbg}"
        );
    }
}
