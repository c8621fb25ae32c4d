//! The clap grammar: `dtaas-services <noun> <verb>`, plus the hidden legacy aliases of the
//! Python CLI 0.4.3 (`generate-project`, `setup`, `install`, `start`, ...).

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "dtaas-services",
    version,
    about = "Manage DTaaS platform services.",
    long_about = "Manage DTaaS platform services.\n\nCommands follow `<noun> <verb>` and are listed in install order: \
generate a project, set up the host, start the services, install ThingsBoard and GitLab, add users.",
    propagate_version = true,
    arg_required_else_help = true
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Args, Clone)]
pub(crate) struct GlobalArgs {
    /// The project directory (default: the nearest ancestor holding config/services.env).
    #[arg(long, global = true, env = "DTAAS_PROJECT_DIR", value_name = "DIR")]
    pub(crate) project_dir: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug); DTAAS_LOG takes a tracing filter.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// Machine-readable JSON output, where the output is data.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Answer yes to confirmations (needed for destructive actions without a terminal).
    #[arg(short = 'y', long, global = true)]
    pub(crate) yes: bool,
    /// No colour in the output (also when NO_COLOR is set or stdout is not a terminal).
    #[arg(long, global = true)]
    pub(crate) no_color: bool,
    /// Override a setting for this run: KEY=VALUE (highest precedence; repeatable). A secret
    /// given here is visible to other users of the host (a warning says so): prefer
    /// DTAAS_<KEY> in the environment.
    #[arg(long = "set", global = true, value_name = "KEY=VALUE", value_parser = parse_kv)]
    pub(crate) set: Vec<(String, String)>,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Project scaffold: config, data and log folders, and compose files.
    #[command(subcommand)]
    Project(ProjectCmd),
    /// Host preparation: TLS certificates and file permissions.
    #[command(subcommand)]
    Host(HostCmd),
    /// Service containers: install, start, stop, restart, status, remove, clean.
    #[command(subcommand)]
    Service(ServiceCmd),
    /// User account management for services.
    #[command(subcommand)]
    User(UserCmd),
    /// Show, check and edit config/services.env.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// TLS certificates: check, self-signed, refresh.
    #[command(subcommand)]
    Certs(CertsCmd),
    /// Admin passwords and tokens kept in the encrypted store.
    #[command(subcommand)]
    Secrets(SecretsCmd),
    /// The journal of changes made by dtaas-services.
    History(HistoryArgs),
    /// The state database.
    #[command(subcommand)]
    Db(DbCmd),
    /// Check the host and the project, with a fix hint per finding.
    ///
    /// Checks: the Docker engine, the compose files, published ports, DNS for HOSTNAME,
    /// certificates, secret file modes, default passwords, free disk, the state DB, and
    /// that every service's state is mounted with a stable identity.
    Doctor,
    /// Print a shell completion script on stdout.
    ///
    /// bash: `dtaas-services completions bash > /usr/share/bash-completion/completions/dtaas-services`;
    /// zsh: write `_dtaas-services` into a directory of $fpath;
    /// fish: `dtaas-services completions fish > ~/.config/fish/completions/dtaas-services.fish`.
    Completions(CompletionsArgs),
    /// Write the man pages (dtaas-services.1 and one per command) into a directory.
    #[command(hide = true)]
    Man(ManArgs),

    // ---- hidden legacy aliases (Python CLI 0.4.3), each warns and runs the new command ----
    #[command(name = "generate-project", hide = true)]
    GenerateProject(GenerateArgs),
    #[command(hide = true)]
    Setup(SetupArgs),
    #[command(hide = true)]
    Install(InstallArgs),
    #[command(hide = true)]
    Start(StartArgs),
    #[command(hide = true)]
    Stop(StopArgs),
    #[command(hide = true)]
    Restart(RestartArgs),
    #[command(hide = true)]
    Status(StatusArgs),
    #[command(hide = true)]
    Remove(RemoveArgs),
    #[command(hide = true)]
    Clean(CleanArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProjectCmd {
    /// Generate the project tree (config, data, log, certs, compose files).
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// Target directory (default: the current directory; created if missing).
    #[arg(long, value_name = "DIR")]
    pub(crate) path: Option<PathBuf>,
    /// Refresh config and compose files from the templates; protected files are kept.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum HostCmd {
    /// Copy and derive TLS certificates, set owners and modes.
    Setup(SetupArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SetupArgs {
    /// Show what would change, change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Do not change owners (no root needed); modes are still set.
    #[arg(long)]
    pub(crate) skip_chown: bool,
}

/// `-s/--services LIST`.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct Selector {
    /// Comma-separated services (default: all). Names are case-insensitive; aliases such as
    /// thingsboard, postgresql are accepted.
    #[arg(short = 's', long = "services", value_name = "LIST")]
    pub(crate) services: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ServiceCmd {
    /// Run the post-start installs (ThingsBoard schema, GitLab tokens and OAuth apps).
    Install(InstallArgs),
    /// Create and start service containers.
    Start(StartArgs),
    /// Stop service containers.
    Stop(StopArgs),
    /// Restart service containers.
    Restart(RestartArgs),
    /// Show the state of service containers.
    Status(StatusArgs),
    /// Remove service containers (and with --volumes their data).
    Remove(RemoveArgs),
    /// Delete the data and log files of stopped services.
    Clean(CleanArgs),
    /// Show the output of one service's container.
    Logs(LogsArgs),
    /// Upgrade one service's image: pull, back up its data, recreate, wait until ready;
    /// roll back to the previous image and data when it does not become ready.
    Upgrade(UpgradeArgs),
    /// Back up the services' data: PostgreSQL with pg_dumpall (it keeps running), the
    /// others as archives taken while stopped; a manifest with sha256 checksums.
    Backup(ServiceBackupArgs),
    /// Restore services' data from a backup (checksums verified first; asks unless --yes).
    Restore(ServiceRestoreArgs),
}

#[derive(Debug, Args)]
pub(crate) struct UpgradeArgs {
    /// The service (exactly one).
    #[arg(short = 's', long = "services", value_name = "SERVICE")]
    pub(crate) service: String,
    /// The new image (default: the configured one, pulled again). Recorded as
    /// <SERVICE>_IMAGE in config/services.env before the recreate and put back on a
    /// rollback, so a later start never runs an older image over migrated data.
    #[arg(long, value_name = "REF")]
    pub(crate) image: Option<String>,
    /// How long the new container has to become ready.
    #[arg(long, value_parser = humantime_duration, default_value = "5m")]
    pub(crate) timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub(crate) struct ServiceBackupArgs {
    #[command(flatten)]
    pub(crate) selector: Selector,
    /// The backup directory to create (default: backups/<UTC timestamp>/ in the project).
    #[arg(long, value_name = "DIR")]
    pub(crate) to: Option<PathBuf>,
    /// How long a service stopped for the backup may take to be ready again.
    #[arg(long, value_parser = humantime_duration, default_value = "5m")]
    pub(crate) timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub(crate) struct ServiceRestoreArgs {
    /// The backup directory (holding manifest.json).
    #[arg(long, value_name = "DIR")]
    pub(crate) from: PathBuf,
    #[command(flatten)]
    pub(crate) selector: Selector,
    /// How long each restored service may take to be ready.
    #[arg(long, value_parser = humantime_duration, default_value = "5m")]
    pub(crate) timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The service (exactly one).
    #[arg(short = 's', long = "services", value_name = "SERVICE")]
    pub(crate) service: String,
    /// Keep following the output.
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    pub(crate) tail: Option<u64>,
    /// Only output since a time: a duration ago (10m, 2h) or an RFC 3339 timestamp.
    #[arg(long, value_name = "WHEN")]
    pub(crate) since: Option<String>,
    /// Prefix each line with its timestamp.
    #[arg(short, long)]
    pub(crate) timestamps: bool,
}

#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    #[command(flatten)]
    pub(crate) selector: Selector,
    /// Deprecated spelling of --services.
    #[arg(long = "service", hide = true, value_name = "LIST")]
    pub(crate) service: Option<String>,
    /// Re-install even when already installed (destructive; asks unless --yes).
    #[arg(long)]
    pub(crate) force: bool,
    /// Wait until the service is ready instead of exiting 3.
    #[arg(long)]
    pub(crate) wait: bool,
    /// How long --wait waits, e.g. 10m.
    #[arg(long, value_parser = humantime_duration, default_value = "15m")]
    pub(crate) timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub(crate) struct StartArgs {
    #[command(flatten)]
    pub(crate) selector: Selector,
    /// Wait until the services are healthy (or running, without a healthcheck).
    #[arg(long)]
    pub(crate) wait: bool,
    /// How long --wait waits, e.g. 90s, 5m.
    #[arg(long, value_parser = humantime_duration, default_value = "5m")]
    pub(crate) timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub(crate) struct StopArgs {
    #[command(flatten)]
    pub(crate) selector: Selector,
    /// Grace period before the container is killed.
    #[arg(long, value_parser = humantime_duration, default_value = "10s")]
    pub(crate) timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub(crate) struct RestartArgs {
    #[command(flatten)]
    pub(crate) selector: Selector,
    /// Grace period before the container is killed.
    #[arg(long, value_parser = humantime_duration, default_value = "10s")]
    pub(crate) timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    pub(crate) selector: Selector,
    /// Refresh every 2 seconds until Ctrl-C.
    #[arg(long)]
    pub(crate) watch: bool,
    /// Skip our readiness probes: the engine's view only (state, health, image, ports).
    #[arg(long)]
    pub(crate) no_probes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RemoveArgs {
    #[command(flatten)]
    pub(crate) selector: Selector,
    /// Also delete the services' data (asks unless --yes).
    #[arg(long)]
    pub(crate) volumes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CleanArgs {
    #[command(flatten)]
    pub(crate) selector: Selector,
    /// Also delete the copied TLS files under certs/.
    #[arg(long)]
    pub(crate) certs: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCmd {
    /// Create or update the users of config/credentials.csv in each service.
    Add(UserAddArgs),
    /// Reset the admin passwords of ThingsBoard and GitLab to the configured ones.
    ResetPassword(ResetPasswordArgs),
    /// The users each service has, compared with config/credentials.csv.
    List(UserListArgs),
    /// Remove a user (and its database/vhost/org unless --keep-data) from each service.
    Remove(UserRemoveArgs),
}

#[derive(Debug, Args)]
pub(crate) struct UserListArgs {
    #[command(flatten)]
    pub(crate) selector: Selector,
}

#[derive(Debug, Args)]
pub(crate) struct UserRemoveArgs {
    /// The user name.
    pub(crate) name: String,
    #[command(flatten)]
    pub(crate) selector: Selector,
    /// Keep the user's data (database, vhost, org, GitLab projects): remove only the login;
    /// a GitLab account is blocked instead of deleted.
    #[arg(long)]
    pub(crate) keep_data: bool,
}

#[derive(Debug, Args)]
pub(crate) struct UserAddArgs {
    #[command(flatten)]
    pub(crate) selector: Selector,
    /// Show the plan, change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Take over the existing users, vhosts, orgs and databases the rows name although this
    /// tool did not create them (once, after switching from the Python CLI); admin accounts
    /// stay refused.
    #[arg(long)]
    pub(crate) adopt: bool,
    /// How long to wait for each service to answer before its rows fail (0: no wait).
    #[arg(long, value_parser = humantime_duration, default_value = "30s")]
    pub(crate) timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub(crate) struct ResetPasswordArgs {
    /// Services (default: thingsboard,gitlab).
    #[arg(short = 's', long = "services", value_name = "LIST")]
    pub(crate) services: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCmd {
    /// Every setting with its value and where it came from (secrets masked).
    Show(ShowArgs),
    /// The value of one setting.
    Get(GetArgs),
    /// Set a key in config/services.env (comments and order kept).
    ///
    /// A secret is read from stdin (`config set POSTGRES_PASSWORD -`) or asked for on a
    /// terminal (`config set POSTGRES_PASSWORD`), never taken from the command line.
    Set(SetArgs),
    /// Remove a key from config/services.env (its default applies again).
    Unset(KeyArg),
    /// Put one key, or every key, back to the template default (secrets: a new random value).
    ///
    /// A secret never gets the template's public password back: it gets a new random value,
    /// which services that already run do not know. Restoring a secret or --all asks (unless
    /// --yes) and first keeps the current file as config/services.env.<UTC time>.bak (an
    /// existing backup is never overwritten).
    RestoreDefaults(RestoreArgs),
    /// Check config/services.env without running anything.
    Validate,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// Show secret values instead of ********.
    #[arg(long)]
    pub(crate) show_secrets: bool,
}

#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    pub(crate) key: String,
    /// Print a secret value.
    #[arg(long)]
    pub(crate) show_secrets: bool,
}

#[derive(Debug, Args)]
pub(crate) struct SetArgs {
    pub(crate) key: String,
    /// The value; `-` reads it from stdin (one line). Omitted: asked on the terminal without
    /// echo. A secret (a password, a token) is never taken from the command line, where other
    /// users of the host can read it: use `-` or the prompt.
    pub(crate) value: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct KeyArg {
    pub(crate) key: String,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct RestoreArgs {
    /// The key to restore (a secret gets a new random value; asks unless --yes).
    pub(crate) key: Option<String>,
    /// Restore the whole file from the template, with new random secrets (asks unless --yes;
    /// a timestamped backup is kept).
    #[arg(long)]
    pub(crate) all: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CertsCmd {
    /// Validate the certificates: key match, host names, expiry, chain order, modes.
    Check,
    /// Create a local CA and a certificate for HOSTNAME, localhost and 127.0.0.1 in CERTS_SRC.
    SelfSigned(SelfSignedArgs),
    /// Re-copy and re-derive the certificates, restart the services whose files changed.
    ///
    /// Asks before restarting; --yes restarts without asking (with --json too, which never
    /// asks: the JSON then lists the restarted containers under `restarted`).
    Refresh,
}

#[derive(Debug, Args)]
pub(crate) struct SelfSignedArgs {
    /// Host name of the certificate (default: HOSTNAME).
    #[arg(long)]
    pub(crate) hostname: Option<String>,
    /// Overwrite certificates already in CERTS_SRC, or write next to numbered Let's Encrypt
    /// files (asks unless --yes). Numbered Let's Encrypt files (privkey1.pem, ...) and the
    /// links to them are never overwritten, but host setup installs the newest file of each
    /// name: the self-signed set then replaces them in certs/.
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SecretsCmd {
    /// Names and dates of the stored secrets (never their values).
    List,
    /// Print one stored secret.
    Get(NameArg),
    /// Write stored secrets in a legacy file format.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct NameArg {
    pub(crate) name: String,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// What to export: `gitlab` writes config/gitlab_tokens.json (mode 0600).
    #[arg(value_parser = ["gitlab"])]
    pub(crate) target: String,
}

#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// How many entries, newest first.
    #[arg(long, default_value_t = 50)]
    pub(crate) limit: u32,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// Where to write the pages (created if missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub(crate) dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DbCmd {
    /// Where the state DB is and its schema version.
    Status,
    /// Apply pending migrations.
    Migrate,
}

fn humantime_duration(s: &str) -> Result<std::time::Duration, String> {
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    humantime::parse_duration(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests;
