//! `project generate`: the tree, the files, idempotency, `--force` and protected files.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

fn tree(dir: &Path) -> String {
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out.join("\n")
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::metadata(&path).unwrap();
        let rel = path.strip_prefix(root).unwrap().display().to_string();
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            out.push(format!("{rel}/ {mode:o}"));
            walk(root, &path, out);
        } else {
            out.push(format!("{rel} {mode:o} {}", meta.len()));
        }
    }
}

fn mtimes(dir: &Path) -> Vec<(String, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p.clone());
            }
            out.push((p.display().to_string(), m.modified().unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn generates_the_reference_tree_with_secret_files_0600() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("proj");
    let report = project::generate(&dir, false).unwrap();
    insta::assert_snapshot!("tree", tree(&dir));
    insta::assert_yaml_snapshot!("events", report.events);
}

#[test]
fn every_generated_file_matches_its_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    project::generate(tmp.path(), false).unwrap();
    for t in project::TEMPLATES.iter().filter(|t| !t.contents.is_empty()) {
        let got = std::fs::read_to_string(tmp.path().join(t.path)).unwrap();
        insta::assert_snapshot!(t.path.replace('/', "__"), got);
    }
}

#[test]
fn generating_twice_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    project::generate(tmp.path(), false).unwrap();
    std::fs::write(tmp.path().join("config/services.env"), "HOSTNAME=mine\n").unwrap();
    let before = mtimes(tmp.path());
    let tree_before = tree(tmp.path());
    let report = project::generate(tmp.path(), false).unwrap();
    assert_eq!(mtimes(tmp.path()), before);
    assert_eq!(tree(tmp.path()), tree_before);
    assert!(
        report
            .events
            .iter()
            .all(|e| matches!(e, project::Event::Skipped(_))),
        "{:?}",
        report.events
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("config/services.env")).unwrap(),
        "HOSTNAME=mine\n"
    );
}

#[test]
fn force_refreshes_config_and_compose_but_keeps_protected_files_and_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    project::generate(d, false).unwrap();
    std::fs::write(d.join("config/services.env"), "HOSTNAME=mine\n").unwrap();
    std::fs::write(d.join("config/rabbitmq/rabbitmq.conf"), "mine\n").unwrap();
    std::fs::write(d.join("config/gitlab_tokens.json"), "{}").unwrap();
    std::fs::write(d.join("compose.services.yml"), "edited\n").unwrap();
    std::fs::set_permissions(
        d.join("compose.services.yml"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    std::fs::write(d.join("config/credentials.csv.template"), "stale\n").unwrap();
    std::fs::write(d.join("data/postgres/PG_VERSION"), "16\n").unwrap();
    std::fs::write(d.join("certs/privkey.pem"), "key\n").unwrap();

    let report = project::generate(d, true).unwrap();
    insta::assert_yaml_snapshot!("force_events", report.events);
    assert!(report.overwrote() && report.kept());

    assert_eq!(
        std::fs::read_to_string(d.join("config/services.env")).unwrap(),
        "HOSTNAME=mine\n"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("config/rabbitmq/rabbitmq.conf")).unwrap(),
        "mine\n"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("config/gitlab_tokens.json")).unwrap(),
        "{}"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("data/postgres/PG_VERSION")).unwrap(),
        "16\n"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("certs/privkey.pem")).unwrap(),
        "key\n"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("compose.services.yml")).unwrap(),
        project::template("compose.services.yml").unwrap()
    );
    assert_eq!(
        std::fs::metadata(d.join("compose.services.yml"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o640
    );
    assert_eq!(
        std::fs::read_to_string(d.join("config/credentials.csv.template")).unwrap(),
        project::template("config/credentials.csv.template").unwrap()
    );
}

#[test]
fn a_file_in_the_way_is_an_error_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("notadir");
    std::fs::write(&file, "x").unwrap();
    let err = project::generate(&file, false).unwrap_err();
    assert!(
        err.to_string().contains("exists and is not a directory"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn find_project_takes_the_nearest_ancestor_and_never_a_bare_parent() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    assert_eq!(project::find_project(&root.join("a/b")), None);
    project::generate(&root.join("p"), false).unwrap();
    std::fs::create_dir_all(root.join("p/data/x")).unwrap();
    assert_eq!(
        project::find_project(&root.join("p/data/x")),
        Some(root.join("p"))
    );
    assert_eq!(project::find_project(root), None);

    // An explicit directory wins (relative to the cwd, `.` dropped); none found names where.
    let p = root.join("p");
    assert_eq!(
        project::locate_project(Some(Path::new(".")), Some(&p)),
        Ok(p.clone())
    );
    assert_eq!(
        project::locate_project(Some(Path::new("../p")), Some(&root.join("a"))),
        Ok(root.join("a/../p"))
    );
    assert_eq!(
        project::locate_project(None, Some(&root.join("p/data/x"))),
        Ok(p.clone())
    );
    // Without an accessible cwd only an absolute directory works.
    assert_eq!(project::locate_project(Some(&p), None), Ok(p.clone()));
    assert!(project::locate_project(None, None).is_err());
    assert!(project::locate_project(Some(Path::new("p")), None).is_err());
    let err = project::locate_project(None, Some(&root.join("a"))).unwrap_err();
    assert!(
        err.contains(&root.join("a").display().to_string()) && err.contains("config/services.env"),
        "{err}"
    );
}

#[test]
fn the_template_services_env_agrees_with_the_built_in_defaults() {
    let text = project::template("config/services.env.template").unwrap();
    let doc = config::EnvFile::parse(Path::new("services.env.template"), text).unwrap();
    let mut checked = 0;
    for (key, value, line) in doc.entries() {
        let spec = config::key_spec(key)
            .unwrap_or_else(|| panic!("template line {line}: unknown key {key}"));
        if let Some(default) = spec.default {
            assert_eq!(value, default, "template line {line}: {key}");
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked}");
    // And the whole template resolves as valid settings.
    let tmp = tempfile::tempdir().unwrap();
    config::resolve(tmp.path(), &doc, &[], &[]).unwrap();
}

#[test]
fn compose_files_take_images_from_the_override_keys() {
    for s in catalog::Service::ALL {
        let text = project::template(s.compose_file()).unwrap();
        let needle = format!("image: ${{{}:-{}}}", s.image_key(), s.default_image());
        assert!(
            text.contains(&needle),
            "{} lacks {needle}",
            s.compose_file()
        );
    }
}

/// Root safety (docs/security.md, "Files and links"): `--force` never writes through a
/// link; a sentinel tree outside the project keeps every file's content, mode, owner and
/// mtime.
#[test]
fn force_never_writes_through_links() {
    use std::os::unix::fs::symlink;
    let sentinel = test_support::Sentinel::plant();
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path();
    project::generate(p, false).unwrap();
    std::fs::remove_dir_all(p.join("config")).unwrap();
    symlink(sentinel.path(), p.join("config")).unwrap();
    let err = project::generate(p, true).unwrap_err();
    let msg = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(msg.contains("config is a symbolic link"), "{msg}");
    sentinel.assert_unchanged("project generate --force with config/ linked");

    // A compose file linked to a file outside: replaced by the template, the target untouched.
    std::fs::remove_file(p.join("config")).unwrap();
    std::fs::remove_file(p.join("compose.gitlab.yml")).unwrap();
    symlink(
        sentinel.path().join("public.pem"),
        p.join("compose.gitlab.yml"),
    )
    .unwrap();
    project::generate(p, true).unwrap();
    assert!(
        !std::fs::symlink_metadata(p.join("compose.gitlab.yml"))
            .unwrap()
            .is_symlink()
    );
    sentinel.assert_unchanged("project generate --force with a linked compose file");

    // A linked data dir: the service dirs are not created through it.
    std::fs::remove_dir_all(p.join("data")).unwrap();
    symlink(sentinel.path(), p.join("data")).unwrap();
    assert!(project::generate(p, false).is_err());
    sentinel.assert_unchanged("project generate with data/ linked");
}
