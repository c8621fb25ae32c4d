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
