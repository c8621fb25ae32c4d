//! Root safety of `clean` and `remove --volumes` (docs/security.md, "Files and links"): a
//! link inside a data dir is removed as a link and named in the report, a mount point is
//! left in place, not entered, and named in the report; nothing outside the project
//! changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tests::{sel, setup};
use crate::*;

fn rabbitmq() -> Selection {
    sel("rabbitmq")
}

#[tokio::test]
async fn clean_and_remove_name_the_links_they_removed_as_links() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = setup(d.path());
    let sentinel = test_support::Sentinel::plant();
    let data = d.path().join("data/rabbitmq");
    std::fs::create_dir_all(data.join("mnesia")).unwrap();
    std::fs::write(data.join("mnesia/f"), "x").unwrap();
    std::os::unix::fs::symlink(sentinel.path(), data.join("mnesia/outside")).unwrap();
    std::os::unix::fs::symlink(sentinel.secret(), data.join("key")).unwrap();
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();

    let r = l.clean(&rabbitmq()).await.unwrap();
    assert_eq!(r.cleaned, ["data/rabbitmq"]);
    assert_eq!(
        r.left_alone.links_removed,
        ["data/rabbitmq/key", "data/rabbitmq/mnesia/outside"]
    );
    assert!(r.left_alone.mount_points_left.is_empty());
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);
    sentinel.assert_unchanged("service clean");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(
        json["links_removed"],
        serde_json::json!(["data/rabbitmq/key", "data/rabbitmq/mnesia/outside"])
    );

    std::os::unix::fs::symlink(sentinel.path(), data.join("again")).unwrap();
    l.start(&rabbitmq(), &StartOptions::default())
        .await
        .unwrap();
    let r = l.remove(&rabbitmq(), true, None).await.unwrap();
    assert_eq!(r.wiped, ["data/rabbitmq"]);
    assert_eq!(r.left_alone.links_removed, ["data/rabbitmq/again"]);
    sentinel.assert_unchanged("service remove --volumes");
}

/// A tmpfs mounted on a directory, unmounted (lazily, whatever the test did) on drop.
struct Mounted(PathBuf);

impl Mounted {
    /// Mount a fresh tmpfs on `dir`. The test must fail, not skip, when it cannot: CI runs
    /// the tests as root.
    fn tmpfs(dir: &Path) -> Mounted {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                "size=1m",
                "dtaas-test",
                &dir.to_string_lossy(),
            ])
            .output()
            .expect("run mount(8)");
        assert!(
            out.status.success(),
            "this test mounts a tmpfs and must run as root (CI runs the tests as root): mount -t tmpfs {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Mounted(dir.to_owned())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test]
async fn clean_never_enters_a_mount_point_and_names_it() {
    let d = tempfile::tempdir().unwrap();
    let (e, files) = setup(d.path());
    let data = d.path().join("data/rabbitmq");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("sub/f"), "x").unwrap();
    let mount = Mounted::tmpfs(&data.join("sub/disk"));
    std::fs::write(mount.0.join("kept.txt"), "on another device").unwrap();
    let l = Lifecycle::new(&e, &files, &BTreeMap::new()).unwrap();

    let r = l.clean(&rabbitmq()).await.unwrap();
    assert_eq!(r.cleaned, ["data/rabbitmq"]);
    assert_eq!(r.left_alone.mount_points_left, ["data/rabbitmq/sub/disk"]);
    assert_eq!(
        std::fs::read_to_string(mount.0.join("kept.txt")).unwrap(),
        "on another device"
    );
    assert!(!data.join("sub/f").exists(), "the rest was not emptied");
    assert!(
        r.left_alone
            .lines()
            .iter()
            .any(|l| l.starts_with("data/rabbitmq/sub/disk: a mount point")),
        "{:?}",
        r.left_alone.lines()
    );
}

#[test]
fn what_was_left_alone_reads_one_line_each() {
    let left = LeftAlone {
        links_removed: vec!["data/grafana/plugins".to_owned()],
        mount_points_left: vec!["data/gitlab/data/git-data".to_owned()],
    };
    insta::assert_snapshot!(left.lines().join("\n"));
}
