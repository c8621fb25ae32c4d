use std::fs;

use certs::{
    CertsError, CheckOptions, Level, SelfSignedOptions, check, host_setup_as, self_signed,
};

use crate::support::*;

#[test]
fn self_signed_set_is_valid_for_host_localhost_and_ip_and_feeds_host_setup() {
    let f = Fixture::new();
    let report = self_signed(&SelfSignedOptions::new(f.src.clone(), HOST.to_owned())).unwrap();
    assert!(report.generated);
    assert_eq!(report.names, [HOST, "localhost", "127.0.0.1"]);
    assert_eq!(
        names_in(&f.src),
        [
            "ca.pem",
            "cert.pem",
            "chain.pem",
            "fullchain.pem",
            "privkey.pem"
        ]
    );
    assert_eq!(meta(&f.src.join("privkey.pem")).0, 0o600);
    assert_eq!(meta(&f.src.join("fullchain.pem")).0, 0o644);
    assert!(temp_files(&f.src).is_empty());
    let fullchain = fs::read_to_string(f.src.join("fullchain.pem")).unwrap();
    let cert = fs::read_to_string(f.src.join("cert.pem")).unwrap();
    let ca_pem = fs::read_to_string(f.src.join("ca.pem")).unwrap();
    assert_eq!(fullchain, format!("{cert}{ca_pem}"));

    host_setup_as(&f.opts(), true).unwrap();
    for host in [HOST, "localhost", "127.0.0.1"] {
        let r = check(&CheckOptions::new(
            f.project.clone(),
            Some(f.src.clone()),
            host.to_owned(),
        ));
        assert!(
            r.findings.iter().all(|x| x.level == Level::Ok),
            "{host}: {r:#?}"
        );
    }
}

#[test]
fn self_signed_is_idempotent_and_refuses_to_overwrite_other_certs() {
    let f = Fixture::new();
    let opts = SelfSignedOptions::new(f.src.clone(), HOST.to_owned());
    self_signed(&opts).unwrap();
    let before = tree_state(&f.src);
    let again = self_signed(&opts).unwrap();
    assert!(!again.generated);
    assert_eq!(tree_state(&f.src), before);

    // Another host: the existing set does not fit, and is not overwritten without force.
    let other = SelfSignedOptions::new(f.src.clone(), "other.example.org".to_owned());
    let err = self_signed(&other).unwrap_err();
    assert!(matches!(err, CertsError::Exists { .. }), "{err}");
    assert_eq!(tree_state(&f.src), before);

    let forced = self_signed(&SelfSignedOptions {
        force: true,
        ..other
    })
    .unwrap();
    assert!(forced.generated);
    assert_ne!(tree_state(&f.src), before);
}

#[test]
fn self_signed_rejects_bad_hostnames() {
    let f = Fixture::new();
    let err = self_signed(&SelfSignedOptions::new(f.src.clone(), " ".to_owned())).unwrap_err();
    assert!(err.is_usage());
}
