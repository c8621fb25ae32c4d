//! `service logs`.

use std::time::Duration;

use crate::support::{Project, engine_or_skip, stderr, stdout};

#[test]
fn logs_of_one_service_with_tail() {
    if !engine_or_skip() {
        return;
    }
    let p = Project::new("oplogs");
    p.cmd()
        .args(["service", "start", "-s", "grafana"])
        .assert()
        .success();
    let mut all = String::new();
    for _ in 0..50 {
        let out = p
            .cmd()
            .args(["service", "logs", "-s", "grafana"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        all = stdout(&out);
        if all.contains("line 5") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(all, "line 1\nline 2\nline 3\nline 4\nline 5\n");
    let out = p
        .cmd()
        .args(["service", "logs", "-s", "Grafana", "--tail", "2"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "line 4\nline 5\n");
    let out = p
        .cmd()
        .args(["service", "logs", "-s", "grafana", "--since", "1h", "-t"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(text.lines().all(|l| l.contains("Z line ")), "{text}");

    // Exactly one service; a service without a container.
    let out = p
        .cmd()
        .args(["service", "logs", "-s", "grafana,mongodb"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!(stderr(&out), @"error: service logs takes exactly one service, got 2: grafana, mongodb");
    let out = p
        .cmd()
        .args(["service", "logs", "-s", "mongodb"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!(stderr(&out), @"error: mongodb has no container; start it with: dtaas-services service start -s mongodb");
}
