use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

use credentials::{Credential, Credentials};
use futures_util::StreamExt as _;
use password_store::PasswordStore;
use services_common::{Outcome, PasswordState, ProvisionError, Provisioner, Removal, UserSpec};
use store::{Account, JournalEntry, Outcome as JournalOutcome};

use crate::guard::{self, Facts};
use crate::report::{Action, ListReport, ListRow, RemoveReport, RemoveRow, Report, Row};

/// How `add` runs.
#[derive(Debug, Clone)]
pub struct AddOptions {
    /// Plan only: list each service once and compare, change nothing.
    pub dry_run: bool,
    /// Services worked on at the same time.
    pub services_in_parallel: usize,
    /// Users worked on at the same time within one service.
    pub users_in_parallel: usize,
    /// How long to wait for a service to answer before its rows fail.
    pub ready_timeout: Duration,
    /// Take over objects that exist but are not recorded as this tool's (a project
    /// provisioned by the Python CLI): each row's user is treated as the owner of the objects
    /// its row names, and recorded so from then on. Admin accounts and platform objects stay
    /// refused.
    pub adopt_existing: bool,
}

impl Default for AddOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            services_in_parallel: 4,
            users_in_parallel: 4,
            ready_timeout: Duration::from_secs(30),
            adopt_existing: false,
        }
    }
}

const READY_POLL: Duration = Duration::from_secs(1);

/// Probe until the service answers; fail at once on anything but "not reachable yet".
async fn wait_ready(p: &dyn Provisioner, timeout: Duration) -> Result<(), ProvisionError> {
    let start = Instant::now();
    loop {
        match p.probe().await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_not_ready() && start.elapsed() + READY_POLL < timeout => {
                tracing::debug!(service = %p.service().display_name(), error = %e, "waiting for the service");
            }
            Err(ProvisionError::Unreachable {
                service, detail, ..
            }) => {
                return Err(ProvisionError::NotReady {
                    service,
                    seconds: timeout.as_secs(),
                    detail,
                });
            }
            Err(e) => return Err(e),
        }
        tokio::time::sleep(READY_POLL).await;
    }
}

fn key(p: &dyn Provisioner) -> &'static str {
    p.service().compose_name()
}

async fn password_state(
    secrets: &PasswordStore,
    service: &str,
    cred: &Credential,
) -> (PasswordState, String) {
    let fp = secrets.fingerprint(service, &cred.username, &cred.password);
    let state = match secrets.store().account(service, &cred.username).await {
        Ok(Some(a)) if a.fingerprint == fp => PasswordState::Same,
        Ok(Some(_)) => PasswordState::Changed,
        Ok(None) => PasswordState::Unknown,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the account record; treating the password as unknown");
            PasswordState::Unknown
        }
    };
    (state, fp)
}

fn failed_row(p: &dyn Provisioner, cred: &Credential, e: &ProvisionError) -> Row {
    Row {
        service: p.service(),
        user: cred.username.clone(),
        action: Action::Failed,
        detail: Some(e.to_string()),
    }
}

/// A row's `ensure_user`: its outcome and password fingerprint, to be recorded once the
/// provisioner's batched work is finished too; or its final (failed) row.
type Ensured = Result<(Outcome, String), Row>;

async fn add_one(p: &dyn Provisioner, secrets: &PasswordStore, cred: &Credential) -> Ensured {
    let service = key(p);
    let (state, fp) = password_state(secrets, service, cred).await;
    let spec = UserSpec {
        name: cred.username.clone(),
        password: cred.password.clone(),
        email: cred.email.clone(),
        password_state: state,
    };
    // Recorded before the first change: what this run creates is the user's own next time,
    // even when it stops half-way (see guard).
    if let Err(e) = secrets.store().claim_account(service, &cred.username).await {
        return Err(Row {
            service: p.service(),
            user: cred.username.clone(),
            action: Action::Failed,
            detail: Some(format!(
                "not attempted: the state database cannot record the account: {e}"
            )),
        });
    }
    match p.ensure_user(&spec).await {
        Ok(outcome) => Ok((outcome, fp)),
        Err(e) => Err(failed_row(p, cred, &e)),
    }
}

/// Record a provisioned row's password fingerprint: its final row.
async fn record(
    p: &dyn Provisioner,
    secrets: &PasswordStore,
    cred: &Credential,
    (outcome, fingerprint): (Outcome, String),
) -> Row {
    let account = Account {
        service: key(p).to_owned(),
        username: cred.username.clone(),
        state: "present".to_owned(),
        fingerprint,
        updated_at: SystemTime::now(),
    };
    let detail = match secrets.store().upsert_account(&account).await {
        Ok(()) => None,
        Err(e) => Some(format!(
            "provisioned, but the state database was not updated: {e}"
        )),
    };
    Row {
        service: p.service(),
        user: cred.username.clone(),
        // Without its fingerprint the next run cannot tell a changed password: the row is
        // not done.
        action: match (detail.is_some(), outcome) {
            (true, _) => Action::Failed,
            (false, Outcome::Created) => Action::Created,
            (false, Outcome::Updated) => Action::Updated,
            (false, Outcome::Unchanged) => Action::Unchanged,
        },
        detail,
    }
}

/// Every row of one service: each `ensure_user`, then the provisioner's batched work once
/// ([`Provisioner::finish_users`]), then the fingerprints of the rows that stand. A row
/// whose batched work failed is not recorded, so the next run does it again.
async fn add_rows(
    p: &dyn Provisioner,
    secrets: &PasswordStore,
    creds: &Credentials,
    opts: &AddOptions,
) -> Vec<Row> {
    let mut ensured: Vec<(usize, Ensured)> =
        futures_util::stream::iter(creds.rows().iter().enumerate())
            .map(|(i, c)| async move { (i, add_one(p, secrets, c).await) })
            .buffer_unordered(opts.users_in_parallel.max(1))
            .collect()
            .await;
    ensured.sort_by_key(|(i, _)| *i);
    let unfinished = p.finish_users().await;
    let mut rows = Vec::with_capacity(ensured.len());
    for ((_, done), cred) in ensured.into_iter().zip(creds.rows()) {
        let failed = unfinished.iter().find(|(u, _)| *u == cred.username);
        rows.push(match (done, failed) {
            (Err(row), _) => row,
            (Ok(_), Some((_, e))) => failed_row(p, cred, e),
            (Ok(done), None) => record(p, secrets, cred, done).await,
        });
    }
    rows
}

async fn plan_service(
    p: &dyn Provisioner,
    secrets: &PasswordStore,
    creds: &Credentials,
) -> Result<Vec<Row>, ProvisionError> {
    let existing: BTreeSet<String> = p.list_users().await?.into_iter().collect();
    let mut rows = Vec::new();
    for cred in creds.rows() {
        let action = if existing.contains(&cred.username) {
            match password_state(secrets, key(p), cred).await.0 {
                PasswordState::Same => Action::Unchanged,
                PasswordState::Changed | PasswordState::Unknown => Action::WouldUpdate,
            }
        } else {
            Action::WouldCreate
        };
        rows.push(Row {
            service: p.service(),
            user: cred.username.clone(),
            action,
            detail: None,
        });
    }
    Ok(rows)
}

async fn add_service(
    p: &dyn Provisioner,
    secrets: &PasswordStore,
    creds: &Credentials,
    opts: &AddOptions,
    ready: Result<(), ProvisionError>,
) -> Vec<Row> {
    let rows = match ready {
        Err(e) => creds.rows().iter().map(|c| failed_row(p, c, &e)).collect(),
        Ok(()) if opts.dry_run => match plan_service(p, secrets, creds).await {
            Ok(rows) => rows,
            Err(e) => creds.rows().iter().map(|c| failed_row(p, c, &e)).collect(),
        },
        Ok(()) => add_rows(p, secrets, creds, opts).await,
    };
    if !opts.dry_run {
        journal_add(p, secrets, &rows).await;
    }
    rows
}

async fn journal_add(p: &dyn Provisioner, secrets: &PasswordStore, rows: &[Row]) {
    let count = |a: Action| rows.iter().filter(|r| r.action == a).count();
    let failed = count(Action::Failed) + count(Action::Refused) + count(Action::Skipped);
    let outcome = if failed == 0 {
        JournalOutcome::Ok
    } else if failed == rows.len() {
        JournalOutcome::Failed
    } else {
        JournalOutcome::Partial
    };
    let mut detail = format!(
        "created {}, updated {}, unchanged {}, failed {}",
        count(Action::Created),
        count(Action::Updated),
        count(Action::Unchanged),
        count(Action::Failed)
    );
    let refused = count(Action::Refused);
    if refused + count(Action::Skipped) > 0 {
        detail.push_str(&format!(
            ", refused {refused}, not attempted {} (nothing changed)",
            count(Action::Skipped)
        ));
    }
    if let Some(first) = rows
        .iter()
        .find(|r| matches!(r.action, Action::Failed | Action::Refused))
    {
        detail.push_str(&format!(
            "; first failure ({}): {}",
            first.user,
            first.detail.as_deref().unwrap_or("")
        ));
    }
    let entry = JournalEntry::new("user add", outcome)
        .service(key(p))
        .detail(detail);
    if let Err(e) = secrets.store().record(&entry).await {
        tracing::warn!(error = %e, "cannot write the journal");
    }
}

/// Reconcile `creds` with every provisioner; every row is attempted and reported.
///
/// First every service is waited for and its facts gathered, and every row checked by the
/// guard (admin accounts, objects that are not the user's own). When any row is refused,
/// nothing changes in any service: the refused rows are reported `refused` (with the CSV
/// line), the others `skipped`.
pub async fn add(
    provisioners: &[Box<dyn Provisioner>],
    creds: &Credentials,
    secrets: &PasswordStore,
    opts: &AddOptions,
) -> Report {
    let mut facts: Vec<(usize, Result<Facts, ProvisionError>)> =
        futures_util::stream::iter(provisioners.iter().enumerate())
            .map(|(i, p)| async move {
                let p = p.as_ref();
                let f = match wait_ready(p, opts.ready_timeout).await {
                    Ok(()) => guard::facts(p, secrets.store()).await,
                    Err(e) => Err(e),
                };
                (i, f)
            })
            .buffer_unordered(opts.services_in_parallel.max(1))
            .collect()
            .await;
    facts.sort_by_key(|(i, _)| *i);
    if opts.adopt_existing {
        for (_, f) in &mut facts {
            if let Ok(f) = f {
                f.owners
                    .extend(creds.rows().iter().map(|r| r.username.clone()));
            }
        }
    }
    let refused: Vec<Vec<(usize, String)>> = provisioners
        .iter()
        .zip(&facts)
        .map(|(p, (_, f))| match f {
            Ok(f) => guard::refusals(p.as_ref(), f, creds),
            Err(_) => Vec::new(),
        })
        .collect();
    if refused.iter().any(|r| !r.is_empty()) {
        return refuse_all(provisioners, creds, secrets, opts, facts, &refused).await;
    }
    let mut per_service: Vec<(usize, Vec<Row>)> =
        futures_util::stream::iter(provisioners.iter().zip(facts).enumerate())
            .map(|(i, (p, (_, f)))| async move {
                let ready = f.map(drop);
                (
                    i,
                    add_service(p.as_ref(), secrets, creds, opts, ready).await,
                )
            })
            .buffer_unordered(opts.services_in_parallel.max(1))
            .collect()
            .await;
    per_service.sort_by_key(|(i, _)| *i);
    Report::new(
        opts.dry_run,
        per_service.into_iter().flat_map(|(_, r)| r).collect(),
    )
}

/// The report (and journal) of a run the guard stopped: nothing was changed.
async fn refuse_all(
    provisioners: &[Box<dyn Provisioner>],
    creds: &Credentials,
    secrets: &PasswordStore,
    opts: &AddOptions,
    facts: Vec<(usize, Result<Facts, ProvisionError>)>,
    refused: &[Vec<(usize, String)>],
) -> Report {
    let mut all = Vec::new();
    for ((p, (_, f)), refused) in provisioners.iter().zip(facts).zip(refused) {
        let p = p.as_ref();
        let rows: Vec<Row> = match f {
            Err(e) => creds.rows().iter().map(|c| failed_row(p, c, &e)).collect(),
            Ok(_) => creds
                .rows()
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let why = refused.iter().find(|(r, _)| *r == i).map(|(_, w)| w);
                    Row {
                        service: p.service(),
                        user: c.username.clone(),
                        action: if why.is_some() {
                            Action::Refused
                        } else {
                            Action::Skipped
                        },
                        detail: Some(why.cloned().unwrap_or_else(|| {
                            "not attempted: credentials.csv has refused rows".to_owned()
                        })),
                    }
                })
                .collect(),
        };
        if !opts.dry_run {
            journal_add(p, secrets, &rows).await;
        }
        all.extend(rows);
    }
    Report::new(opts.dry_run, all)
}

/// What exists in each service, compared with the CSV and the state database.
pub async fn list(
    provisioners: &[Box<dyn Provisioner>],
    creds: &Credentials,
    secrets: &PasswordStore,
) -> ListReport {
    let results: Vec<_> = futures_util::stream::iter(provisioners.iter())
        .map(|p| async move { (p.service(), key(p.as_ref()), p.list_users().await) })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut rows = Vec::new();
    let mut errors = BTreeMap::new();
    for (service, skey, result) in results {
        let existing: BTreeSet<String> = match result {
            Ok(v) => v.into_iter().collect(),
            Err(e) => {
                errors.insert(service, e.to_string());
                continue;
            }
        };
        let recorded: BTreeSet<String> = secrets
            .store()
            .accounts(Some(skey))
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|a| a.username)
            .collect();
        let csv: BTreeSet<String> = creds.rows().iter().map(|c| c.username.clone()).collect();
        for user in csv.union(&existing) {
            rows.push(ListRow {
                service,
                user: user.clone(),
                in_csv: csv.contains(user),
                in_service: existing.contains(user),
                recorded: recorded.contains(user),
            });
        }
    }
    rows.sort_by(|a, b| (a.service, &a.user).cmp(&(b.service, &b.user)));
    ListReport { rows, errors }
}

/// Remove `name` from every provisioner (its data too unless `keep_data`).
pub async fn remove(
    provisioners: &[Box<dyn Provisioner>],
    name: &str,
    keep_data: bool,
    secrets: &PasswordStore,
) -> RemoveReport {
    let mut rows: Vec<RemoveRow> = futures_util::stream::iter(provisioners.iter())
        .map(|p| async move {
            let removed = match guard::reserved(p.as_ref(), name, None) {
                Some(why) => Err(ProvisionError::Failed {
                    service: p.service().display_name().to_owned(),
                    detail: why,
                }),
                None => p.remove_user(name, keep_data).await,
            };
            let kept = matches!(removed, Ok(Removal::Blocked)) || (keep_data && removed.is_ok());
            let (result, detail, outcome) = match removed {
                Ok(Removal::Removed) => ("removed", None, JournalOutcome::Ok),
                Ok(Removal::Absent) => ("absent", None, JournalOutcome::Skipped),
                Ok(Removal::Blocked) => (
                    "blocked",
                    Some("account blocked, not deleted: its data is kept".to_owned()),
                    JournalOutcome::Ok,
                ),
                Err(e) => ("failed", Some(e.to_string()), JournalOutcome::Failed),
            };
            // Kept data stays the user's own (see guard) for when it is added again.
            if kept {
                let _ = secrets.store().keep_account(key(p.as_ref()), name).await;
            } else if result != "failed" {
                let _ = secrets.store().delete_account(key(p.as_ref()), name).await;
            }
            let entry = JournalEntry::new("user remove", outcome)
                .service(key(p.as_ref()))
                .detail(format!(
                    "{name}: {result}{}",
                    if keep_data { " (data kept)" } else { "" }
                ));
            if let Err(e) = secrets.store().record(&entry).await {
                tracing::warn!(error = %e, "cannot write the journal");
            }
            RemoveRow {
                service: p.service(),
                user: name.to_owned(),
                result,
                detail,
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    rows.sort_by_key(|r| r.service);
    RemoveReport { keep_data, rows }
}
