//! Architecture rules of the workspace, enforced by `cargo test` (see docs/architecture.md,
//! "Invariants"): brick kinds and their dependencies, which crate owns which outside system,
//! lints and docs on every crate, one rustls provider; and the code shape (`shape.rs`).

mod shape;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

#[derive(Debug)]
struct Brick {
    name: String,
    kind: &'static str,
    dir: PathBuf,
    manifest: toml::Table,
}

fn bricks() -> Vec<Brick> {
    let root = root();
    let mut out = Vec::new();
    for (kind, pattern) in [
        ("component", "components"),
        ("component", "components/services"),
        ("base", "bases"),
        ("project", "projects"),
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(pattern)) else {
            continue;
        };
        for e in entries {
            let dir = e.unwrap().path();
            let path = dir.join("Cargo.toml");
            if !path.is_file() {
                continue;
            }
            let manifest: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
            let name = manifest["package"]["name"].as_str().unwrap().to_owned();
            out.push(Brick {
                name,
                kind,
                dir,
                manifest,
            });
        }
    }
    assert!(out.len() >= 10, "found only {} bricks", out.len());
    out
}

fn deps(b: &Brick, table: &str) -> BTreeMap<String, toml::Value> {
    b.manifest
        .get(table)
        .and_then(|t| t.as_table())
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join("src")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn every_dependency_comes_from_the_workspace_table() {
    for b in bricks() {
        for table in ["dependencies", "dev-dependencies", "build-dependencies"] {
            for (dep, spec) in deps(&b, table) {
                let inherited = spec
                    .as_table()
                    .and_then(|t| t.get("workspace"))
                    .and_then(toml::Value::as_bool);
                assert_eq!(
                    inherited,
                    Some(true),
                    "{}: [{table}] {dep} must be `{{ workspace = true }}`",
                    b.name
                );
            }
        }
    }
}

#[test]
fn every_crate_inherits_the_workspace_lints_and_has_module_docs() {
    for b in bricks() {
        let lints = b
            .manifest
            .get("lints")
            .and_then(|l| l.get("workspace"))
            .and_then(toml::Value::as_bool);
        assert_eq!(
            lints,
            Some(true),
            "{}: needs [lints] workspace = true",
            b.name
        );
        let entry = if b.kind == "project" {
            "src/main.rs"
        } else {
            "src/lib.rs"
        };
        let text = std::fs::read_to_string(b.dir.join(entry)).unwrap();
        assert!(
            text.trim_start().starts_with("//!"),
            "{}: {entry} must start with a //! paragraph",
            b.name
        );
    }
}

#[test]
fn bases_never_depend_on_bases_and_components_never_on_bases() {
    let all = bricks();
    let bases: Vec<&str> = all
        .iter()
        .filter(|b| b.kind == "base")
        .map(|b| b.name.as_str())
        .collect();
    for b in all.iter().filter(|b| b.kind != "project") {
        for dep in deps(b, "dependencies").keys() {
            assert!(
                !bases.contains(&dep.as_str()),
                "{} ({}) depends on base {dep}",
                b.name,
                b.kind
            );
        }
    }
    for b in all.iter().filter(|b| b.kind == "base") {
        assert!(
            !b.dir.join("src/main.rs").exists(),
            "base {} has a main.rs",
            b.name
        );
    }
}

#[test]
fn a_project_main_only_calls_its_base() {
    for b in bricks().iter().filter(|b| b.kind == "project") {
        let main = std::fs::read_to_string(b.dir.join("src/main.rs")).unwrap();
        let code: Vec<&str> = main
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
            .collect();
        assert!(
            code.len() <= 4,
            "{}: main.rs should only call its base:\n{main}",
            b.name
        );
        let internal: Vec<String> = deps(b, "dependencies").into_keys().collect();
        assert!(
            internal.iter().any(|d| d == "cli" || d == "jobs"),
            "{} must depend on a base",
            b.name
        );
    }
}

/// Whether a brick may import an outside system's crate.
type OwnerRule = dyn Fn(&Brick) -> bool;

/// One crate owns each outside system.
#[test]
fn outside_systems_are_imported_by_their_owner_only() {
    let owners: [(&str, &OwnerRule); 3] = [
        ("bollard", &|b| b.name == "docker"),
        ("sqlx", &|b| b.name == "store"),
        ("reqwest", &|b| {
            b.dir
                .parent()
                .is_some_and(|p| p.ends_with("components/services"))
        }),
    ];
    for b in bricks() {
        for (krate, may) in &owners {
            if may(&b) {
                continue;
            }
            assert!(
                !deps(&b, "dependencies").contains_key(*krate),
                "{} may not depend on {krate}",
                b.name
            );
            // `logging` names those crates' log targets (`bollard::docker`) to cap them; it
            // may not depend on them (checked above).
            if b.name == "logging" {
                continue;
            }
            for f in rust_files(&b.dir) {
                let text = std::fs::read_to_string(&f).unwrap();
                assert!(
                    !text.contains(&format!("{krate}::")),
                    "{} uses {krate}",
                    f.display()
                );
            }
        }
    }
}

#[test]
fn only_one_rustls_provider_is_compiled_in() {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "--workspace",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cargo tree failed: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("aws-lc-rs v")),
        "aws-lc-rs missing from the tree"
    );
    assert!(
        !stdout.lines().any(|l| l.starts_with("ring v")),
        "ring is in the dependency tree (two rustls providers panic at run time)"
    );
}
