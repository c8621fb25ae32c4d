//! redact: the one redaction of URLs for messages. [`url`] shows a URL with its userinfo
//! password and every secret-looking query parameter (`password`, `sslpassword`, `token`,
//! `access_token`, `secret` ...) replaced by `***`, parsed with the `url` crate as the
//! clients that use the URL parse it (so a `@` or `/` inside a password cannot shift what
//! is shown); a value that does not parse as a URL is not shown at all. [`text`] does the
//! same to every URL inside a message (an error from a library that quotes its URL).
//!
//! Used by every error path that can show a URL: the state DB location, the services'
//! base URLs, `DOCKER_HOST`. It never prints and reads no environment variable.

/// What replaces a secret.
pub const MASK: &str = "***";

/// Whether a query parameter named `key` holds a secret.
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "pass",
        "pwd",
        "token",
        "secret",
        "key",
        "auth",
        "sig",
        "credential",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// `raw` with its password and secret query parameters masked; a value that is not a URL
/// is replaced whole (`<not shown: not a valid URL>`, with its scheme when it has one).
#[must_use]
pub fn url(raw: &str) -> String {
    let Ok(mut u) = url::Url::parse(raw.trim()) else {
        return match raw.split_once("://") {
            Some((scheme, _)) if !scheme.is_empty() && scheme.chars().all(scheme_char) => {
                format!("{scheme}://<not shown: not a valid URL>")
            }
            _ => "<not shown: not a valid URL>".to_owned(),
        };
    };
    // Every `@` must be the userinfo's end or inside a masked value; any other one may be
    // part of a password the parse split elsewhere (`u:p@ss#x@db`): then nothing is shown.
    let mut accounted = usize::from(!u.username().is_empty() || u.password().is_some());
    if u.password().is_some() {
        // Only fails for URLs that cannot have a password (no host): masked below then.
        let _ = u.set_password(Some(MASK));
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret_key(&k) {
                    accounted += v.matches('@').count();
                    MASK.to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    if raw.matches('@').count() > accounted {
        return format!("{}://<not shown: an ambiguous URL>", u.scheme());
    }
    if u.fragment().is_some() {
        u.set_fragment(Some(MASK));
    }
    u.to_string()
}

fn scheme_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')
}

/// `message` with every URL in it (`scheme://` up to white space or a quote) shown as
/// [`url`] shows it.
#[must_use]
pub fn text(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("://") {
        let start = rest[..at]
            .char_indices()
            .rev()
            .take_while(|&(_, c)| scheme_char(c))
            .last()
            .map_or(at, |(i, _)| i);
        if start == at {
            // No scheme before `://`: not a URL; keep it and go on.
            out.push_str(&rest[..at + 3]);
            rest = &rest[at + 3..];
            continue;
        }
        let end = rest[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .map_or(rest.len(), |e| at + e);
        let mut candidate = &rest[start..end];
        let mut trailing = "";
        while let Some(last) = candidate.chars().last()
            && matches!(last, ')' | ']' | ',' | '.' | ';' | ':')
        {
            let cut = candidate.len() - last.len_utf8();
            trailing = &rest[start + cut..end];
            candidate = &candidate[..cut];
        }
        out.push_str(&rest[..start]);
        out.push_str(&url(candidate));
        out.push_str(trailing);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
