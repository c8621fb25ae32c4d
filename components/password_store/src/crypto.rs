//! XChaCha20-Poly1305 with a random 24-byte nonce per value; the secret's name is the
//! associated data, so a ciphertext moved to another name does not decrypt.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand::Rng;
use zeroize::Zeroizing;

pub(crate) const KEY_LEN: usize = 32;
pub(crate) const NONCE_LEN: usize = 24;

/// The 32-byte store key, wiped on drop.
#[derive(Clone)]
pub(crate) struct Key(pub(crate) Zeroizing<[u8; KEY_LEN]>);

impl Key {
    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&(*self.0).into())
    }
}

fn aad(name: &str) -> Vec<u8> {
    let mut aad = b"dtaas-services/password-store/v1/".to_vec();
    aad.extend_from_slice(name.as_bytes());
    aad
}

/// Encrypt `plaintext` for `name`; returns (ciphertext with tag, nonce).
pub(crate) fn encrypt(key: &Key, name: &str, plaintext: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let aad = aad(name);
    let ciphertext = key
        .cipher()
        .encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        // Encryption only fails for messages longer than the cipher's limit (256 GiB).
        .expect("XChaCha20-Poly1305 encryption of a small value cannot fail");
    (ciphertext, nonce.to_vec())
}

/// Decrypt; `None` when the key, name, nonce or ciphertext do not match.
pub(crate) fn decrypt(
    key: &Key,
    name: &str,
    ciphertext: &[u8],
    nonce: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    let aad = aad(name);
    key.cipher()
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad: &aad,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

/// 32 random bytes for a new key file.
pub(crate) fn random_key() -> Key {
    let mut k = Zeroizing::new([0u8; KEY_LEN]);
    rand::rng().fill_bytes(&mut *k);
    Key(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding_to_name_and_key() {
        let key = random_key();
        let (ct, nonce) = encrypt(&key, "A", b"hello");
        assert_eq!(nonce.len(), NONCE_LEN);
        assert_ne!(&ct[..5], b"hello");
        assert_eq!(
            decrypt(&key, "A", &ct, &nonce)
                .as_deref()
                .map(Vec::as_slice),
            Some(&b"hello"[..])
        );
        assert!(
            decrypt(&key, "B", &ct, &nonce).is_none(),
            "moved to another name"
        );
        assert!(
            decrypt(&random_key(), "A", &ct, &nonce).is_none(),
            "other key"
        );
        let (ct2, nonce2) = encrypt(&key, "A", b"hello");
        assert_ne!(
            (ct.clone(), nonce.clone()),
            (ct2, nonce2),
            "fresh nonce each time"
        );
    }
}
