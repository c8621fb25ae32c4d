//! `DOCKER_HOST=tcp://...` with `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` (as
//! deploy/cronjob.yaml sets them): the engine connection speaks TLS; without
//! `DOCKER_TLS_VERIFY` it speaks plain HTTP to the same port. The listener records the first
//! bytes the runner sends and hangs up, so the job fails either way (exit 1).

use std::io::Read as _;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::fixture::{Project, jobs_in};

/// A throw-away CA certificate (no key: the handshake never gets that far). bollard parses
/// `ca.pem` when it connects; `cert.pem`/`key.pem` only when a server asks for them.
const CA_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBejCCAR+gAwIBAgIUGEwhEPMCwkzsrP0YG9eeaHWKKwQwCgYIKoZIzj0EAwIw
EjEQMA4GA1UEAwwHdGVzdC1jYTAeFw0yNjExMjIwMzMzMzVaFw0yNjExMjQwMzMz
MzVaMBIxEDAOBgNVBAMMB3Rlc3QtY2EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AAQqNL8pFdGdmWlkcY8VfgAfE1JhDneo+3o2AYm3SwXpVM8syuihrofgN8FtSZae
sxU7CzE/hspjF+gJLlyRtqdYo1MwUTAdBgNVHQ4EFgQU5S4SijDUkDlqiQKKjTxw
CpssLCcwHwYDVR0jBBgwFoAU5S4SijDUkDlqiQKKjTxwCpssLCcwDwYDVR0TAQH/
BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAtpT+ClZnSgx4lswUjkT1jD0szkLc
L1Otw0bkkxQ9+fwCIQCeeuX6XFXsmAfDVapjfSTXqFdUVdWW6SeLcXECCjkKrA==
-----END CERTIFICATE-----
";

/// Run service-health against a listener on 127.0.0.1 and return the first bytes it got.
fn first_bytes_sent(p: &Project, tls: bool) -> Vec<u8> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Bounded: a runner that fails before connecting must fail the test, not hang it.
    listener.set_nonblocking(true).unwrap();
    let reader = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut conn = loop {
            match listener.accept() {
                Ok((conn, _)) => break conn,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "the runner never connected");
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        conn.set_nonblocking(false).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).unwrap();
        buf.to_vec()
    });
    let mut cmd = jobs_in(p);
    cmd.args(["run", "service-health"])
        .env("DOCKER_HOST", format!("tcp://127.0.0.1:{port}"))
        .env("DOCKER_CERT_PATH", p.path().join("docker-certs"))
        .env_remove("DOCKER_CONFIG");
    if tls {
        cmd.env("DOCKER_TLS_VERIFY", "1");
    } else {
        cmd.env_remove("DOCKER_TLS_VERIFY");
    }
    cmd.assert().code(1);
    reader.join().unwrap()
}

#[test]
fn docker_tls_verify_and_cert_path_make_the_engine_connection_tls() {
    let p = Project::new("tls.example.org", &[]);
    std::fs::write(
        p.path().join("compose.services.yml"),
        "services:\n  rabbitmq:\n    image: busybox\n",
    )
    .unwrap();
    let certs = p.path().join("docker-certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::write(certs.join("ca.pem"), CA_PEM).unwrap();

    // A TLS handshake record (0x16) of TLS 1.x (0x03 ..).
    let tls = first_bytes_sent(&p, true);
    assert_eq!(&tls[..2], &[0x16, 0x03], "{tls:?}");
    // Without DOCKER_TLS_VERIFY: plain HTTP to the TLS port.
    let plain = first_bytes_sent(&p, false);
    assert_eq!(&plain, b"GET ", "{plain:?}");
}
