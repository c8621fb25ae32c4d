use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// The local test image: busybox-static on an empty root, every applet linked in `/bin`.
pub const BUSYBOX_IMAGE: &str = "dtaas-test/busybox:1";

const BUSYBOX: &str = "/bin/busybox";
const APPLETS: &[&str] = &[
    "sh", "sleep", "nc", "httpd", "echo", "cat", "ls", "true", "false", "env", "id", "test",
    "wget", "touch", "mkdir", "rm", "kill", "ps", "grep", "printf", "head", "wc", "date", "whoami",
];

fn image_exists(tag: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", tag])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Make sure [`BUSYBOX_IMAGE`] exists locally (built once, then cached by its tag; safe when
/// several test processes call it at once) and return its tag.
///
/// # Panics
/// When `/bin/busybox` (Debian package `busybox-static`) is missing or the import fails.
#[must_use]
pub fn busybox_image() -> &'static str {
    if image_exists(BUSYBOX_IMAGE) {
        return BUSYBOX_IMAGE;
    }
    // One builder at a time across processes: an exclusive lock on a file in the temp dir.
    let lock_path = std::env::temp_dir().join("dtaas-test-busybox.lock");
    let lock = fs::File::create(&lock_path).expect("create image lock file");
    lock.lock().expect("lock image lock file");
    if !image_exists(BUSYBOX_IMAGE) {
        build(BUSYBOX_IMAGE);
    }
    drop(lock);
    BUSYBOX_IMAGE
}

fn build(tag: &str) {
    assert!(
        Path::new(BUSYBOX).exists(),
        "{BUSYBOX} is missing: install Debian's busybox-static (apt-get install -y busybox-static)"
    );
    let root = tempfile::tempdir().expect("temp dir");
    let r = root.path();
    for d in ["bin", "etc", "tmp", "www", "data"] {
        fs::create_dir_all(r.join(d)).expect("mkdir");
    }
    fs::copy(BUSYBOX, r.join("bin/busybox")).expect("copy busybox");
    for a in APPLETS {
        std::os::unix::fs::symlink("busybox", r.join("bin").join(a)).expect("symlink applet");
    }
    fs::write(
        r.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .expect("passwd");
    fs::write(r.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").expect("group");
    fs::write(r.join("www/index.html"), "ok\n").expect("index");
    let tar = Command::new("tar")
        .args(["-C"])
        .arg(r)
        .args(["-cf", "-", "."])
        .output()
        .expect("run tar");
    assert!(tar.status.success(), "tar failed");
    let mut import = Command::new("docker")
        .args([
            "import",
            "--change",
            "CMD [\"/bin/sh\"]",
            "--change",
            "ENV PATH=/bin",
            "-",
            tag,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run docker import");
    import
        .stdin
        .take()
        .expect("stdin")
        .write_all(&tar.stdout)
        .expect("write tar");
    let out = import.wait_with_output().expect("docker import");
    assert!(
        out.status.success(),
        "docker import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
