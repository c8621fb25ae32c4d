//! `${VAR}` interpolation of one string value, as Docker Compose v2 does it (the loader
//! adds the file and key to an error).

use std::collections::BTreeMap;

/// Substitute `${V}`, `${V:-d}`, `${V-d}`, `${V:?msg}`, `${V?msg}`, `$V` and `$$` in `s`.
/// Defaults are themselves interpolated. Errors are messages (the caller adds file and key).
pub(crate) fn interpolate(s: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    if !s.contains('$') {
        return Ok(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
        } else if let Some(r) = rest.strip_prefix('{') {
            let end = closing_brace(r).ok_or_else(|| format!("unclosed `${{` in {s:?}"))?;
            out.push_str(&expand(&r[..end], vars)?);
            rest = &r[end + 1..];
        } else {
            let n = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if n == 0 {
                return Err(format!(
                    "invalid `$` in {s:?} (write `$$` for a literal `$`)"
                ));
            }
            out.push_str(vars.get(&rest[..n]).map_or("", String::as_str));
            rest = &rest[n..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Index of the `}` that closes the expression starting at `r[0]` (nested `${}` allowed).
fn closing_brace(r: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = r.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn expand(expr: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let name_len = expr
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(expr.len());
    let (name, op) = expr.split_at(name_len);
    if name.is_empty() {
        return Err(format!("invalid variable expression `${{{expr}}}`"));
    }
    let value = vars.get(name);
    let set_nonempty = value.is_some_and(|v| !v.is_empty());
    let op_kind = [":-", ":?", "-", "?"]
        .into_iter()
        .find(|p| op.starts_with(p));
    let Some(kind) = op_kind else {
        if op.is_empty() {
            return Ok(value.cloned().unwrap_or_default());
        }
        return Err(format!("invalid variable expression `${{{expr}}}`"));
    };
    let arg = &op[kind.len()..];
    match kind {
        ":-" if set_nonempty => Ok(value.cloned().unwrap_or_default()),
        "-" if value.is_some() => Ok(value.cloned().unwrap_or_default()),
        ":-" | "-" => interpolate(arg, vars),
        ":?" if set_nonempty => Ok(value.cloned().unwrap_or_default()),
        "?" if value.is_some() => Ok(value.cloned().unwrap_or_default()),
        _ => {
            let msg = interpolate(arg, vars)?;
            Err(if msg.is_empty() {
                format!("required variable {name} is missing a value")
            } else {
                format!("required variable {name} is missing a value: {msg}")
            })
        }
    }
}

#[cfg(test)]
mod tests;
