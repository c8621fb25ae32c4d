//! Code shape (docs/style.md, "A file per concern" and "Comments"): no source file over 600
//! lines of non-test code, no function over 80 lines except the declarative tables
//! docs/style.md names, and no comment pointing at documents outside the repository.

use std::path::{Path, PathBuf};

use syn::visit::Visit;

use crate::root;

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 80;

/// The declarative tables exempt from the function limit: (file, function). Each is named in
/// docs/style.md, which the test checks.
const TABLES: [(&str, &str); 2] = [
    ("components/catalog/src/service.rs", "entry"),
    ("bases/cli/src/lib.rs", "dispatch"),
];

/// What a comment may not say: a pointer into the behavioural reference outside the
/// repository, or a comparison with the tool this one replaced.
const FORBIDDEN_IN_COMMENTS: [&str; 2] = ["reference §", "DMS"];

/// Every `.rs` file under components/, bases/ and projects/ (no build output).
fn all_rust_files() -> Vec<PathBuf> {
    let root = root();
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = ["components", "bases", "projects"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    stack.push(p);
                }
            } else if name.ends_with(".rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    assert!(out.len() > 100, "found only {} source files", out.len());
    out
}

/// A file of test code only: under a `tests/` directory, or a `tests.rs` / `tests_*.rs` module.
fn is_test_file(path: &Path) -> bool {
    let name = path.file_name().unwrap().to_string_lossy();
    name == "tests.rs"
        || (name.starts_with("tests_") && name.ends_with(".rs"))
        || path.components().any(|c| c.as_os_str() == "tests")
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The lines before the first inline test module (`#[cfg(test)]` then `mod name {`).
fn non_test_lines(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() != "#[cfg(test)]" {
            continue;
        }
        let next = lines.get(i + 1).map_or("", |l| l.trim());
        let is_mod = next.starts_with("mod ") || next.contains(" mod ");
        if is_mod && next.ends_with('{') {
            return i;
        }
    }
    lines.len()
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        let path = a.path();
        if path.is_ident("test") || path.segments.last().is_some_and(|s| s.ident == "test") {
            return true;
        }
        path.is_ident("cfg")
            && a.parse_args::<syn::Ident>()
                .is_ok_and(|ident| ident == "test")
    })
}

/// Functions of non-test code longer than the limit: (name, first line, lines).
#[derive(Default)]
struct LongFns(Vec<(String, usize, usize)>);

impl LongFns {
    fn check(&mut self, attrs: &[syn::Attribute], sig: &syn::Signature, block: &syn::Block) {
        if is_cfg_test(attrs) {
            return;
        }
        let first = sig.fn_token.span.start().line;
        let last = block.brace_token.span.close().end().line;
        let len = last - first + 1;
        if len > MAX_FN_LINES {
            self.0.push((sig.ident.to_string(), first, len));
        }
    }
}

impl<'ast> Visit<'ast> for LongFns {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_cfg_test(&m.attrs) {
            syn::visit::visit_item_mod(self, m);
        }
    }
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.check(&f.attrs, &f.sig, &f.block);
        syn::visit::visit_item_fn(self, f);
    }
    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.check(&f.attrs, &f.sig, &f.block);
        syn::visit::visit_impl_item_fn(self, f);
    }
    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if let Some(block) = &f.default {
            self.check(&f.attrs, &f.sig, block);
        }
        syn::visit::visit_trait_item_fn(self, f);
    }
}

#[test]
fn no_source_file_has_more_than_600_lines_of_non_test_code() {
    let mut over = Vec::new();
    for f in all_rust_files().iter().filter(|f| !is_test_file(f)) {
        let n = non_test_lines(&std::fs::read_to_string(f).unwrap());
        if n > MAX_FILE_LINES {
            over.push(format!("{}: {n} lines", relative(f)));
        }
    }
    assert!(
        over.is_empty(),
        "split these files by concern (docs/style.md, at most {MAX_FILE_LINES} lines of non-test code):\n{}",
        over.join("\n")
    );
}

#[test]
fn no_function_has_more_than_80_lines_except_the_declarative_tables() {
    let style = std::fs::read_to_string(root().join("docs/style.md")).unwrap();
    for (file, name) in TABLES {
        assert!(
            style.contains(file) && style.contains(&format!("`{name}`")),
            "the table `{name}` in {file} is exempt only while docs/style.md names it"
        );
    }
    let mut over = Vec::new();
    for f in all_rust_files().iter().filter(|f| !is_test_file(f)) {
        let text = std::fs::read_to_string(f).unwrap();
        let file = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{}: does not parse: {e}", f.display()));
        let mut long = LongFns::default();
        long.visit_file(&file);
        let rel = relative(f);
        for (name, line, len) in long.0 {
            if !TABLES.contains(&(rel.as_str(), name.as_str())) {
                over.push(format!("{rel}:{line}: fn {name}: {len} lines"));
            }
        }
    }
    assert!(
        over.is_empty(),
        "cut these functions (docs/style.md, at most {MAX_FN_LINES} lines):\n{}",
        over.join("\n")
    );
}

#[test]
fn no_comment_points_outside_the_repository() {
    let mut found = Vec::new();
    for f in all_rust_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let Some((_, comment)) = line.split_once("//") else {
                continue;
            };
            for word in FORBIDDEN_IN_COMMENTS {
                if comment.contains(word) {
                    found.push(format!("{}:{}: {}", relative(&f), i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "state the invariant in the repository's own words (docs/style.md, \"Comments\"):\n{}",
        found.join("\n")
    );
}

/// Settings defaults come from the `KEYS` table only (docs/style.md, "Typed settings"): no
/// call site reads a key and supplies a fallback of its own (`get("KEY").unwrap_or("x")`),
/// which would disagree with the table the day the default layer does not fill it.
#[test]
fn no_settings_key_gets_a_fallback_at_its_call_site() {
    let mut found = Vec::new();
    for f in all_rust_files() {
        if is_test_file(&f) {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let code = &text[..text.len().min(byte_of_line(&text, non_test_lines(&text)))];
        // Joined, so a call split over lines by rustfmt is seen as one.
        let flat: String = code.split_whitespace().collect();
        let mut rest = flat.as_str();
        while let Some(i) = rest.find(".get(\"") {
            let after = &rest[i + 6..];
            let key: String = after
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !key.is_empty() && after[key.len()..].starts_with("\").unwrap_or(") {
                found.push(format!("{}: {key}", relative(&f)));
            }
            rest = after;
        }
    }
    assert!(
        found.is_empty(),
        "read these keys with Settings::text (the KEYS default) instead:\n{}",
        found.join("\n")
    );
}

/// The byte offset where line `n` (0-based) starts.
fn byte_of_line(text: &str, n: usize) -> usize {
    text.split_inclusive('\n').take(n).map(str::len).sum()
}
