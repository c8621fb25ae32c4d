//! Keyed fingerprints of account passwords: HMAC-SHA256 (RFC 2104) over
//! `service \0 username \0 password`, so a changed CSV password is detected without storing
//! it. Written over the workspace's sha2 (0.10); checked against RFC 4231 vectors.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const BLOCK: usize = 64;

pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut k = Zeroizing::new([0u8; BLOCK]);
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// The fingerprint of `password` for `user` of `service` under `key`, as
/// `hmac-sha256:<hex>`. Equal inputs give equal fingerprints; without the key the password
/// cannot be tested against it.
pub fn fingerprint(key: &[u8], service: &str, user: &str, password: &SecretString) -> String {
    let mac = hmac_sha256(
        key,
        &[
            service.as_bytes(),
            b"\0",
            user.as_bytes(),
            b"\0",
            password.expose_secret().as_bytes(),
        ],
    );
    format!("hmac-sha256:{}", hex::encode(mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_test_vectors() {
        // Test case 1.
        let mac = hmac_sha256(&[0x0b; 20], &[b"Hi There"]);
        assert_eq!(
            hex::encode(mac),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        // Test case 2 (split input).
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6 (key longer than the block).
        let mac = hmac_sha256(
            &[0xaa; 131],
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"],
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn fingerprint_changes_with_password_user_service_and_key() {
        let pw = SecretString::from("s3cret-Pa55");
        let base = fingerprint(b"k1", "gitlab", "user1", &pw);
        assert!(base.starts_with("hmac-sha256:") && base.len() == 12 + 64);
        assert!(!base.contains("s3cret"));
        assert_eq!(
            base,
            fingerprint(b"k1", "gitlab", "user1", &SecretString::from("s3cret-Pa55"))
        );
        assert_ne!(
            base,
            fingerprint(b"k1", "gitlab", "user1", &SecretString::from("other"))
        );
        assert_ne!(base, fingerprint(b"k1", "gitlab", "user2", &pw));
        assert_ne!(base, fingerprint(b"k1", "mongodb", "user1", &pw));
        assert_ne!(base, fingerprint(b"k2", "gitlab", "user1", &pw));
        // The separator keeps ("ab","c") and ("a","bc") apart.
        assert_ne!(
            fingerprint(b"k", "ab", "c", &pw),
            fingerprint(b"k", "a", "bc", &pw)
        );
    }
}
