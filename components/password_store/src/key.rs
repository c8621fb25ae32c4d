use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::crypto::{KEY_LEN, Key, random_key};
use crate::error::PasswordStoreError;

/// Where the key file lives inside a project directory by default.
pub const DEFAULT_KEY_FILE_RELATIVE_PATH: &str = ".dtaas/store.key";

/// Where the 32-byte store key comes from.
#[derive(Clone)]
pub enum KeySource {
    /// Key material given by the caller (the cli reads `DTAAS_STORE_KEY`): 64 hex characters
    /// or the base64 of 32 bytes.
    Env(SecretString),
    /// A key file, created with 32 random bytes (as 64 hex characters, mode 0600) on first use.
    File(PathBuf),
}

impl KeySource {
    /// The default key file: `<project_dir>/.dtaas/store.key`.
    pub fn default_file_for_project(project_dir: &Path) -> Self {
        Self::File(project_dir.join(DEFAULT_KEY_FILE_RELATIVE_PATH))
    }

    /// The key of a project: `env_key` (the value of DTAAS_STORE_KEY) when given and not
    /// blank, else [`KeySource::default_file_for_project`].
    #[must_use]
    pub fn for_project(project_dir: &Path, env_key: Option<SecretString>) -> Self {
        match env_key.filter(|k| !k.expose_secret().trim().is_empty()) {
            Some(k) => Self::Env(k),
            None => Self::default_file_for_project(project_dir),
        }
    }

    /// A description for messages (never the key).
    pub fn describe(&self) -> String {
        match self {
            Self::Env(_) => "key given in the environment".to_owned(),
            Self::File(path) => format!("key file {}", path.display()),
        }
    }
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(_) => f.write_str("Env(<redacted>)"),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// Load the key; a missing key file is created only when `may_create` (the database has no
/// key check yet), else it is [`PasswordStoreError::KeyFileMissing`].
pub(crate) fn load(source: &KeySource, may_create: bool) -> Result<Key, PasswordStoreError> {
    match source {
        KeySource::Env(text) => parse_key(text.expose_secret().as_bytes(), source),
        KeySource::File(path) => {
            let io_err = |e| PasswordStoreError::KeyFile {
                path: path.clone(),
                source: e,
            };
            match read_key_file(path) {
                Ok(bytes) => parse_key(&bytes, source),
                Err(e) if e.kind() == io::ErrorKind::NotFound && !may_create => {
                    Err(PasswordStoreError::KeyFileMissing { path: path.clone() })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    create_key_file(path).map_err(io_err)
                }
                Err(e) => Err(io_err(e)),
            }
        }
    }
}

/// 64 hex characters, base64 (standard or URL-safe, padded or not) of 32 bytes, or (files
/// only) exactly 32 raw bytes.
fn parse_key(raw: &[u8], source: &KeySource) -> Result<Key, PasswordStoreError> {
    let invalid = |detail: &str| PasswordStoreError::InvalidKey {
        source_desc: source.describe(),
        detail: detail.to_owned(),
    };
    let text = std::str::from_utf8(raw).map(str::trim);
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    if let Ok(text) = text {
        if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode_to_slice(text, &mut *key).map_err(|_| invalid("bad hex"))?;
            return Ok(Key(key));
        }
        let engines = [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        for engine in engines {
            if let Ok(bytes) = engine.decode(text).map(Zeroizing::new) {
                if bytes.len() == KEY_LEN {
                    key.copy_from_slice(&bytes);
                    return Ok(Key(key));
                }
                return Err(invalid(&format!(
                    "base64 decodes to {} bytes, expected {KEY_LEN}",
                    bytes.len()
                )));
            }
        }
    }
    if matches!(source, KeySource::File(_)) && raw.len() == KEY_LEN {
        key.copy_from_slice(raw);
        return Ok(Key(key));
    }
    Err(invalid(
        "expected 64 hex characters or the base64 of 32 bytes",
    ))
}

/// The key file's bytes, read without following a link (`.dtaas` or the file itself) and
/// refusing a hard-linked file: the key of this project is never another file.
fn read_key_file(path: &Path) -> io::Result<Zeroizing<Vec<u8>>> {
    let (dir, name) = safe_fs::Dir::for_file(path, None)?;
    dir.read(&name).map(Zeroizing::new)
}

/// Create the key file atomically (0600, parent 0700 when created; never through a link).
/// If another process won the race, use its key.
fn create_key_file(path: &Path) -> io::Result<Key> {
    let (dir, name) = safe_fs::Dir::for_file(path, Some(0o700))?;
    let key = random_key();
    let text = Zeroizing::new(format!("{}\n", hex::encode(*key.0)));
    if dir.write_new(&name, text.as_bytes(), 0o600)? {
        return Ok(key);
    }
    let bytes = Zeroizing::new(dir.read(&name)?);
    parse_key(&bytes, &KeySource::File(path.to_owned()))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt as _;

    fn env(s: &str) -> KeySource {
        KeySource::Env(SecretString::from(s))
    }

    #[test]
    fn accepts_hex_and_base64_of_32_bytes() {
        let hex_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let from_hex = load(&env(hex_key), true).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(*from_hex.0);
        let from_b64 = load(&env(&format!("  {b64}\n")), true).unwrap();
        assert_eq!(*from_hex.0, *from_b64.0);
        assert_eq!(from_hex.0[1], 0x11);
    }

    #[test]
    fn rejects_other_material_without_echoing_it() {
        for bad in ["short-secret-value", "00112233", &"ab".repeat(31)] {
            let err = load(&env(bad), true).err().expect("invalid");
            let msg = err.to_string();
            assert!(
                matches!(err, PasswordStoreError::InvalidKey { .. }),
                "{msg}"
            );
            assert!(!msg.contains(bad), "{msg}");
        }
        let b64_16 = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
        let msg = load(&env(&b64_16), true).err().unwrap().to_string();
        assert!(msg.contains("decodes to 16 bytes"), "{msg}");
    }

    #[test]
    fn key_file_is_created_0600_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".dtaas/store.key");
        let first = load(&KeySource::File(path.clone()), true).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        let second = load(&KeySource::File(path.clone()), true).unwrap();
        assert_eq!(*first.0, *second.0);
        assert_eq!(fs::read_to_string(&path).unwrap().trim().len(), 64);
    }

    /// Root safety (docs/security.md, "Files and links").
    #[test]
    fn a_linked_key_file_or_state_dir_is_refused_and_never_read_or_created() {
        use std::os::unix::fs::symlink;
        let sentinel = test_support::Sentinel::plant();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".dtaas/store.key");
        fs::create_dir(dir.path().join(".dtaas")).unwrap();
        symlink(sentinel.secret(), &path).unwrap();
        let err = load(&KeySource::File(path.clone()), true).err().unwrap();
        let msg = format!("{err}");
        assert!(msg.contains("store.key is a symbolic link"), "{msg}");
        fs::remove_file(&path).unwrap();
        symlink(sentinel.path().join("made"), &path).unwrap();
        assert!(load(&KeySource::File(path.clone()), true).is_err());
        fs::remove_dir_all(dir.path().join(".dtaas")).unwrap();
        symlink(sentinel.path(), dir.path().join(".dtaas")).unwrap();
        let err = load(&KeySource::File(path.clone()), true).err().unwrap();
        assert!(
            format!("{err}").contains(".dtaas is a symbolic link"),
            "{err}"
        );
        sentinel.assert_unchanged("loading the store key through links");
    }

    #[test]
    fn debug_never_shows_env_key_material() {
        let dbg = format!("{:?}", env("super-secret-key-material"));
        assert_eq!(dbg, "Env(<redacted>)");
    }
}
