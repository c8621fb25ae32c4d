use super::names::{copy_mode, le_split};
use super::report::Step;

#[test]
fn le_names() {
    assert_eq!(le_split("privkey.pem"), Some(("privkey", None)));
    assert_eq!(le_split("privkey12.pem"), Some(("privkey", Some(12))));
    assert_eq!(le_split("fullchain3.pem"), Some(("fullchain", Some(3))));
    assert_eq!(le_split("chain.pem"), Some(("chain", None)));
    assert_eq!(le_split("cert1.pem"), Some(("cert", Some(1))));
    assert_eq!(le_split("privkey-influxdb.pem"), None);
    assert_eq!(le_split("certificate.pem"), None);
    assert_eq!(le_split("privkey1.key"), None);
    assert_eq!(le_split("ca.pem"), None);
}

#[test]
fn copy_modes() {
    assert_eq!(copy_mode("x.pem", b"-----BEGIN PRIVATE KEY-----\n"), 0o600);
    assert_eq!(
        copy_mode("x.pem", b"-----BEGIN EC PRIVATE KEY-----\n"),
        0o600
    );
    assert_eq!(
        copy_mode("postgres.key", b"-----BEGIN CERTIFICATE-----\n"),
        0o600
    );
    assert_eq!(
        copy_mode("fullchain.pem", b"-----BEGIN CERTIFICATE-----\n"),
        0o644
    );
    assert_eq!(copy_mode("cert.pem", &[0x30, 0x82, 0x01]), 0o600);
}

#[test]
fn step_labels() {
    let labels: Vec<_> = Step::ALL.iter().map(|s| s.label()).collect();
    assert_eq!(
        labels,
        [
            "Copying certificates",
            "Configuring MongoDB",
            "Configuring InfluxDB",
            "Configuring RabbitMQ",
            "Configuring PostgreSQL",
            "Configuring ThingsBoard",
            "Configuring Grafana"
        ]
    );
}
