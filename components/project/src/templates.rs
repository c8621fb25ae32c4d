//! The project templates, embedded in the binary.

/// One embedded file: path relative to the project, contents, mode.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    pub path: &'static str,
    pub contents: &'static str,
    pub mode: u32,
}

const fn t(path: &'static str, contents: &'static str, mode: u32) -> Template {
    Template {
        path,
        contents,
        mode,
    }
}

/// Every file of a fresh project tree, in generation order (config, data, log, certs, compose).
pub static TEMPLATES: &[Template] = &[
    t(
        "config/services.env.template",
        include_str!("../templates/config/services.env.template"),
        0o600,
    ),
    t(
        "config/credentials.csv.template",
        include_str!("../templates/config/credentials.csv.template"),
        0o600,
    ),
    t(
        "config/gitlab_oauth.json.template",
        include_str!("../templates/config/gitlab_oauth.json.template"),
        0o600,
    ),
    t(
        "config/mongod.conf.secure",
        include_str!("../templates/config/mongod.conf.secure"),
        0o644,
    ),
    t(
        "config/rabbitmq/rabbitmq.conf",
        include_str!("../templates/config/rabbitmq/rabbitmq.conf"),
        0o644,
    ),
    t(
        "config/rabbitmq/rabbitmq.enabled_plugins",
        include_str!("../templates/config/rabbitmq/rabbitmq.enabled_plugins"),
        0o644,
    ),
    t("config/influxdb/.gitkeep", "", 0o644),
    t("config/gitlab/.gitkeep", "", 0o644),
    t("data/gitlab/.gitkeep", "", 0o644),
    t("data/grafana/.gitkeep", "", 0o644),
    t("data/influxdb/.gitkeep", "", 0o644),
    t("data/mongodb/.gitkeep", "", 0o644),
    // No data/postgres/.gitkeep: initdb refuses a non-empty data directory (generate still
    // creates the empty directory).
    t("data/rabbitmq/.gitkeep", "", 0o644),
    t("data/thingsboard/.gitkeep", "", 0o644),
    t("log/gitlab/.gitkeep", "", 0o644),
    t("log/thingsboard/.gitkeep", "", 0o644),
    t("certs/.gitkeep", "", 0o644),
    t(
        "compose.services.yml",
        include_str!("../templates/compose.services.yml"),
        0o644,
    ),
    t(
        "compose.thingsboard.yml",
        include_str!("../templates/compose.thingsboard.yml"),
        0o644,
    ),
    t(
        "compose.gitlab.yml",
        include_str!("../templates/compose.gitlab.yml"),
        0o644,
    ),
];

/// The files created inside config/ from their `.template`, only when absent (secrets: 0600).
pub static FROM_TEMPLATE: &[(&str, &str)] = &[
    ("config/services.env.template", "config/services.env"),
    ("config/credentials.csv.template", "config/credentials.csv"),
    (
        "config/gitlab_oauth.json.template",
        "config/gitlab_oauth.json",
    ),
];

/// File names never replaced by `--force`, wherever they appear under config/.
pub static PROTECTED: &[&str] = &[
    "services.env",
    "credentials.csv",
    "gitlab_oauth.json",
    "gitlab_tokens.json",
    "gitlab_user_tokens.json",
    "password.env.current",
    "current.passwords.env",
    "mongod.conf.secure",
    "rabbitmq.conf",
    "rabbitmq.enabled_plugins",
];

/// The contents of an embedded template.
#[must_use]
pub fn template(path: &str) -> Option<&'static str> {
    TEMPLATES
        .iter()
        .find(|t| t.path == path)
        .map(|t| t.contents)
}
