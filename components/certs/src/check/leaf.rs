//! The leaf certificate (HOSTNAME, validity), the chain order and the key pair.

use std::net::IpAddr;
use std::time::SystemTime;

use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use super::{CertInfo, Checker, EXPIRY_WARNING_DAYS, HINT_PAIR, Level};

pub(super) fn check_leaf(
    c: &mut Checker,
    leaf: &X509Certificate<'_>,
    hostname: &str,
    now: SystemTime,
) -> CertInfo {
    let (names, ips) = subject_alt_names(leaf);
    let all_names: Vec<String> = names
        .iter()
        .cloned()
        .chain(ips.iter().map(IpAddr::to_string))
        .collect();
    check_hostname(c, hostname, &names, &ips, &all_names);
    let days_left = check_validity(c, leaf, now);
    let validity = leaf.validity();
    CertInfo {
        subject: leaf.subject().to_string(),
        issuer: leaf.issuer().to_string(),
        names: all_names,
        not_before: rfc3339(validity.not_before.to_datetime()),
        not_after: rfc3339(validity.not_after.to_datetime()),
        days_left,
    }
}

/// The DNS names and IP addresses of the leaf's subjectAltName.
fn subject_alt_names(leaf: &X509Certificate<'_>) -> (Vec<String>, Vec<IpAddr>) {
    let mut names = Vec::new();
    let mut ips = Vec::new();
    if let Ok(Some(san)) = leaf.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push((*d).to_owned()),
                GeneralName::IPAddress(b) => {
                    let ip = match b.len() {
                        4 => <[u8; 4]>::try_from(*b).ok().map(IpAddr::from),
                        16 => <[u8; 16]>::try_from(*b).ok().map(IpAddr::from),
                        _ => None,
                    };
                    if let Some(ip) = ip {
                        ips.push(ip);
                    }
                }
                _ => {}
            }
        }
    }
    (names, ips)
}

/// Whether the leaf covers HOSTNAME (an IP against the IP SANs, a name against the DNS SANs
/// with wildcards).
fn check_hostname(
    c: &mut Checker,
    hostname: &str,
    names: &[String],
    ips: &[IpAddr],
    all_names: &[String],
) {
    let fc = Some("fullchain.pem");
    let host = hostname.trim();
    if !host.is_empty() {
        let covered = match host.parse::<IpAddr>() {
            Ok(ip) => ips.contains(&ip),
            Err(_) => names.iter().any(|n| dns_matches(n, host)),
        };
        if covered {
            c.push(
                Level::Ok,
                "hostname",
                fc,
                format!("the certificate covers {host}"),
                None,
            );
        } else if all_names.is_empty() {
            c.push(
                Level::Error,
                "hostname",
                fc,
                format!(
                    "the certificate has no subjectAltName, so no client accepts it for {host}"
                ),
                Some(HINT_PAIR),
            );
        } else {
            c.push(
                Level::Error,
                "hostname",
                fc,
                format!(
                    "the certificate does not cover HOSTNAME {host}; it is for {}",
                    all_names.join(", ")
                ),
                Some("issue a certificate for HOSTNAME, or set HOSTNAME in config/services.env to a name the certificate covers"),
            );
        }
    }
}

/// The validity window against `now`: expired, not yet valid, expiring within
/// [`EXPIRY_WARNING_DAYS`], or fine. Returns the days left.
fn check_validity(c: &mut Checker, leaf: &X509Certificate<'_>, now: SystemTime) -> i64 {
    let fc = Some("fullchain.pem");
    let now_s = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let validity = leaf.validity();
    let not_after = validity.not_after.timestamp();
    let not_before = validity.not_before.timestamp();
    let days_left = (not_after - now_s).div_euclid(86_400);
    let renew =
        Some("renew the certificate (certbot renew), then run `dtaas-services certs refresh`");
    if now_s > not_after {
        c.push(
            Level::Error,
            "expiry",
            fc,
            format!("the certificate expired {} days ago", -days_left),
            renew,
        );
    } else if now_s < not_before {
        c.push(
            Level::Error,
            "expiry",
            fc,
            "the certificate is not valid yet (check the clock)",
            None,
        );
    } else if days_left < EXPIRY_WARNING_DAYS {
        c.push(
            Level::Warning,
            "expiry",
            fc,
            format!("the certificate expires in {days_left} days"),
            renew,
        );
    } else {
        c.push(
            Level::Ok,
            "expiry",
            fc,
            format!("the certificate is valid for {days_left} more days"),
            None,
        );
    }
    days_left
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// RFC 6125 matching: case-insensitive; a wildcard covers exactly one left-most label.
pub(super) fn dns_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => match host.split_once('.') {
            Some((first, rest)) => !first.is_empty() && rest == suffix && suffix.contains('.'),
            None => false,
        },
        None => pattern == host,
    }
}

pub(super) fn check_chain(c: &mut Checker, certs: &[X509Certificate<'_>]) {
    let fc = Some("fullchain.pem");
    let mut ok = true;
    if certs[0].is_ca() {
        ok = false;
        c.push(
            Level::Error,
            "chain",
            fc,
            format!(
                "the first certificate of fullchain.pem is a CA ({}), not the server certificate",
                certs[0].subject()
            ),
            Some("fullchain.pem must list the server certificate first, then each issuer (as Let's Encrypt writes it)"),
        );
    }
    for (i, pair) in certs.windows(2).enumerate() {
        if pair[0].issuer().as_raw() != pair[1].subject().as_raw() {
            ok = false;
            c.push(
                Level::Error,
                "chain",
                fc,
                format!(
                    "certificate #{} ({}) is not issued by the next one, #{} ({})",
                    i + 1,
                    pair[0].subject(),
                    i + 2,
                    pair[1].subject()
                ),
                Some("order fullchain.pem leaf first, each certificate followed by its issuer"),
            );
        }
    }
    if ok && certs.len() == 1 && certs[0].issuer().as_raw() != certs[0].subject().as_raw() {
        c.push(
            Level::Warning,
            "chain",
            fc,
            "fullchain.pem holds only the server certificate, without its issuer; clients may fail to verify it",
            Some("use fullchain.pem (not cert.pem) from the certificate source"),
        );
    } else if ok {
        c.push(
            Level::Ok,
            "chain",
            fc,
            format!(
                "{} certificate(s), leaf first, each issued by the next",
                certs.len()
            ),
            None,
        );
    }
}

pub(super) fn check_key(c: &mut Checker, key_pem: &[u8], certs: &[X509Certificate<'_>]) {
    let pk = Some("privkey.pem");
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| e.to_string())
        .and_then(|der| rcgen::KeyPair::try_from(&der).map_err(|e| e.to_string()));
    let key = match key {
        Ok(k) => k,
        Err(e) => {
            c.push(
                Level::Error,
                "key_match",
                pk,
                format!("privkey.pem is not a usable private key: {e}"),
                Some(HINT_PAIR),
            );
            return;
        }
    };
    let raw = key.public_key_raw();
    if certs[0].public_key().subject_public_key.data.as_ref() == raw {
        c.push(
            Level::Ok,
            "key_match",
            pk,
            "privkey.pem matches the certificate",
            None,
        );
        return;
    }
    let other = certs
        .iter()
        .position(|x| x.public_key().subject_public_key.data.as_ref() == raw);
    let message = match other {
        Some(i) => format!(
            "privkey.pem does not match the first certificate of fullchain.pem but certificate #{}: the chain is out of order",
            i + 1
        ),
        None => "privkey.pem does not match the certificate in fullchain.pem".to_owned(),
    };
    c.push(Level::Error, "key_match", pk, message, Some(HINT_PAIR));
}
