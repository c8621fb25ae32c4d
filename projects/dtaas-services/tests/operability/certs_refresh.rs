//! `certs refresh`: re-derive the files and restart only the services that read a changed
//! file — after asking, with --yes, and never without a terminal or --yes.

use crate::support::{Project, engine_or_skip, stderr, stdout};

#[test]
fn refresh_restarts_only_the_services_whose_files_changed() {
    if !engine_or_skip() {
        return;
    }
    let p = Project::new("opcerts");
    let ok = |args: &[&str]| {
        let out = p.cmd().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        stdout(&out)
    };
    ok(&["config", "set", "CERTS_SRC", "certs-src"]);
    ok(&["certs", "self-signed", "--hostname", "localhost"]);
    ok(&["host", "setup"]);
    ok(&["service", "start", "-s", "mongodb"]);

    // `clean --certs` of a stopped service refuses while another service reads certs/.
    let out = p
        .cmd()
        .args(["--yes", "service", "clean", "-s", "grafana", "--certs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("these run: mongodb"),
        "{}",
        stderr(&out)
    );
    assert!(p.dir.join("certs/combined.pem").is_file());

    // Nothing changed: nothing to restart.
    let out = ok(&["certs", "refresh"]);
    assert!(out.contains("nothing to restart"), "{out}");

    // A renewed certificate: without --yes and without a terminal, only a hint.
    std::fs::remove_dir_all(p.dir.join("certs-src")).unwrap();
    ok(&["certs", "self-signed", "--hostname", "localhost"]);
    let out = p.cmd().args(["certs", "refresh"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "hint: restart them to load the new files: dtaas-services service restart -s "
        ),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("restarted"), "{}", stdout(&out));

    // The next refresh sees nothing new; renew once more and answer --yes.
    std::fs::remove_dir_all(p.dir.join("certs-src")).unwrap();
    ok(&["certs", "self-signed", "--hostname", "localhost"]);
    let out = ok(&["--yes", "certs", "refresh"]);
    assert!(out.contains("Services reading changed files: "), "{out}");
    assert!(
        out.contains(&format!("restarted {}-mongodb", p.name)),
        "{out}"
    );
    assert_eq!(
        out.matches("restarted ").count(),
        1,
        "only mongodb runs: {out}"
    );
    assert!(
        out.contains("is not running; it reads the new files when started"),
        "{out}"
    );

    // --json never asks: without --yes nothing is restarted ...
    let renew = || {
        std::fs::remove_dir_all(p.dir.join("certs-src")).unwrap();
        ok(&["certs", "self-signed", "--hostname", "localhost"]);
    };
    renew();
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["--json", "certs", "refresh"])).expect("one JSON document");
    assert!(
        json["services"]
            .as_array()
            .unwrap()
            .contains(&"mongodb".into()),
        "{json}"
    );
    assert_eq!(json["restarted"], serde_json::json!([]), "{json}");
    // ... and with --yes the restart happens before the JSON, which names it.
    renew();
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["--json", "--yes", "certs", "refresh"]))
            .expect("one JSON document");
    assert_eq!(
        json["restarted"],
        serde_json::json!([format!("{}-mongodb", p.name)]),
        "{json}"
    );
    let not_running = json["not_running"].as_array().unwrap();
    assert!(not_running.contains(&"grafana".into()), "{json}");
    assert!(!not_running.contains(&"mongodb".into()), "{json}");
    assert!(json["setup"]["steps"].is_array(), "{json}");
}
