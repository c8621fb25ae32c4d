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

/// A Let's Encrypt archive directory (the default CERTS_SRC): `host setup` installs the newest
/// file of each name, so a self-signed set written there would replace the real certificate.
#[test]
fn self_signed_refuses_a_lets_encrypt_archive_and_force_keeps_its_numbered_files() {
    let ca = ca("LE test CA");
    let le = good_leaf(&ca);
    let f = Fixture::new();
    f.write_src("privkey1.pem", &le.key, 3600);
    f.write_src("fullchain1.pem", &format!("{}{}", le.cert, ca.pem), 3600);
    f.write_src("cert1.pem", &le.cert, 3600);
    f.write_src("chain1.pem", &ca.pem, 3600);
    let before = tree_state(&f.src);
    let opts = SelfSignedOptions::new(f.src.clone(), HOST.to_owned());

    let err = self_signed(&opts).unwrap_err();
    let CertsError::LetsEncrypt { paths, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(
        paths
            .iter()
            .map(|p| p.file_name().unwrap())
            .collect::<Vec<_>>(),
        ["cert1.pem", "chain1.pem", "fullchain1.pem", "privkey1.pem"]
    );
    assert!(err.is_usage());
    assert!(err.to_string().contains("--force"), "{err}");
    assert_eq!(tree_state(&f.src), before, "nothing written");

    // A single numbered file is enough.
    let g = Fixture::new();
    g.write_src("privkey3.pem", &le.key, 0);
    let err = self_signed(&SelfSignedOptions::new(g.src.clone(), HOST.to_owned())).unwrap_err();
    assert!(matches!(err, CertsError::LetsEncrypt { .. }), "{err}");
    assert_eq!(names_in(&g.src), ["privkey3.pem"]);

    // --force writes the five files next to them and never touches a numbered one.
    let forced = self_signed(&SelfSignedOptions {
        force: true,
        ..opts
    })
    .unwrap();
    assert!(forced.generated);
    assert_eq!(forced.lets_encrypt.len(), 4);
    let after = tree_state(&f.src);
    for (path, state) in &before {
        assert_eq!(after.get(path), Some(state), "{} changed", path.display());
    }
    assert_eq!(
        fs::read_to_string(f.src.join("privkey1.pem")).unwrap(),
        le.key
    );
}

/// Let's Encrypt's live directory: links to the numbered archive files, which certbot renews.
/// Replacing them would break renewals, so not even --force does.
#[test]
fn self_signed_never_replaces_lets_encrypt_links() {
    let ca = ca("LE test CA");
    let le = good_leaf(&ca);
    let f = Fixture::new();
    let archive = f.project.join("archive");
    fs::create_dir_all(&archive).unwrap();
    fs::write(archive.join("privkey1.pem"), &le.key).unwrap();
    fs::write(archive.join("fullchain1.pem"), &le.cert).unwrap();
    std::os::unix::fs::symlink(archive.join("privkey1.pem"), f.src.join("privkey.pem")).unwrap();
    std::os::unix::fs::symlink(archive.join("fullchain1.pem"), f.src.join("fullchain.pem"))
        .unwrap();
    let before = tree_state(&f.src);
    for force in [false, true] {
        let err = self_signed(&SelfSignedOptions {
            force,
            ..SelfSignedOptions::new(f.src.clone(), HOST.to_owned())
        })
        .unwrap_err();
        let CertsError::LetsEncryptLinks { paths } = &err else {
            panic!("{err}");
        };
        assert_eq!(paths.len(), 2, "{err}");
        assert!(err.is_usage());
        assert_eq!(tree_state(&f.src), before, "force={force}");
    }
    assert_eq!(
        fs::read_to_string(archive.join("privkey1.pem")).unwrap(),
        le.key
    );
}
