use std::fs;
use std::os::unix::fs::PermissionsExt;

use certs::{CheckOptions, CheckReport, Level, check, host_setup_as};

use crate::support::*;

fn run(f: &Fixture, hostname: &str) -> CheckReport {
    check(&CheckOptions::new(
        f.project.clone(),
        Some(f.src.clone()),
        hostname.to_owned(),
    ))
}

fn set_up(ca: &Ca, leaf: &Leaf) -> Fixture {
    let f = Fixture::with_pair(ca, leaf);
    host_setup_as(&f.opts(), true).unwrap();
    f
}

fn levels(r: &CheckReport, id: &str) -> Vec<Level> {
    r.findings_of(id).map(|f| f.level).collect()
}

macro_rules! snapshot_json {
    ($report:expr, @$snap:literal) => {
        insta::with_settings!({filters => vec![(r"-?\d+( more)? days", "[N]$1 days")]}, {
            insta::assert_json_snapshot!($report, {
                ".certificate.not_before" => "[date]",
                ".certificate.not_after" => "[date]",
                ".certificate.days_left" => "[days]",
            }, @$snap);
        });
    };
}

#[test]
fn a_good_setup_has_no_error_and_no_warning() {
    let ca = ca("Test CA");
    let f = set_up(&ca, &good_leaf(&ca));
    let r = run(&f, HOST);
    assert!(!r.has_errors() && !r.has_warnings(), "{r:#?}");
    let info = r.certificate.as_ref().unwrap();
    assert!((88..=90).contains(&info.days_left), "{}", info.days_left);
    snapshot_json!(r, @r#"
    {
      "hostname": "services.example.org",
      "certificate": {
        "subject": "CN=services.example.org",
        "issuer": "CN=Test CA",
        "names": [
          "services.example.org"
        ],
        "not_before": "[date]",
        "not_after": "[date]",
        "days_left": "[days]"
      },
      "findings": [
        {
          "level": "ok",
          "check": "hostname",
          "file": "certs/fullchain.pem",
          "message": "the certificate covers services.example.org"
        },
        {
          "level": "ok",
          "check": "expiry",
          "file": "certs/fullchain.pem",
          "message": "the certificate is valid for [N] more days"
        },
        {
          "level": "ok",
          "check": "chain",
          "file": "certs/fullchain.pem",
          "message": "2 certificate(s), leaf first, each issued by the next"
        },
        {
          "level": "ok",
          "check": "key_match",
          "file": "certs/privkey.pem",
          "message": "privkey.pem matches the certificate"
        },
        {
          "level": "ok",
          "check": "derived",
          "message": "the per-service files are in step with privkey.pem/fullchain.pem"
        },
        {
          "level": "ok",
          "check": "key_mode",
          "message": "key files are readable by their owner only"
        },
        {
          "level": "ok",
          "check": "source",
          "message": "certs/ is in step with CERTS_SRC"
        }
      ]
    }
    "#);
}

#[test]
fn expired_certificate_is_an_error() {
    let ca = ca("Test CA");
    let f = set_up(&ca, &leaf(&ca, &[HOST], -100, -3));
    let r = run(&f, HOST);
    assert!(r.has_errors());
    assert_eq!(levels(&r, "expiry"), [Level::Error]);
    assert!(r.certificate.as_ref().unwrap().days_left < 0);
}

#[test]
fn expiring_soon_is_a_warning() {
    let ca = ca("Test CA");
    let f = set_up(&ca, &leaf(&ca, &[HOST], -80, 10));
    let r = run(&f, HOST);
    assert!(!r.has_errors(), "{r:#?}");
    assert_eq!(levels(&r, "expiry"), [Level::Warning]);
    let msg = &r.findings_of("expiry").next().unwrap().message;
    assert!(
        msg.contains("expires in 9 days") || msg.contains("expires in 10 days"),
        "{msg}"
    );
}

#[test]
fn wrong_host_is_an_error_and_wildcards_match() {
    let ca = ca("Test CA");
    let f = set_up(
        &ca,
        &leaf(&ca, &["other.example.org", "*.example.net"], -1, 90),
    );
    let r = run(&f, HOST);
    assert_eq!(levels(&r, "hostname"), [Level::Error]);
    snapshot_json!(r.findings_of("hostname").collect::<Vec<_>>(), @r#"
    [
      {
        "level": "error",
        "check": "hostname",
        "file": "certs/fullchain.pem",
        "message": "the certificate does not cover HOSTNAME services.example.org; it is for other.example.org, *.example.net",
        "hint": "issue a certificate for HOSTNAME, or set HOSTNAME in config/services.env to a name the certificate covers"
      }
    ]
    "#);
    assert_eq!(levels(&run(&f, "a.example.net"), "hostname"), [Level::Ok]);
    assert_eq!(
        levels(&run(&f, "a.b.example.net"), "hostname"),
        [Level::Error]
    );
    assert_eq!(
        levels(&run(&f, "OTHER.example.org"), "hostname"),
        [Level::Ok]
    );
}

#[test]
fn ip_hostname_matches_ip_san() {
    let ca = ca("Test CA");
    let f = set_up(&ca, &leaf(&ca, &["10.0.0.7"], -1, 90));
    assert_eq!(levels(&run(&f, "10.0.0.7"), "hostname"), [Level::Ok]);
    assert_eq!(levels(&run(&f, "10.0.0.8"), "hostname"), [Level::Error]);
}

#[test]
fn key_not_matching_is_an_error() {
    let ca = ca("Test CA");
    let a = good_leaf(&ca);
    let b = good_leaf(&ca);
    let f = set_up(&ca, &a);
    fs::write(f.certs().join("privkey.pem"), &b.key).unwrap();
    let r = run(&f, HOST);
    assert_eq!(levels(&r, "key_match"), [Level::Error]);
    assert!(r.has_errors());
    // The derived files now disagree with privkey.pem, and certs/ with CERTS_SRC.
    assert!(r.findings_of("derived").all(|x| x.level == Level::Warning));
    assert!(
        r.findings_of("derived")
            .any(|x| x.file.as_deref() == Some("certs/combined.pem"))
    );
    assert_eq!(levels(&r, "source"), [Level::Warning]);
}

#[test]
fn wrong_chain_order_is_an_error() {
    let ca = ca("Test CA");
    let l = good_leaf(&ca);
    let f = set_up(&ca, &l);
    fs::write(
        f.certs().join("fullchain.pem"),
        format!("{}{}", ca.pem, l.cert),
    )
    .unwrap();
    let r = run(&f, HOST);
    assert!(levels(&r, "chain").iter().all(|l| *l == Level::Error));
    assert_eq!(levels(&r, "chain").len(), 2);
    let key = r.findings_of("key_match").next().unwrap();
    assert_eq!(key.level, Level::Error);
    assert!(key.message.contains("certificate #2"), "{}", key.message);
    snapshot_json!(r.findings_of("chain").collect::<Vec<_>>(), @r#"
    [
      {
        "level": "error",
        "check": "chain",
        "file": "certs/fullchain.pem",
        "message": "the first certificate of fullchain.pem is a CA (CN=Test CA), not the server certificate",
        "hint": "fullchain.pem must list the server certificate first, then each issuer (as Let's Encrypt writes it)"
      },
      {
        "level": "error",
        "check": "chain",
        "file": "certs/fullchain.pem",
        "message": "certificate #1 (CN=Test CA) is not issued by the next one, #2 (CN=services.example.org)",
        "hint": "order fullchain.pem leaf first, each certificate followed by its issuer"
      }
    ]
    "#);
}

#[test]
fn leaf_only_chain_is_a_warning() {
    let ca = ca("Test CA");
    let l = good_leaf(&ca);
    let f = set_up(&ca, &l);
    fs::write(f.certs().join("fullchain.pem"), &l.cert).unwrap();
    let r = run(&f, HOST);
    assert_eq!(levels(&r, "chain"), [Level::Warning]);
}

#[test]
fn readable_keys_are_reported() {
    let ca = ca("Test CA");
    let f = set_up(&ca, &good_leaf(&ca));
    let c = f.certs();
    fs::set_permissions(c.join("privkey.pem"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(c.join("postgres.key"), fs::Permissions::from_mode(0o640)).unwrap();
    let r = run(&f, HOST);
    assert!(r.has_errors());
    snapshot_json!(r.findings_of("key_mode").collect::<Vec<_>>(), @r#"
    [
      {
        "level": "error",
        "check": "key_mode",
        "file": "certs/privkey.pem",
        "message": "privkey.pem is readable by everyone (mode 0644)",
        "hint": "chmod 600 certs/privkey.pem (`dtaas-services host setup` does it)"
      },
      {
        "level": "warning",
        "check": "key_mode",
        "file": "certs/postgres.key",
        "message": "postgres.key is readable by its group (mode 0640)",
        "hint": "chmod 600 certs/postgres.key (`dtaas-services host setup` does it)"
      }
    ]
    "#);
}

#[test]
fn missing_files_are_errors() {
    let f = Fixture::new();
    let r = run(&f, HOST);
    assert!(r.has_errors());
    assert!(r.certificate.is_none());
    snapshot_json!(r, @r#"
    {
      "hostname": "services.example.org",
      "findings": [
        {
          "level": "error",
          "check": "files",
          "file": "certs/privkey.pem",
          "message": "privkey.pem is missing",
          "hint": "run `dtaas-services host setup` (or `dtaas-services certs self-signed` for a development host)"
        },
        {
          "level": "error",
          "check": "files",
          "file": "certs/fullchain.pem",
          "message": "fullchain.pem is missing",
          "hint": "run `dtaas-services host setup` (or `dtaas-services certs self-signed` for a development host)"
        },
        {
          "level": "ok",
          "check": "key_mode",
          "message": "key files are readable by their owner only"
        },
        {
          "level": "ok",
          "check": "source",
          "message": "certs/ is in step with CERTS_SRC"
        }
      ]
    }
    "#);
}
