use super::names::{is_key, le_split};
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
fn key_detection() {
    assert!(is_key("x.pem", b"-----BEGIN PRIVATE KEY-----\n"));
    assert!(is_key("x.pem", b"-----BEGIN EC PRIVATE KEY-----\n"));
    assert!(is_key("postgres.key", b""));
    assert!(!is_key("fullchain.pem", b"-----BEGIN CERTIFICATE-----\n"));
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
