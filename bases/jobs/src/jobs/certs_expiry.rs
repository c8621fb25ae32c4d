//! `certs-expiry`: warn (`JOBS_CERTS_WARN_DAYS`) and fail (`JOBS_CERTS_FAIL_DAYS`) before
//! the server certificate in `certs/` expires; with `JOBS_CERTS_REFRESH`, first copy renewed
//! certificates from `CERTS_SRC` when `certs/` is behind it.

use std::time::SystemTime;

use crate::job::JobOutput;

/// What certs-expiry works on.
#[derive(Debug, Clone)]
pub(crate) struct ExpiryOptions {
    pub(crate) warn_days: i64,
    pub(crate) fail_days: i64,
    pub(crate) refresh: bool,
    pub(crate) now: SystemTime,
}

fn check(settings: &config::Settings, now: SystemTime) -> certs::CheckReport {
    certs::check(&certs::CheckOptions {
        project_dir: settings.project_dir().to_owned(),
        certs_src: Some(settings.certs_src()),
        hostname: settings.hostname().to_owned(),
        now,
    })
}

fn certs_options(settings: &config::Settings) -> certs::CertsOptions {
    let owner = |uid: &str, gid: &str| certs::Owner::new(settings.id(uid), settings.id(gid));
    certs::CertsOptions {
        project_dir: settings.project_dir().to_owned(),
        certs_src: settings.certs_src(),
        hostname: settings.hostname().to_owned(),
        owners: certs::Owners {
            grafana: owner("USERID", "GROUPID"),
            mongo: owner("MONGO_UID", "MONGO_GID"),
            influx: owner("INFLUX_UID", "INFLUX_GID"),
            rabbit: certs::Owner::uid_only(settings.id("RABBIT_UID")),
            postgres: owner("POSTGRES_UID", "POSTGRES_GID"),
            thingsboard: owner("THINGSBOARD_UID", "THINGSBOARD_GID"),
        },
        skip_chown: false,
        dry_run: false,
    }
}

/// One pass of certs-expiry.
pub(crate) fn run(settings: &config::Settings, opts: &ExpiryOptions) -> JobOutput {
    let mut out = JobOutput::default();
    let mut report = check(settings, opts.now);
    let behind = report
        .findings_of("source")
        .any(|f| f.level != certs::Level::Ok);
    if opts.refresh && behind {
        match certs::refresh(&certs_options(settings)) {
            Ok(r) => {
                let services: Vec<&str> = r.services.iter().copied().collect();
                out.actions.push(format!(
                    "refreshed certs/ from CERTS_SRC{}",
                    if services.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; restart to load them: dtaas-services service restart -s {}",
                            services.join(",")
                        )
                    }
                ));
                report = check(settings, opts.now);
            }
            Err(e) => out.failures.push(format!("certs refresh failed: {e}")),
        }
    }
    match &report.certificate {
        None => {
            let why = report
                .findings
                .iter()
                .find(|f| f.level == certs::Level::Error)
                .map_or_else(|| "no server certificate".to_owned(), |f| f.message.clone());
            out.failures
                .push(format!("cannot read the server certificate: {why}"));
            out.summary = "no certificate".to_owned();
        }
        Some(c) => {
            let line = format!(
                "certificate for {} expires {} ({} days left)",
                c.names.join(", "),
                c.not_after,
                c.days_left
            );
            if c.days_left <= opts.fail_days {
                out.failures.push(format!(
                    "{line}: at or below JOBS_CERTS_FAIL_DAYS={}",
                    opts.fail_days
                ));
            } else if c.days_left <= opts.warn_days {
                out.warnings.push(format!(
                    "{line}: at or below JOBS_CERTS_WARN_DAYS={}",
                    opts.warn_days
                ));
            }
            out.summary = line;
        }
    }
    if behind && !opts.refresh {
        out.warnings.push(
            "certs/ is behind CERTS_SRC: run `dtaas-services certs refresh` (or set JOBS_CERTS_REFRESH=true)"
                .to_owned(),
        );
    }
    out
}
