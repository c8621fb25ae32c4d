//! Fresh random secrets for a new services.env, so no public template password is ever
//! deployed by default.

use rand::RngExt as _;

use crate::envfile::EnvFile;
use crate::keys::KEYS;

/// Length of a generated secret: 24 characters of `[A-Za-z0-9]` (about 143 bits), accepted by
/// every service's password policy and safe in URLs, YAML and dotenv without quoting.
const LENGTH: usize = 24;

pub(crate) fn random_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..LENGTH)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// Replace every secret of `doc` that still has its public template value with a random
/// one. Returns the keys that were replaced (never the values).
pub fn replace_default_secrets(doc: &mut EnvFile) -> Vec<&'static str> {
    let mut replaced = Vec::new();
    for spec in KEYS.iter().filter(|k| k.is_secret()) {
        if spec.default.is_some() && doc.get(spec.name) == spec.default {
            doc.set(spec.name, &random_secret());
            replaced.push(spec.name);
        }
    }
    replaced
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn public_defaults_are_replaced_and_chosen_values_kept() {
        let mut doc = EnvFile::parse(
            Path::new("services.env"),
            "# c\nPOSTGRES_PASSWORD=dtaas_secret\nGRAFANA_ADMIN_PASSWORD=mine-own\nHOSTNAME=h\n",
        )
        .unwrap();
        let replaced = replace_default_secrets(&mut doc);
        assert_eq!(replaced, ["POSTGRES_PASSWORD"]);
        let pg = doc.get("POSTGRES_PASSWORD").unwrap().to_owned();
        assert_eq!(pg.len(), LENGTH);
        assert!(pg.chars().all(|c| c.is_ascii_alphanumeric()), "{pg}");
        assert_ne!(pg, "dtaas_secret");
        assert_eq!(doc.get("GRAFANA_ADMIN_PASSWORD"), Some("mine-own"));
        assert!(doc.render().starts_with("# c\nPOSTGRES_PASSWORD="));
        // Two runs give different secrets.
        let mut other = EnvFile::parse(Path::new("s"), "POSTGRES_PASSWORD=dtaas_secret\n").unwrap();
        replace_default_secrets(&mut other);
        assert_ne!(other.get("POSTGRES_PASSWORD"), Some(pg.as_str()));
    }
}
