//! `ORCHESTRATOR` (docs/multi-host.md): `compose` unless set, `swarm` from any layer, and
//! anything else an error naming the origin (file and line) and the key.

use std::path::Path;

use config::{LoadOptions, Orchestrator, Source, load};

fn project(env_text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(dir.path().join("config/services.env"), env_text).unwrap();
    dir
}

fn opts(dir: &Path, overrides: &[(&str, &str)]) -> LoadOptions {
    LoadOptions {
        project_dir: dir.to_owned(),
        env: Vec::new(),
        overrides: overrides
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

#[test]
fn compose_is_the_default_and_swarm_comes_from_the_file_or_a_flag() {
    let dir = project("HOSTNAME=h.example.org\n");
    let (s, _) = load(&opts(dir.path(), &[])).unwrap();
    assert_eq!(s.orchestrator(), Orchestrator::Compose);
    assert_eq!(s.source("ORCHESTRATOR"), Some(&Source::Default));

    let dir = project("HOSTNAME=h.example.org\nORCHESTRATOR=swarm\n");
    let (s, _) = load(&opts(dir.path(), &[])).unwrap();
    assert_eq!(s.orchestrator(), Orchestrator::Swarm);
    let (s, _) = load(&opts(dir.path(), &[("ORCHESTRATOR", "compose")])).unwrap();
    assert_eq!(s.orchestrator(), Orchestrator::Compose);
}

#[test]
fn another_orchestrator_is_an_error_naming_file_line_and_key() {
    let dir = project("HOSTNAME=h.example.org\nORCHESTRATOR=kubernetes\n");
    let msg = load(&opts(dir.path(), &[])).unwrap_err().to_string();
    assert!(
        msg.ends_with(
            "config/services.env:2: ORCHESTRATOR: invalid orchestrator \"kubernetes\" \
             (expected compose or swarm)"
        ),
        "{msg}"
    );
    let dir = project("HOSTNAME=h.example.org\n");
    let msg = load(&opts(dir.path(), &[("ORCHESTRATOR", "Swarm")]))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("ORCHESTRATOR: invalid orchestrator \"Swarm\""),
        "{msg}"
    );
}
