//! The happy path on the whole platform, one step after the other on one project, with
//! the malformed-input faults in the middle (they need users that already exist).
//!
//! Upstream: PostgreSQL and RabbitMQ are the real servers (Debian's packages in local images);
//! the other stand-ins (images/standins) cite their upstream sources per behaviour in
//! images/standins/bin/standin-serve and docs/upstream-contracts.md.

use std::process::Command;
use std::time::Duration;

use e2e_kit::{TestProject, workspace_bin};

use crate::support::{
    assert_views_agree, bytes, compose_view, docker_kill, dtaas, env_value, files_under,
    hostname_resolves_or_skip, inspect, project, psql, rabbit_api, run, status_json, wait_for,
};

/// Three users; carol's password needs CSV quoting and has a space and a double quote.
const CREDENTIALS: &str = "username,password,email\n\
    alice,Alice-pw-1,alice@example.org\n\
    bob,Bob.pw.2,bob@example.org\n\
    carol,\"Carol pw \"\"3\"\"\",carol@example.org\n";
const USERS: &[(&str, &str)] = &[
    ("alice", "Alice-pw-1"),
    ("bob", "Bob.pw.2"),
    ("carol", "Carol pw \"3\""),
];

const ALL: &[&str] = &[
    "gitlab",
    "grafana",
    "influxdb",
    "mongodb",
    "postgres",
    "rabbitmq",
    "thingsboard-ce",
];

#[test]
fn the_whole_platform_from_generate_to_clean() {
    let test = "e2e platform";
    let Some(p) = project(test) else { return };
    if !hostname_resolves_or_skip(&p, test) {
        return;
    }
    std::fs::write(p.dir().join("config/credentials.csv"), CREDENTIALS).unwrap();

    start_everything(&p);
    users_are_provisioned_and_log_in(&p);
    malformed_credentials_change_nothing(&p);
    malformed_services_env_changes_nothing(&p);
    status_json_reports_every_service(&p);
    stop_start_restart_one_service(&p);
    service_health_repairs_a_killed_container(&p);
    remove_volumes_and_clean(&p);
}

fn start_everything(p: &TestProject) {
    let r = dtaas(p, &["service", "start", "--wait", "--timeout", "4m"]);
    if r.code != 0 {
        let logs: String = ["postgres", "rabbitmq"]
            .iter()
            .map(|s| format!("--- {s}\n{}", p.logs(s)))
            .collect();
        panic!(
            "service start --wait: exit {}\n{}\n{}\n{logs}",
            r.code, r.stdout, r.stderr
        );
    }
    for c in [
        "rabbitmq",
        "mongodb",
        "grafana",
        "influxdb",
        "postgres",
        "thingsboard",
        "gitlab",
    ] {
        assert!(
            r.stdout.contains(&format!("({}): created", p.container(c))),
            "start did not report {c} created:\n{}",
            r.stdout
        );
    }
    let view = assert_views_agree(p, "after start --wait");
    let names: Vec<&str> = view.keys().map(String::as_str).collect();
    assert_eq!(names, ALL);
    for (service, (state, health)) in &view {
        assert_eq!(
            (state.as_str(), health.as_deref()),
            ("running", Some("healthy")),
            "{service} after start --wait"
        );
    }
    // Compose v2 drives our containers as its own, and we see what it did. (`docker
    // compose up` would recreate them: our config-hash label is not compose's own hash.)
    p.compose_ok(["stop", "mongodb"])
        .expect("docker compose stop mongodb");
    assert_eq!(
        assert_views_agree(p, "after compose stop")["mongodb"].0,
        "exited"
    );
    p.compose_ok(["start", "mongodb"])
        .expect("docker compose start mongodb");
    wait_for(p, "mongodb", Duration::from_secs(60), "healthy", |s, h| {
        s == "running" && h == Some("healthy")
    });
    assert_views_agree(p, "after compose start");
    // A second start changes nothing.
    let again = dtaas(p, &["service", "start", "--wait"]).expect_code(0, "second start");
    assert!(
        !again.stdout.contains("created"),
        "a second start created containers:\n{}",
        again.stdout
    );
}

fn admin(p: &TestProject) -> (String, String) {
    (
        env_value(p, "RABBITMQ_ADMIN_USERNAME"),
        env_value(p, "RABBITMQ_ADMIN_PASSWORD"),
    )
}

fn pg_admin_query(p: &TestProject, sql: &str) -> String {
    let r = psql(
        p,
        &env_value(p, "POSTGRES_USER"),
        &env_value(p, "POSTGRES_PASSWORD"),
        &env_value(p, "POSTGRES_DB"),
        sql,
    )
    .expect_code(0, "psql as the PostgreSQL admin");
    r.stdout.trim().to_owned()
}

/// Each user logs into PostgreSQL (own database, TLS) and RabbitMQ (authenticated; no
/// management tag, as in the Python CLI) with the CSV's password, and not with another.
fn assert_users_log_in(p: &TestProject, step: &str) {
    for (user, password) in USERS {
        let r = psql(
            p,
            user,
            password,
            user,
            "SELECT current_user, current_database(), \
             (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
        )
        .expect_code(0, &format!("{step}: psql login as {user}"));
        assert_eq!(r.stdout.trim(), format!("{user}|{user}|t"), "{step}");
        let wrong = psql(p, user, "not-the-password", user, "SELECT 1");
        assert_ne!(
            wrong.code, 0,
            "{step}: {user} logged in with a wrong password"
        );

        let (code, body) = rabbit_api(p, "whoami", user, password);
        assert_eq!(code, 401, "{step}: whoami as {user}: {body}");
        assert!(
            body.contains("Not management user"),
            "{step}: RabbitMQ did not accept {user}'s password: {body}"
        );
        let (code, body) = rabbit_api(p, "whoami", user, "not-the-password");
        assert!(
            code == 401 && body.contains("Login failed"),
            "{step}: RabbitMQ accepted a wrong password for {user}: {code} {body}"
        );
        let (a, apw) = admin(p);
        let (code, body) = rabbit_api(p, &format!("permissions/{user}/{user}"), &a, &apw);
        assert_eq!(
            code, 200,
            "{step}: permissions of {user} on vhost {user}: {body}"
        );
        assert!(body.contains(r#""configure":".*""#), "{step}: {body}");
    }
}

fn users_are_provisioned_and_log_in(p: &TestProject) {
    let r = dtaas(p, &["user", "add", "-s", "postgres,rabbitmq"]).expect_code(0, "user add");
    assert!(
        r.stdout.contains("PostgreSQL: 3 created") && r.stdout.contains("RabbitMQ: 3 created"),
        "first user add:\n{}",
        r.stdout
    );
    assert_users_log_in(p, "after user add");

    let r = dtaas(p, &["user", "add", "-s", "postgres,rabbitmq"]).expect_code(0, "user add again");
    assert!(
        r.stdout.contains("PostgreSQL: 3 unchanged") && r.stdout.contains("RabbitMQ: 3 unchanged"),
        "re-run of user add:\n{}",
        r.stdout
    );
    assert_users_log_in(p, "after the unchanged re-run");
}

fn malformed_credentials_change_nothing(p: &TestProject) {
    let path = p.dir().join("config/credentials.csv");
    let env = p.dir().join("config/services.env");
    let env_before = bytes(&env);
    let roles_before = pg_admin_query(
        p,
        "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles",
    );
    for (bad, line, what) in [
        (
            "dave,Dave-pw,dave@example.org,extra\n",
            5,
            "4 fields, but the header has 3",
        ),
        (
            "alice,Other-pw,alice2@example.org\n",
            5,
            "already used on line 2",
        ),
        (
            "dave,,dave@example.org\n",
            5,
            "password of \"dave\" is empty",
        ),
    ] {
        let text = format!("{CREDENTIALS}{bad}");
        std::fs::write(&path, &text).unwrap();
        let r = dtaas(p, &["user", "add", "-s", "postgres,rabbitmq"])
            .expect_code(2, "user add with a malformed credentials.csv");
        assert!(
            r.stderr.contains("config/credentials.csv")
                && r.stderr.contains(&format!("line {line}"))
                && r.stderr.contains(what)
                && r.stderr.contains("nothing was changed"),
            "the message must name the file, the line and the problem:\n{}",
            r.stderr
        );
        assert_eq!(
            bytes(&path),
            text.as_bytes(),
            "user add rewrote credentials.csv"
        );
    }
    std::fs::write(&path, CREDENTIALS).unwrap();
    assert_eq!(
        pg_admin_query(
            p,
            "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles"
        ),
        roles_before,
        "a refused user add changed PostgreSQL's roles"
    );
    let (a, apw) = admin(p);
    let (code, _) = rabbit_api(p, "users/dave", &a, &apw);
    assert_eq!(code, 404, "a refused user add created dave in RabbitMQ");
    assert_eq!(bytes(&env), env_before);
    assert_users_log_in(p, "after the refused user adds");
}

fn malformed_services_env_changes_nothing(p: &TestProject) {
    let path = p.dir().join("config/services.env");
    let good = std::fs::read_to_string(&path).unwrap();
    let before = inspect(&p.container("mongodb"));
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(2, "THIS LINE IS NOT AN ASSIGNMENT");
    let bad = format!("{}\n", lines.join("\n"));
    std::fs::write(&path, &bad).unwrap();
    for args in [
        &["service", "status"][..],
        &["service", "stop", "-s", "mongodb"],
        &["user", "add", "-s", "postgres"],
    ] {
        let r = dtaas(p, args).expect_code(2, &format!("{args:?} with a malformed services.env"));
        assert!(
            r.stderr.contains("config/services.env:3") && r.stderr.contains("expected KEY=VALUE"),
            "{args:?}: the message must name the file and line:\n{}",
            r.stderr
        );
    }
    let bad_port = good.replace(
        &format!("POSTGRES_PORT={}", p.port("POSTGRES_PORT")),
        "POSTGRES_PORT=not-a-port",
    );
    assert_ne!(bad_port, good, "POSTGRES_PORT line not found");
    std::fs::write(&path, &bad_port).unwrap();
    let r = dtaas(p, &["service", "restart", "-s", "postgres"]).expect_code(2, "bad port");
    assert!(
        r.stderr.contains("config/services.env:") && r.stderr.contains("POSTGRES_PORT"),
        "the message must name the file, line and key:\n{}",
        r.stderr
    );
    assert_eq!(
        bytes(&path),
        bad_port.as_bytes(),
        "a refused command rewrote services.env"
    );
    std::fs::write(&path, &good).unwrap();
    let after = inspect(&p.container("mongodb"));
    assert_eq!(
        (before.0.as_str(), &before.2, &before.3),
        ("running", &after.2, &after.3),
        "a refused command touched mongodb"
    );
    assert_eq!(after.0, "running");
}

fn status_json_reports_every_service(p: &TestProject) {
    let v = status_json(p);
    assert_eq!(v["project"], p.project_name());
    assert_eq!(v["hostname"], p.hostname());
    let services = v["services"].as_array().unwrap();
    assert_eq!(services.len(), 7, "{v:#}");
    for s in services {
        let name = s["service"].as_str().unwrap();
        let container = name.strip_suffix("-ce").unwrap_or(name);
        assert_eq!(s["container"], p.container(container), "{s:#}");
        assert_eq!(s["state"], "running", "{s:#}");
        assert_eq!(s["health"], "healthy", "{s:#}");
        assert_eq!(s["restart_count"], 0, "{s:#}");
        assert!(s["uptime_secs"].as_u64().is_some(), "{s:#}");
        assert!(!s["ports"].as_array().unwrap().is_empty(), "{s:#}");
    }
    let by = |name: &str| {
        services
            .iter()
            .find(|s| s["service"] == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    // The real services answer our probes; the MongoDB stand-in accepts TCP connections;
    // the HTTP stand-ins speak TLS on the readiness endpoints as the real services do.
    // (GitLab's /-/readiness answers only loopback, so its probe is not asserted here.)
    for name in ["grafana", "influxdb", "thingsboard-ce"] {
        assert_eq!(by(name)["probe"]["state"], "ready", "{:#}", by(name));
    }
    assert_eq!(
        by("postgres")["probe"]["state"],
        "ready",
        "{:#}",
        by("postgres")
    );
    assert_eq!(by("postgres")["probe"]["kind"], "postgres-login");
    assert_eq!(
        by("rabbitmq")["probe"]["state"],
        "ready",
        "{:#}",
        by("rabbitmq")
    );
    assert_eq!(
        by("mongodb")["probe"]["state"],
        "ready",
        "{:#}",
        by("mongodb")
    );
    assert_eq!(
        by("postgres")["image"],
        env_value(p, "POSTGRES_IMAGE"),
        "the <SERVICE>_IMAGE override was not used"
    );
    assert_eq!(by("gitlab")["image"], env_value(p, "GITLAB_IMAGE"));
    assert_views_agree(p, "status --json");
}

fn stop_start_restart_one_service(p: &TestProject) {
    let c = p.container("postgres");
    // ThingsBoard keeps its data in PostgreSQL: stopping PostgreSQL alone is refused.
    let r = dtaas(p, &["service", "stop", "-s", "postgres"]).expect_code(1, "stop postgres alone");
    assert!(
        r.stderr
            .contains("Cannot stop PostgreSQL while ThingsBoard is running"),
        "{}",
        r.stderr
    );
    assert_eq!(inspect(&c).0, "running", "a refused stop stopped postgres");

    let r = dtaas(p, &["service", "stop", "-s", "postgres,thingsboard"])
        .expect_code(0, "stop postgres and thingsboard");
    assert!(r.stdout.contains(&format!("stopped {c}")), "{}", r.stdout);
    let view = assert_views_agree(p, "after stop");
    assert_eq!(view["postgres"].0, "exited");
    assert_eq!(view["thingsboard-ce"].0, "exited");
    assert_eq!(view["mongodb"].0, "running", "stop stopped other services");

    let args = [
        "service",
        "start",
        "-s",
        "postgres,thingsboard",
        "--wait",
        "--timeout",
        "2m",
    ];
    dtaas(p, &args).expect_code(0, "start postgres and thingsboard again");
    let view = assert_views_agree(p, "after start");
    assert_eq!(view["postgres"], ("running".into(), Some("healthy".into())));
    assert_eq!(
        view["thingsboard-ce"],
        ("running".into(), Some("healthy".into()))
    );
    assert_users_log_in(p, "after stop and start");

    let (_, _, id, started) = inspect(&c);
    let r = dtaas(p, &["service", "restart", "-s", "postgresql"]).expect_code(0, "restart");
    assert!(r.stdout.contains(&c), "{}", r.stdout);
    let (state, _, id2, started2) = inspect(&c);
    assert_eq!(state, "running");
    assert_eq!(id, id2, "restart recreated the container");
    assert_ne!(started, started2, "restart did not restart the container");
    wait_for(
        p,
        "postgres",
        Duration::from_secs(120),
        "healthy",
        |s, h| s == "running" && h == Some("healthy"),
    );
    assert_views_agree(p, "after restart");
    assert_users_log_in(p, "after restart");
}

#[allow(clippy::print_stderr)]
fn service_health_repairs_a_killed_container(p: &TestProject) {
    let jobs = match workspace_bin("dtaas-jobs") {
        Ok(b) => b,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "dtaas-jobs is needed in CI (cargo build -p dtaas-jobs): {e}"
            );
            eprintln!("SKIPPED service-health step: {e}");
            return;
        }
    };
    let c = p.container("mongodb");
    docker_kill(&c);
    let view = assert_views_agree(p, "after docker kill");
    assert_eq!(
        view["mongodb"].0, "exited",
        "Docker restarted the killed container itself"
    );

    let health = |json: bool| {
        let mut cmd = Command::new(&jobs);
        cmd.arg("--project-dir")
            .arg(p.dir())
            .env_remove("DTAAS_PROJECT_DIR");
        if json {
            cmd.arg("--json");
        }
        run(cmd.args(["run", "service-health"]))
    };
    let r = health(false).expect_code(0, "dtaas-jobs run service-health");
    assert!(
        r.stdout
            .contains("mongodb: container exited with code 137; started again"),
        "service-health did not report the repair:\n{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("1 restarted,") && r.stdout.contains("0 failing"),
        "{}",
        r.stdout
    );
    assert_eq!(inspect(&c).0, "running");
    wait_for(p, "mongodb", Duration::from_secs(60), "healthy", |s, h| {
        s == "running" && h == Some("healthy")
    });
    assert_views_agree(p, "after service-health");

    // It runs again: nothing to repair now.
    let r = health(true).expect_code(0, "service-health again");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("jobs JSON");
    assert_eq!(v["ok"], true, "{v:#}");
    assert_eq!(
        v["jobs"][0]["summary"], "7 running, 0 restarted, 0 left as they are, 0 failing",
        "{v:#}"
    );
}

fn remove_volumes_and_clean(p: &TestProject) {
    let data = p.dir().join("data");
    let kept = [
        p.dir().join("config/services.env"),
        p.dir().join("config/credentials.csv"),
        p.dir().join("certs/fullchain.pem"),
    ];
    let kept_before: Vec<Vec<u8>> = kept.iter().map(|f| bytes(f)).collect();
    assert!(
        files_under(&data.join("postgres"))
            .iter()
            .any(|f| f == "PG_VERSION"),
        "PostgreSQL wrote no data"
    );
    assert!(
        files_under(&data.join("mongodb")).contains(&"standin-mongodb.txt".to_owned()),
        "the MongoDB stand-in wrote no data"
    );

    // Without --yes and without a terminal it refuses and removes nothing.
    let r = dtaas(p, &["service", "remove", "--volumes"])
        .expect_code(2, "remove --volumes without --yes");
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    assert_eq!(
        compose_view(p).len(),
        7,
        "a refused remove removed containers"
    );
    assert!(
        files_under(&data.join("postgres"))
            .iter()
            .any(|f| f == "PG_VERSION")
    );

    let r = dtaas(p, &["service", "remove", "--volumes", "--yes"])
        .expect_code(0, "remove --volumes --yes");
    assert!(
        r.stdout
            .contains(&format!("removed network {}", p.network())),
        "remove of every service left the network:\n{}",
        r.stdout
    );
    let inspect = std::process::Command::new("docker")
        .args(["network", "inspect", &p.network()])
        .output()
        .expect("docker network inspect");
    assert!(
        !inspect.status.success(),
        "network {} still exists",
        p.network()
    );
    // The accounts provisioned on PostgreSQL and RabbitMQ went with their data.
    let forgot = r
        .stdout
        .split("Forgot what the deleted data held: ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    assert!(
        forgot.is_some_and(|n| n > 0),
        "remove --volumes forgot no account records:\n{}",
        r.stdout
    );
    assert!(
        compose_view(p).is_empty(),
        "containers left: {:?}",
        compose_view(p)
    );
    assert!(assert_views_agree(p, "after remove --volumes").is_empty());
    for svc in [
        "postgres",
        "mongodb",
        "rabbitmq",
        "grafana",
        "influxdb",
        "thingsboard",
        "gitlab",
    ] {
        let left: Vec<String> = files_under(&data.join(svc))
            .into_iter()
            .filter(|f| f != ".gitkeep")
            .collect();
        assert!(left.is_empty(), "data/{svc} still holds {left:?}");
    }

    // clean deletes the logs the services left (none run any more).
    let log = p.dir().join("log/gitlab/production.log");
    std::fs::write(&log, "a log line\n").unwrap();
    let r = dtaas(p, &["service", "clean"]).expect_code(2, "clean without --yes");
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    assert!(log.exists(), "a refused clean deleted a log");
    // A link in a log dir (as a container could plant) to the project's config: removed as
    // a link, its target untouched (checked below), and named in the output.
    std::os::unix::fs::symlink(
        p.dir().join("config"),
        p.dir().join("log/gitlab/config-link"),
    )
    .unwrap();
    let r = dtaas(p, &["service", "clean", "--yes"]).expect_code(0, "clean --yes");
    assert!(
        !r.stdout.contains("Forgot"),
        "nothing was left to forget:\n{}",
        r.stdout
    );
    assert!(!log.exists(), "clean left log/gitlab/production.log");
    assert!(
        r.stderr
            .contains("log/gitlab/config-link: a symbolic link, removed as a link"),
        "clean did not name the link it removed:\n{}",
        r.stderr
    );
    assert!(std::fs::symlink_metadata(p.dir().join("log/gitlab/config-link")).is_err());

    let kept_after: Vec<Vec<u8>> = kept.iter().map(|f| bytes(f)).collect();
    assert!(
        kept_before == kept_after,
        "remove/clean changed config or certs"
    );
}
