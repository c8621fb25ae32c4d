use std::collections::BTreeSet;

use certs::refresh_as;

use crate::support::*;

#[test]
fn refresh_names_only_the_services_whose_files_changed() {
    let ca = ca("CA");
    let l = good_leaf(&ca);
    let f = Fixture::with_pair(&ca, &l);
    let first = refresh_as(&f.opts(), true).unwrap();
    assert_eq!(first.services.len(), 7);

    let r = refresh_as(&f.opts(), true).unwrap();
    assert!(r.services.is_empty());

    std::os::unix::fs::chown(f.certs().join("combined.pem"), Some(0), Some(0)).unwrap();
    let r = refresh_as(&f.opts(), true).unwrap();
    assert_eq!(r.services, BTreeSet::from(["mongodb"]));

    // Only fullchain.pem renewed in the source: every consumer of the chain changes.
    let renewed = leaf(&ca, &[HOST], -1, 80);
    f.write_src("fullchain.pem", &format!("{}{}", renewed.cert, ca.pem), 0);
    let r = refresh_as(&f.opts(), true).unwrap();
    assert_eq!(
        r.services,
        BTreeSet::from([
            "gitlab",
            "grafana",
            "influxdb",
            "mongodb",
            "postgres",
            "rabbitmq",
            "thingsboard-ce"
        ])
    );
}
