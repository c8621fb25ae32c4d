//! `service status`: restart loops, unhealthy containers, probes, URLs, state warnings;
//! `--json` shape.
//!
//! Upstream: the busybox stand-ins only listen or refuse; what is checked is the Docker
//! Engine's (github.com/moby/moby v20.10) container state and health as `service status`
//! reports it, and our probes (docs/upstream-contracts.md).

use std::time::Duration;

use crate::support::{Project, engine_or_skip, stderr, stdout};

/// Redact a value but keep `null` (a service that never started has no start time).
fn keep_null(text: &'static str) -> insta::internals::Redaction {
    insta::dynamic_redaction(move |v, _| {
        if v == insta::internals::Content::None || v == insta::internals::Content::Unit {
            v
        } else {
            text.into()
        }
    })
}

fn status_json(p: &Project) -> serde_json::Value {
    let out = p
        .cmd()
        .args(["service", "status", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

#[test]
fn status_shows_restart_loop_unhealthy_probe_and_urls() {
    if !engine_or_skip() {
        return;
    }
    let p = Project::new("opstat");
    p.cmd()
        .args(["service", "start", "-s", "rabbitmq,grafana,thingsboard"])
        .assert()
        .success();
    let mut v = status_json(&p);
    for _ in 0..100 {
        let s = &v["services"];
        if s[0]["restart_count"].as_i64() >= Some(1)
            && s[2]["health"] == "unhealthy"
            && s[3]["ready"] == true
            && s[3]["health"] == "healthy"
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
        v = status_json(&p);
    }
    let text = serde_json::to_string_pretty(&v)
        .unwrap()
        .replace(&p.name, "PROJECT")
        .replace(
            &format!("\"host_port\": {}", p.grafana_port),
            "\"host_port\": \"GRAFANA_PORT\"",
        )
        .replace(
            &format!("\"host_port\": {}", p.tb_port),
            "\"host_port\": \"TB_PORT\"",
        )
        .replace(&format!(":{}", p.grafana_port), ":GRAFANA_PORT")
        .replace(&format!(":{}", p.tb_port), ":TB_PORT");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    insta::assert_json_snapshot!(v, {
        ".services[].started_at" => keep_null("[time]"),
        ".services[].uptime_secs" => keep_null("[secs]"),
        ".services[0].uptime_secs" => "[secs or null]",
        ".services[0].probe" => "[skipped while running, else null]",
        ".services[].probe.latency_ms" => "[ms]",
        ".services[2].probe.detail" => "[refused]",
        // The restart loop is caught at any point of its cycle.
        ".services[0].state" => "[restarting]",
        ".services[0].effective" => "[restarting]",
        ".services[0].restart_count" => "[n]",
        ".services[0].exit_code" => "[1]",
        ".services[0].deviation" => "[null while running, else wanted running, is restarting]",
    });
    // Desired beside actual (issue 16): `service start` recorded running; the unhealthy
    // one deviates, the one never started has no desired state.
    assert_eq!(
        v["services"][2]["deviation"], "wanted running, is unhealthy",
        "{v:#}"
    );
    assert!(
        v["services"][0]["restart_count"].as_i64() >= Some(1),
        "{v:#}"
    );
    let code = &v["services"][0]["exit_code"];
    assert!(code.is_null() || *code == 1, "{v:#}");

    // The table: the state labels, the probe verdict, the URL.
    let out = p.cmd().args(["service", "status"]).output().unwrap();
    assert!(out.status.success());
    let table = stdout(&out);
    assert!(table.contains("⚠️ not ready"), "{table}");
    assert!(table.contains("🗑️ removed"), "{table}");
    assert!(table.contains("✓ HTTP 200"), "{table}");
    assert!(
        table.contains(&format!("http://127.0.0.1:{}/", p.tb_port)),
        "{table}"
    );
    // Every published port, not only the URL's.
    assert!(table.contains(&format!("{}→", p.tb_port)), "{table}");
    assert!(table.contains(&format!("{}→", p.grafana_port)), "{table}");
    assert!(table.contains("Desired"), "{table}");
    assert!(
        stderr(&out).contains("warning: grafana: wanted running, is unhealthy"),
        "{}",
        stderr(&out)
    );
    // The stand-ins mount nothing and RabbitMQ has no fixed host name: warnings on stderr,
    // never in the table.
    let err = stderr(&out);
    assert!(
        err.contains(
            "warning: rabbitmq: no fixed hostname; every recreated container starts an empty node"
        ),
        "{err}"
    );
    assert!(
        err.contains("warning: grafana: /var/lib/grafana is not mounted from the host"),
        "{err}"
    );
    assert!(
        err.contains("hint: `dtaas-services doctor` tells how to fix each"),
        "{err}"
    );
    assert!(!table.contains("no fixed hostname"), "{table}");
    // Only the selection's.
    let out = p
        .cmd()
        .args(["service", "status", "-s", "grafana", "--no-probes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("warning: grafana: "), "{err}");
    assert!(!err.contains("rabbitmq"), "{err}");

    // Exit 1 when the selection matches nothing.
    let out = p
        .cmd()
        .args(["service", "status", "-s", "gitlab"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("No services found"),
        "{}",
        stderr(&out)
    );

    // --no-probes: the engine's view only; no service carries a probe verdict.
    let out = p
        .cmd()
        .args(["service", "status", "--json", "--no-probes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let bare: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let services = bare["services"].as_array().unwrap();
    assert_eq!(services.len(), v["services"].as_array().unwrap().len());
    assert!(services.iter().all(|s| s["probe"].is_null()), "{bare:#}");
    assert_eq!(bare["services"][3]["health"], "healthy");
}
