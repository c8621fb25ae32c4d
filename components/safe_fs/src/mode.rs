/// The mode of a file anyone may read (a certificate).
pub const PUBLIC: u32 = 0o644;
/// The mode of everything else.
pub const PRIVATE: u32 = 0o600;

/// The mode a copied or derived file gets, decided by what it holds: [`PUBLIC`] only for
/// PEM text whose every block is a certificate (a fullchain, a chain, a CA bundle), with no
/// private-key marker anywhere; [`PRIVATE`] for anything else: keys in PEM or DER, PKCS#12
/// bundles, empty or unknown files. A file name never makes a file public.
#[must_use]
pub fn mode_for(content: &[u8]) -> u32 {
    let Ok(text) = std::str::from_utf8(content) else {
        return PRIVATE;
    };
    if text.contains("PRIVATE KEY") {
        return PRIVATE;
    }
    let mut certificates = 0usize;
    for line in text.lines().map(str::trim) {
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            if label == "CERTIFICATE" || label == "TRUSTED CERTIFICATE" {
                certificates += 1;
            } else {
                return PRIVATE;
            }
        } else if line.starts_with("-----BEGIN") {
            return PRIVATE;
        }
    }
    if certificates > 0 { PUBLIC } else { PRIVATE }
}
