use super::*;

/// `doctor` on a generated project (HOSTNAME localhost, no engine); `edit` changes its
/// compose.services.yml first.
async fn doctor_on_generated(edit: impl FnOnce(String) -> String) -> DoctorReport {
    let dir = tempfile::tempdir().unwrap();
    project::generate(dir.path(), false).unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let services = root.join("compose.services.yml");
    let text = std::fs::read_to_string(&services).unwrap();
    std::fs::write(&services, edit(text)).unwrap();
    let (settings, _) = config::load(&config::LoadOptions {
        project_dir: root.clone(),
        env: Vec::new(),
        overrides: vec![("HOSTNAME".into(), "localhost".into())],
    })
    .unwrap();
    let opts = DoctorOptions::new(
        &settings,
        compose::default_compose_files(&root),
        StoreLocation::default_for_project(&root),
    );
    diagnose::<docker::FakeEngine>(Err("no engine here".into()), &opts).await
}

#[tokio::test]
async fn a_rabbitmq_without_a_fixed_hostname_is_a_state_warning() {
    let r = doctor_on_generated(|t| t.replace("    hostname: rabbitmq\n", "")).await;
    let state: Vec<&crate::Finding> = r.of("state").collect();
    assert_eq!(state.len(), 1, "{state:#?}");
    let f = state[0];
    assert_eq!(f.level, Level::Warning);
    assert_eq!(
        f.message,
        "rabbitmq: no fixed hostname; every recreated container starts an empty node (set `hostname:` in its compose file)"
    );
    assert!(
        f.hint
            .as_deref()
            .is_some_and(|h| h.starts_with("set `hostname: rabbitmq` for rabbitmq")),
        "{f:?}"
    );
}

#[tokio::test]
async fn a_state_path_without_a_mount_is_a_state_warning() {
    let r =
        doctor_on_generated(|t| t.replace("      - ./data/rabbitmq:/var/lib/rabbitmq\n", "")).await;
    let messages: Vec<&str> = r.of("state").map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "rabbitmq: /var/lib/rabbitmq is not mounted from the host; its data is lost when the container is recreated"
        ]
    );
}

#[tokio::test]
async fn compose_files_of_older_templates_are_flagged_with_the_refresh_step() {
    let current = doctor_on_generated(|t| t).await;
    let f: Vec<&crate::Finding> = current.of("templates").collect();
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].level, Level::Ok);

    // compose.services.yml as an older `project generate` wrote it (no marker).
    let old =
        doctor_on_generated(|t| t.replace(&format!("{}\n", project::TEMPLATE_MARKER), "")).await;
    let f: Vec<&crate::Finding> = old.of("templates").collect();
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].level, Level::Warning);
    assert!(
        f[0].message
            .starts_with("compose.services.yml predates the current templates"),
        "{f:?}"
    );
    assert!(
        f[0].hint
            .as_deref()
            .is_some_and(|h| h.starts_with("run `dtaas-services project generate --force`")),
        "{f:?}"
    );
}

#[tokio::test]
async fn a_grafana_forced_to_root_is_flagged() {
    let ok = doctor_on_generated(|t| t).await;
    assert_eq!(ok.of("containers").count(), 0);
    let r = doctor_on_generated(|t| t.replace("${USERID:-472}:${GROUPID:-0}", "0:0")).await;
    let f: Vec<&crate::Finding> = r.of("containers").collect();
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].level, Level::Warning);
    assert_eq!(f[0].message, "grafana runs as root (`user: 0:0`)");
    assert!(
        f[0].hint
            .as_deref()
            .is_some_and(|h| h.contains("config set USERID 472")),
        "{f:?}"
    );
}

#[tokio::test]
async fn a_generated_project_has_no_state_findings() {
    let r = doctor_on_generated(|t| t).await;
    let state: Vec<&crate::Finding> = r.of("state").collect();
    assert_eq!(state.len(), 1, "{state:#?}");
    assert_eq!(state[0].level, Level::Ok);
    assert_eq!(r.of("compose").next().unwrap().level, Level::Ok);
}
