//! The compose short syntaxes that are strings: a shell command line, durations
//! (`1m30s`), byte sizes (`256m`) and port mappings (`127.0.0.1:8080-8081:80-81/udp`).

use std::time::Duration;

use docker::{PortSpec, Protocol};

/// Split a command line the way a POSIX shell would split words (quotes and backslashes).
pub(crate) fn shell_split(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err("unclosed single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err("unclosed double quote".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unclosed double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    cur.push(c);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Parse a Go-style duration (`1m30s`, `500ms`, `10s`); a bare number is seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("missing unit in duration {s:?}"))?;
        let num: f64 = rest[..n]
            .parse()
            .map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..u] {
            "ns" => num / 1e9,
            "us" | "µs" => num / 1e6,
            "ms" => num / 1e3,
            "s" => num,
            "m" => num * 60.0,
            "h" => num * 3600.0,
            other => return Err(format!("unknown unit {other:?} in duration {s:?}")),
        };
        total += Duration::from_secs_f64(secs);
        rest = &rest[u..];
    }
    Ok(total)
}

/// Parse a byte size (`256m`, `1g`, `1024`, `64kb`).
pub(crate) fn parse_bytes(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid size {s:?}"))?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    Ok((n * mult as f64) as i64)
}

fn port_range(s: &str) -> Result<(u16, u16), String> {
    let parse = |p: &str| {
        p.trim()
            .parse::<u16>()
            .map_err(|_| format!("invalid port {p:?}"))
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (parse(a)?, parse(b)?);
            if b < a {
                return Err(format!("invalid port range {s:?}"));
            }
            Ok((a, b))
        }
        None => parse(s).map(|p| (p, p)),
    }
}

/// Parse one short-syntax port (`8080`, `8080:80`, `127.0.0.1:8080:80`, `5683-5688:5683-5688/udp`).
pub(crate) fn parse_port(s: &str) -> Result<Vec<PortSpec>, String> {
    let (spec, proto) = match s.rsplit_once('/') {
        Some((a, p)) => (a, p),
        None => (s, "tcp"),
    };
    let protocol = match proto {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        "sctp" => Protocol::Sctp,
        other => return Err(format!("unknown protocol {other:?}")),
    };
    let (host_ip, rest) = if let Some(r) = spec.strip_prefix('[') {
        let end = r.find(']').ok_or("unclosed `[` in host ip")?;
        (
            Some(r[..end].to_owned()),
            r[end + 1..].trim_start_matches(':'),
        )
    } else {
        let parts: Vec<&str> = spec.split(':').collect();
        if parts.len() == 3 {
            (Some(parts[0].to_owned()), &spec[parts[0].len() + 1..])
        } else {
            (None, spec)
        }
    };
    let (host, container) = match rest.rsplit_once(':') {
        Some((h, c)) => (Some(h), c),
        None => (None, rest),
    };
    let (c0, c1) = port_range(container)?;
    let host_range = match host {
        Some(h) if !h.is_empty() => Some(port_range(h)?),
        _ => None,
    };
    if let Some((h0, h1)) = host_range
        && h1 - h0 != c1 - c0
    {
        return Err(format!(
            "host and container port ranges differ in length in {s:?}"
        ));
    }
    let host_ip = host_ip.filter(|h| !h.is_empty());
    Ok((0..=(c1 - c0))
        .map(|i| PortSpec {
            container_port: c0 + i,
            protocol,
            host_ip: host_ip.clone(),
            host_port: host_range.map(|(h0, _)| h0 + i),
        })
        .collect())
}
