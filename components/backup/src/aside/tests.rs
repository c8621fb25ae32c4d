use super::*;

#[test]
fn set_aside_and_put_back_restore_the_previous_directory() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path().join("data/svc");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("old"), b"1").unwrap();
    let paths = vec!["data/svc".to_owned(), "data/absent".to_owned()];
    let aside = set_aside(root.path(), &paths, "pre-restore").unwrap();
    assert_eq!(aside.len(), 1);
    assert!(!d.exists());
    let name = aside[0]
        .1
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(name.starts_with(".svc.pre-restore-"), "{name}");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("new"), b"2").unwrap();
    put_back(root.path(), &paths, &aside).unwrap();
    assert!(d.join("old").exists());
    assert!(!d.join("new").exists());
}

/// A data dir that is a link (to a sentinel outside the project) is moved aside and back as
/// a link, and discarding it removes the link only: nothing outside changes.
#[test]
fn a_linked_data_dir_is_moved_and_discarded_as_a_link() {
    let root = tempfile::tempdir().unwrap();
    let sentinel = test_support::Sentinel::plant();
    std::fs::create_dir_all(root.path().join("data")).unwrap();
    let d = root.path().join("data/svc");
    std::os::unix::fs::symlink(sentinel.path(), &d).unwrap();
    let paths = vec!["data/svc".to_owned()];
    let aside = set_aside(root.path(), &paths, "pre-restore").unwrap();
    assert!(std::fs::symlink_metadata(&aside[0].1).unwrap().is_symlink());
    std::fs::create_dir_all(d.join("restored")).unwrap();
    put_back(root.path(), &paths, &aside).unwrap();
    assert!(std::fs::symlink_metadata(&d).unwrap().is_symlink());
    sentinel.assert_unchanged("set aside and put back");

    let aside = set_aside(root.path(), &paths, "pre-restore").unwrap();
    assert!(discard(&aside).is_empty());
    assert!(std::fs::symlink_metadata(&aside[0].1).is_err());
    sentinel.assert_unchanged("discarded");

    // `data` itself a link: refused, nothing moved.
    std::fs::remove_dir_all(root.path().join("data")).unwrap();
    std::os::unix::fs::symlink(sentinel.path(), root.path().join("data")).unwrap();
    let err = set_aside(root.path(), &["data/sub".to_owned()], "x").unwrap_err();
    assert!(err.to_string().contains("data is a symbolic link"), "{err}");
    sentinel.assert_unchanged("set aside through a linked data/");
}
