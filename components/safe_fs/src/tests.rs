use std::fs;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _, symlink};

use crate::{Dir, Kind, Open, Owner, Refused, SkipReason, mode_for, refused};

fn is_symlink_refusal(e: &std::io::Error) -> bool {
    matches!(refused(e), Some(Refused::Symlink(_)))
}

/// A project dir and, outside it, a directory with a file in it.
fn setup() -> (tempfile::TempDir, Dir, std::path::PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let outside = t.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("secret"), "s3cret").unwrap();
    fs::set_permissions(outside.join("secret"), fs::Permissions::from_mode(0o600)).unwrap();
    let project = t.path().join("p");
    fs::create_dir(&project).unwrap();
    let root = Dir::open_root(&project).unwrap();
    (t, root, outside)
}

#[test]
fn a_link_in_any_component_is_refused() {
    let (t, root, outside) = setup();
    let p = t.path().join("p");
    symlink(&outside, p.join("certs")).unwrap();
    fs::create_dir(p.join("real")).unwrap();
    symlink(outside.join("secret"), p.join("real/privkey.pem")).unwrap();
    symlink(p.join("nowhere"), p.join("real/dangling")).unwrap();

    let e = root.open_dir("certs").unwrap_err();
    assert!(is_symlink_refusal(&e), "{e}");
    assert!(e.to_string().contains("certs is a symbolic link"), "{e}");
    assert!(is_symlink_refusal(&root.read("certs/secret").unwrap_err()));
    assert!(is_symlink_refusal(
        &root.read("real/privkey.pem").unwrap_err()
    ));
    let e = root.open("real/dangling", Open::create(0o600)).unwrap_err();
    assert!(is_symlink_refusal(&e), "{e}");
    assert!(
        !p.join("nowhere").exists(),
        "the dangling link's target was created"
    );
    let e = root
        .write_atomic("certs/x", b"x", 0o644, Owner::Process)
        .unwrap_err();
    assert!(is_symlink_refusal(&e), "{e}");
    assert!(!outside.join("x").exists());
    let e = root.create_dir_all("certs/sub", 0o700).unwrap_err();
    assert!(is_symlink_refusal(&e), "{e}");
    assert!(!outside.join("sub").exists());
    assert_eq!(root.meta("certs").unwrap().unwrap().kind, Kind::Symlink);
    assert!(is_symlink_refusal(&root.meta("certs/secret").unwrap_err()));
    assert!(root.meta("missing/x").unwrap().is_none());
    for bad in ["../outside/secret", "/etc/passwd"] {
        let e = root.read(bad).unwrap_err();
        assert!(matches!(refused(&e), Some(Refused::NotBelow(_))), "{e}");
    }
}

#[test]
fn write_atomic_replaces_a_link_or_hard_link_instead_of_writing_through_it() {
    let (t, root, outside) = setup();
    let p = t.path().join("p");
    symlink(outside.join("secret"), p.join("link")).unwrap();
    fs::hard_link(outside.join("secret"), p.join("hard")).unwrap();
    root.write_atomic("link", b"new", 0o644, Owner::Keep)
        .unwrap();
    root.write_atomic("hard", b"new", 0o644, Owner::Keep)
        .unwrap();
    assert_eq!(
        fs::read_to_string(outside.join("secret")).unwrap(),
        "s3cret"
    );
    let m = fs::metadata(outside.join("secret")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o600);
    assert!(!fs::symlink_metadata(p.join("link")).unwrap().is_symlink());
    assert_eq!(fs::metadata(p.join("link")).unwrap().mode() & 0o7777, 0o644);
    let names: Vec<_> = fs::read_dir(&p)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "a temp file was left: {names:?}");
}

#[test]
fn a_hard_linked_file_is_neither_read_nor_opened_for_writing() {
    let (t, root, outside) = setup();
    let p = t.path().join("p");
    fs::hard_link(outside.join("secret"), p.join("privkey.pem")).unwrap();
    let e = root.read("privkey.pem").unwrap_err();
    assert!(
        matches!(refused(&e), Some(Refused::HardLink { links: 2, .. })),
        "{e}"
    );
    assert!(root.open("privkey.pem", Open::write()).is_err());
}

#[test]
fn empty_removes_links_as_links_and_keeps_the_dir_and_gitkeep() {
    let (t, root, outside) = setup();
    let p = t.path().join("p");
    fs::create_dir_all(p.join("data/sub/deep")).unwrap();
    fs::write(p.join("data/sub/deep/f"), "1").unwrap();
    fs::write(p.join("data/.gitkeep"), "").unwrap();
    symlink(&outside, p.join("data/sub/to-outside")).unwrap();
    symlink(outside.join("secret"), p.join("data/file-link")).unwrap();
    symlink(p.join("gone"), p.join("data/dangling")).unwrap();
    fs::hard_link(outside.join("secret"), p.join("data/hard")).unwrap();
    fs::set_permissions(p.join("data"), fs::Permissions::from_mode(0o750)).unwrap();
    let out = root.open_dir("data").unwrap().empty(&[".gitkeep"]).unwrap();
    let left: Vec<_> = fs::read_dir(p.join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [".gitkeep"]);
    assert_eq!(out.links.len(), 3, "{out:?}");
    assert_eq!(
        fs::read_to_string(outside.join("secret")).unwrap(),
        "s3cret"
    );
    assert_eq!(fs::metadata(p.join("data")).unwrap().mode() & 0o7777, 0o750);

    // The directory itself a link: refused, the target keeps its file.
    symlink(&outside, p.join("log")).unwrap();
    assert!(is_symlink_refusal(&root.open_dir("log").unwrap_err()));
    assert!(outside.join("secret").exists());
    // remove_all of a link removes the link.
    let out = root.remove_all("log").unwrap().unwrap();
    assert_eq!(out.links.len(), 1);
    assert!(outside.join("secret").exists() && fs::symlink_metadata(p.join("log")).is_err());
    assert!(root.remove_all("log").unwrap().is_none());
}

#[test]
fn chown_tree_skips_hard_links_and_does_not_follow_links() {
    let (t, root, outside) = setup();
    let p = t.path().join("p");
    fs::create_dir_all(p.join("tb/sub")).unwrap();
    fs::write(p.join("tb/sub/f"), "1").unwrap();
    fs::hard_link(outside.join("secret"), p.join("tb/hard")).unwrap();
    symlink(&outside, p.join("tb/link")).unwrap();
    let me = fs::metadata(outside.join("secret")).unwrap().uid();
    let target = if me == 0 { 4321 } else { me + 1 };
    let tb = root.open_dir("tb").unwrap();
    let plan = tb.chown_tree(Some(target), None, false).unwrap();
    assert_eq!(plan.changed.len(), 3, "{plan:?}"); // sub, sub/f, link
    assert_eq!(plan.skipped.len(), 1);
    assert_eq!(plan.skipped[0].reason, SkipReason::HardLinked);
    if me == 0 {
        let done = tb.chown_tree(Some(target), None, true).unwrap();
        assert_eq!(done, plan);
        assert_eq!(fs::metadata(p.join("tb/sub/f")).unwrap().uid(), target);
        assert_eq!(fs::metadata(outside.join("secret")).unwrap().uid(), me);
        assert_eq!(fs::metadata(&outside).unwrap().uid(), me);
        assert_eq!(
            fs::symlink_metadata(p.join("tb/link")).unwrap().uid(),
            target
        );
    }
}

#[test]
fn create_dir_all_sets_the_exact_mode_of_new_dirs_only() {
    let (t, root, _) = setup();
    let p = t.path().join("p");
    fs::create_dir(p.join("a")).unwrap();
    fs::set_permissions(p.join("a"), fs::Permissions::from_mode(0o755)).unwrap();
    root.create_dir_all("a/b/c", 0o700).unwrap();
    let mode = |r: &str| fs::metadata(p.join(r)).unwrap().mode() & 0o7777;
    assert_eq!(
        (mode("a"), mode("a/b"), mode("a/b/c")),
        (0o755, 0o700, 0o700)
    );
}

#[test]
fn a_fifo_is_refused_without_hanging() {
    let (t, root, _) = setup();
    let p = t.path().join("p");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        p.join("fifo").as_path(),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let e = root.read("fifo").unwrap_err();
    assert!(matches!(refused(&e), Some(Refused::NotRegular(_))), "{e}");
}

#[test]
fn the_mode_is_decided_by_what_the_file_holds() {
    let cert = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let mut chain = cert.to_vec();
    chain.extend_from_slice(cert);
    assert_eq!(mode_for(cert), 0o644);
    assert_eq!(mode_for(&chain), 0o644);
    let mut with_key = chain.clone();
    with_key
        .extend_from_slice(b"-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n");
    assert_eq!(mode_for(&with_key), 0o600);
    assert_eq!(
        mode_for(b"-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n"),
        0o600
    );
    assert_eq!(mode_for(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n"), 0o600);
    assert_eq!(mode_for(b"-----BEGIN OPENSSH PRIVATE KEY-----\n"), 0o600);
    // A DER key (SEQUENCE, INTEGER 0, ...) and a PKCS#12 bundle: binary, private.
    assert_eq!(
        mode_for(&[0x30, 0x82, 0x04, 0xbe, 0x02, 0x01, 0x00, 0x30, 0x0d]),
        0o600
    );
    assert_eq!(
        mode_for(&[0x30, 0x82, 0x0a, 0x41, 0x02, 0x01, 0x03, 0x30, 0x82]),
        0o600
    );
    assert_eq!(mode_for(b""), 0o600);
    assert_eq!(mode_for(b"just text\n"), 0o600);
    assert_eq!(mode_for(b"-----BEGIN DH PARAMETERS-----\n"), 0o600);
}

#[test]
fn for_file_refuses_a_linked_state_dir_and_write_new_never_clobbers() {
    let (t, _, outside) = setup();
    let p = t.path().join("p");
    symlink(&outside, p.join(".dtaas")).unwrap();
    let e = Dir::for_file(&p.join(".dtaas/store.key"), Some(0o700)).unwrap_err();
    assert!(is_symlink_refusal(&e), "{e}");
    fs::remove_file(p.join(".dtaas")).unwrap();
    let (dir, name) = Dir::for_file(&p.join(".dtaas/store.key"), Some(0o700)).unwrap();
    assert_eq!(
        fs::metadata(p.join(".dtaas")).unwrap().mode() & 0o7777,
        0o700
    );
    assert!(dir.write_new(&name, b"k1", 0o600).unwrap());
    assert!(!dir.write_new(&name, b"k2", 0o600).unwrap());
    assert_eq!(fs::read(p.join(".dtaas/store.key")).unwrap(), b"k1");
    symlink(outside.join("made"), p.join(".dtaas/dangling")).unwrap();
    assert!(!dir.write_new("dangling", b"k", 0o600).unwrap());
    assert!(!outside.join("made").exists());
    assert_eq!(fs::read_dir(p.join(".dtaas")).unwrap().count(), 2);
}

#[test]
fn a_link_stays_within_only_by_leading_dots_that_never_climb_above_the_top() {
    use crate::link_stays_within;
    use std::path::Path;
    let inside = [
        ("l", "f"),
        ("a/l", "../f"),
        ("a/b/l", "../../c/d"),
        ("a/l", "sub/f"),
        ("a/l", "./f"),
        ("l", "."),
    ];
    for (link, target) in inside {
        assert!(
            link_stays_within(Path::new(link), Path::new(target)),
            "{link} -> {target}"
        );
    }
    let outside = [
        ("l", ".."),
        ("l", "../f"),
        ("a/l", "../../f"),
        ("l", "/etc/shadow"),
        ("l", "/var/opt/gitlab/x"),
        ("a/l", "self/../../f"),
        ("a/l", "sub/.."),
        ("l", ""),
        ("../l", "f"),
    ];
    for (link, target) in outside {
        assert!(
            !link_stays_within(Path::new(link), Path::new(target)),
            "{link} -> {target}"
        );
    }
}

#[test]
fn creates_are_exclusive_and_never_write_through_a_link() {
    let (t, root, outside) = setup();
    let p = t.path().join("p");
    fs::create_dir(p.join("d")).unwrap();
    symlink(p.join("gone"), p.join("d/dangling")).unwrap();
    symlink(&outside, p.join("linked")).unwrap();

    let e = root.create_file_new("d/dangling", 0o600).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{e}");
    assert!(
        !p.join("gone").exists(),
        "created the dangling link's target"
    );
    let e = root.create_dir_new("d/dangling", 0o700).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{e}");
    assert!(is_symlink_refusal(
        &root.create_file_new("linked/new", 0o600).unwrap_err()
    ));
    assert!(is_symlink_refusal(
        &root.create_dir_new("linked/new", 0o700).unwrap_err()
    ));
    assert!(!outside.join("new").exists());

    let f = root.create_file_new("d/f", 0o640).unwrap();
    assert_eq!(f.metadata().unwrap().mode() & 0o7777, 0o640);
    let (name, staged) = root.create_temp_dir(".stage-", 0o700).unwrap();
    assert_eq!(staged.own_meta().unwrap().mode, 0o700);
    assert!(name.to_string_lossy().starts_with(".stage-"));

    // Links: only inside, never replacing, read back without following.
    root.symlink_within("d/ok", std::path::Path::new("f"))
        .unwrap();
    assert_eq!(root.read_link("d/ok").unwrap(), std::path::Path::new("f"));
    let e = root
        .symlink_within("d/out", std::path::Path::new("../../outside/secret"))
        .unwrap_err();
    assert!(
        matches!(refused(&e), Some(Refused::LinkOutside { .. })),
        "{e}"
    );
    assert!(root.meta("d/out").unwrap().is_none());
    let e = root
        .symlink_within("d/ok", std::path::Path::new("f"))
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{e}");
}

#[test]
fn rename_new_moves_names_as_they_are_and_never_replaces() {
    let (t, root, outside) = setup();
    let p = t.path().join("p");
    fs::create_dir_all(p.join("data/svc")).unwrap();
    fs::write(p.join("data/svc/f"), "x").unwrap();
    fs::create_dir(p.join("data/taken")).unwrap();
    symlink(&outside, p.join("data/link")).unwrap();
    symlink(&outside, p.join("aside")).unwrap();

    root.rename_new("data/svc", "data/.svc.aside").unwrap();
    assert_eq!(
        fs::read_to_string(p.join("data/.svc.aside/f")).unwrap(),
        "x"
    );
    let e = root
        .rename_new("data/.svc.aside", "data/taken")
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{e}");
    // A link is moved as a link; a link among the parents is refused.
    root.rename_new("data/link", "data/moved").unwrap();
    assert!(
        fs::symlink_metadata(p.join("data/moved"))
            .unwrap()
            .is_symlink()
    );
    assert!(is_symlink_refusal(
        &root.rename_new("data/.svc.aside", "aside/x").unwrap_err()
    ));
    assert!(!outside.join("x").exists());
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 1);
}
