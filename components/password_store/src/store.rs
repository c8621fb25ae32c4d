use std::fmt;
use std::time::SystemTime;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use store::{JournalEntry, NewSecret, Outcome, SecretInfo, Store};
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::{Key, decrypt, encrypt};
use crate::error::PasswordStoreError;
use crate::fingerprint::hmac_sha256;
use crate::key::{self, KeySource};
use crate::names::validate_name;

const KEY_CHECK_META: &str = "password_store.key_check";
const KEY_CHECK_NAME: &str = "__key_check__";
const KEY_CHECK_PLAINTEXT: &[u8] = b"dtaas-services password store key check v1";

/// A GitLab OAuth application as saved in the legacy `gitlab_tokens.json`
/// (`server_app` / `client_app`).
#[derive(Clone)]
pub struct OAuthApp {
    /// GitLab's numeric application id (kept as text).
    pub application_id: String,
    pub name: String,
    pub client_id: String,
    pub client_secret: SecretString,
}

impl fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthApp")
            .field("application_id", &self.application_id)
            .field("name", &self.name)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .finish()
    }
}

/// The serialized (then encrypted) form of an [`OAuthApp`]; wiped on drop.
#[derive(Serialize, Deserialize, Zeroize)]
#[zeroize(drop)]
pub(crate) struct AppPlain {
    application_id: String,
    name: String,
    client_id: String,
    client_secret: String,
}

/// Admin passwords and tokens, encrypted at rest in a [`Store`].
#[derive(Clone)]
pub struct PasswordStore {
    pub(crate) store: Store,
    pub(crate) key: Key,
    pub(crate) key_desc: String,
}

impl fmt::Debug for PasswordStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordStore")
            .field("store", &self.store)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl PasswordStore {
    /// Load the key (creating a key file on first use) and check it against the database's
    /// key check value (set on first use). A different key is [`PasswordStoreError::WrongKey`].
    pub async fn open(store: Store, source: &KeySource) -> Result<Self, PasswordStoreError> {
        let existing = store.get_meta(KEY_CHECK_META).await?;
        let key = key::load(source, existing.is_none())?;
        let this = Self {
            store,
            key,
            key_desc: source.describe(),
        };
        let check = match existing {
            Some(check) => check,
            None => {
                let (ct, nonce) = encrypt(&this.key, KEY_CHECK_NAME, KEY_CHECK_PLAINTEXT);
                let value = format!("{}:{}", hex::encode(nonce), hex::encode(ct));
                if this
                    .store
                    .set_meta_if_absent(KEY_CHECK_META, &value, SystemTime::now())
                    .await?
                {
                    return Ok(this);
                }
                // Another process set it first: check against theirs.
                this.store
                    .get_meta(KEY_CHECK_META)
                    .await?
                    .unwrap_or_default()
            }
        };
        this.verify_key_check(&check)?;
        Ok(this)
    }

    fn verify_key_check(&self, check: &str) -> Result<(), PasswordStoreError> {
        let wrong = || PasswordStoreError::WrongKey {
            source_desc: self.key_desc.clone(),
        };
        let (nonce, ct) = check.split_once(':').ok_or_else(wrong)?;
        let nonce = hex::decode(nonce).map_err(|_| wrong())?;
        let ct = hex::decode(ct).map_err(|_| wrong())?;
        match decrypt(&self.key, KEY_CHECK_NAME, &ct, &nonce) {
            Some(pt) if pt.as_slice() == KEY_CHECK_PLAINTEXT => Ok(()),
            _ => Err(wrong()),
        }
    }

    /// The underlying state database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A secret's value, if stored.
    pub async fn get(&self, name: &str) -> Result<Option<SecretString>, PasswordStoreError> {
        Ok(self.get_bytes(name).await?.map(|bytes| {
            // Values are stored from `&str`, so they are UTF-8 unless tampered with; a lossy
            // decode keeps that case visible instead of failing.
            SecretString::from(String::from_utf8_lossy(&bytes).into_owned())
        }))
    }

    async fn get_bytes(
        &self,
        name: &str,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, PasswordStoreError> {
        validate_name(name)?;
        let Some(row) = self.store.get_secret(name).await? else {
            return Ok(None);
        };
        decrypt(&self.key, name, &row.ciphertext, &row.nonce)
            .map(Some)
            .ok_or_else(|| PasswordStoreError::Undecryptable {
                name: name.to_owned(),
            })
    }

    /// Store (or replace) a secret.
    pub async fn set(&self, name: &str, value: &SecretString) -> Result<(), PasswordStoreError> {
        self.set_bytes(name, value.expose_secret().as_bytes()).await
    }

    async fn set_bytes(&self, name: &str, value: &[u8]) -> Result<(), PasswordStoreError> {
        validate_name(name)?;
        let secret = self.seal(name, value);
        self.store.put_secret(&secret, SystemTime::now()).await?;
        Ok(())
    }

    pub(crate) fn seal(&self, name: &str, value: &[u8]) -> NewSecret {
        let (ciphertext, nonce) = encrypt(&self.key, name, value);
        NewSecret {
            name: name.to_owned(),
            ciphertext,
            nonce,
        }
    }

    /// Forget a secret; true if it existed.
    pub async fn remove(&self, name: &str) -> Result<bool, PasswordStoreError> {
        validate_name(name)?;
        Ok(self.store.delete_secret(name).await?)
    }

    /// Names and dates of every secret (never values).
    pub async fn list(&self) -> Result<Vec<SecretInfo>, PasswordStoreError> {
        Ok(self.store.list_secrets().await?)
    }

    /// An OAuth application (`GITLAB_SERVER_APP` / `GITLAB_CLIENT_APP`).
    pub async fn get_oauth_app(&self, name: &str) -> Result<Option<OAuthApp>, PasswordStoreError> {
        let Some(bytes) = self.get_bytes(name).await? else {
            return Ok(None);
        };
        let mut plain: AppPlain =
            serde_json::from_slice(&bytes).map_err(|_| PasswordStoreError::Undecryptable {
                name: name.to_owned(),
            })?;
        Ok(Some(OAuthApp {
            application_id: std::mem::take(&mut plain.application_id),
            name: std::mem::take(&mut plain.name),
            client_id: std::mem::take(&mut plain.client_id),
            client_secret: SecretString::from(std::mem::take(&mut plain.client_secret)),
        }))
    }

    /// Store an OAuth application.
    pub async fn set_oauth_app(
        &self,
        name: &str,
        app: &OAuthApp,
    ) -> Result<(), PasswordStoreError> {
        let bytes =
            Zeroizing::new(serde_json::to_vec(&app_plain(app)).expect("plain strings serialize"));
        self.set_bytes(name, &bytes).await
    }

    /// The keyed fingerprint of an account password, with a key derived from the store key
    /// (see [`crate::fingerprint`]).
    pub fn fingerprint(&self, service: &str, user: &str, password: &SecretString) -> String {
        let subkey = Zeroizing::new(hmac_sha256(
            &*self.key.0,
            &[b"dtaas-services/account-fingerprint/v1"],
        ));
        crate::fingerprint::fingerprint(&*subkey, service, user, password)
    }

    pub(crate) async fn journal(
        &self,
        command: &str,
        outcome: Outcome,
        detail: String,
    ) -> Result<(), PasswordStoreError> {
        self.store
            .record(&JournalEntry::new(command, outcome).detail(detail))
            .await?;
        Ok(())
    }
}

pub(crate) fn app_plain(app: &OAuthApp) -> AppPlain {
    AppPlain {
        application_id: app.application_id.clone(),
        name: app.name.clone(),
        client_id: app.client_id.clone(),
        client_secret: app.client_secret.expose_secret().to_owned(),
    }
}
