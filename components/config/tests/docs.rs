//! docs/configuration.md lists every key of `KEYS` with its kind and default. The table
//! between the `keys:start`/`keys:end` markers is generated from the key table; run with
//! `DTAAS_UPDATE_DOCS=1` to rewrite it after changing a key.

use std::fmt::Write as _;
use std::path::Path;

fn table() -> String {
    let mut out = String::from("| key | kind | default | meaning |\n|---|---|---|---|\n");
    for k in config::KEYS {
        let default = match k.default {
            _ if k.required => "(required)".to_owned(),
            None => "(none)".to_owned(),
            Some("") => "(empty)".to_owned(),
            Some(d) => format!("`{d}`"),
        };
        let _ = writeln!(
            out,
            "| `{}` | {:?} | {} | {} |",
            k.name, k.kind, default, k.help
        );
    }
    out
}

#[test]
fn configuration_doc_lists_every_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- keys:start -->\n", "<!-- keys:end -->");
    let a = doc.find(start).expect("keys:start marker") + start.len();
    let b = doc.find(end).expect("keys:end marker");
    let want = table();
    if doc[a..b] != want {
        if std::env::var_os("DTAAS_UPDATE_DOCS").is_some() {
            std::fs::write(&path, format!("{}{want}{}", &doc[..a], &doc[b..])).unwrap();
        } else {
            panic!("docs/configuration.md is out of date; rerun with DTAAS_UPDATE_DOCS=1:\n{want}");
        }
    }
}
