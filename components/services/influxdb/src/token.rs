use std::path::Path;

use secrecy::SecretString;

/// The token of the active (else the first) profile of an `influx-configs` file written by
/// the `influx` CLI (`config/influxdb/influx-configs`), if any. The InfluxDB container
/// writes that directory: a link (or a hard-linked file) there is never read (safe_fs).
#[must_use]
pub fn token_from_influx_configs(path: &Path) -> Option<SecretString> {
    let (dir, name) = safe_fs::Dir::for_file(path, None).ok()?;
    let text = String::from_utf8(dir.read(&name).ok()?).ok()?;
    let mut first: Option<String> = None;
    let mut current: Option<String> = None;
    let mut active = false;
    let mut found_active: Option<String> = None;
    let mut close = |token: &Option<String>, active: bool| {
        if let Some(t) = token {
            if first.is_none() {
                first = Some(t.clone());
            }
            if active && found_active.is_none() {
                found_active = Some(t.clone());
            }
        }
    };
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            close(&current, active);
            current = None;
            active = false;
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').to_owned();
        match k.trim() {
            "token" if !v.is_empty() => current = Some(v),
            "active" => active = v == "true",
            _ => {}
        }
    }
    close(&current, active);
    found_active.or(first).map(SecretString::from)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    /// Root safety (docs/security.md, "Files and links").
    #[test]
    fn a_linked_influx_configs_is_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, "[x]\n  token = \"not-ours\"\n").unwrap();
        let p = dir.path().join("influx-configs");
        std::os::unix::fs::symlink(&outside, &p).unwrap();
        assert!(token_from_influx_configs(&p).is_none());
    }

    #[test]
    fn reads_the_active_profile() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("influx-configs");
        std::fs::write(
            &p,
            "[default]\n  url = \"http://localhost:8086\"\n  token = \"tok-1\"\n  org = \"dtaas\"\n\n[other]\n  token = \"tok-2\"\n  active = true\n",
        )
        .unwrap();
        assert_eq!(
            token_from_influx_configs(&p).unwrap().expose_secret(),
            "tok-2"
        );
        std::fs::write(&p, "[default]\n  token = \"tok-1\"\n").unwrap();
        assert_eq!(
            token_from_influx_configs(&p).unwrap().expose_secret(),
            "tok-1"
        );
        assert!(token_from_influx_configs(&dir.path().join("none")).is_none());
    }
}
