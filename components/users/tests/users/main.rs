//! The reconcile against in-memory provisioners and a throw-away state database.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use catalog::Service;
use password_store::{KeySource, PasswordStore};
use secrecy::ExposeSecret as _;
use services_common::{
    BoxFuture, Claim, Existing, NameRule, Outcome, PasswordState, ProvisionError, Provisioner,
    Removal, Reserved, UserSpec,
};
use store::Store;
use store::test_support::TestDb;
use users::{Action, AddOptions};

/// A service holding users in memory; `fail_user` always fails, `down` never answers.
#[derive(Debug, Default)]
struct Memory {
    service: Option<Service>,
    users: Mutex<BTreeMap<String, String>>,
    seen_states: Mutex<Vec<(String, PasswordState)>>,
    fail_user: Option<&'static str>,
    unauthorized: bool,
    /// The admin account (kind `user`).
    admin: Option<&'static str>,
    /// Objects of kind `vhost` that exist (each user gets one of its name).
    vhosts: Mutex<Vec<String>>,
    /// How names compare (exact unless set).
    ignore_case: bool,
    /// This user's vhost is made, then the call fails (a run stopped half-way).
    fail_after_vhost: Option<&'static str>,
    /// Users ensured since the last `finish_users` (its batch).
    batch: Mutex<Vec<String>>,
    /// Each `finish_users` call's batch, sorted.
    finished: Mutex<Vec<Vec<String>>>,
    /// `finish_users` fails this user.
    finish_fails: Option<&'static str>,
}

mod guard;
mod services;

impl Memory {
    fn new(service: Service) -> Self {
        Self {
            service: Some(service),
            ..Self::default()
        }
    }
    fn name(&self) -> String {
        self.service.unwrap().display_name().to_owned()
    }
}

impl Provisioner for Memory {
    fn service(&self) -> Service {
        self.service.unwrap()
    }
    fn probe(&self) -> BoxFuture<'_, Result<(), ProvisionError>> {
        Box::pin(async move {
            if self.unauthorized {
                Err(ProvisionError::Unauthorized {
                    service: self.name(),
                    detail: "HTTP 401".to_owned(),
                })
            } else {
                Ok(())
            }
        })
    }
    fn list_users(&self) -> BoxFuture<'_, Result<Vec<String>, ProvisionError>> {
        Box::pin(async move { Ok(self.users.lock().unwrap().keys().cloned().collect()) })
    }
    fn ensure_user<'a>(
        &'a self,
        user: &'a UserSpec,
    ) -> BoxFuture<'a, Result<Outcome, ProvisionError>> {
        Box::pin(async move {
            self.seen_states
                .lock()
                .unwrap()
                .push((user.name.clone(), user.password_state));
            if self.fail_user == Some(user.name.as_str()) {
                return Err(ProvisionError::Failed {
                    service: self.name(),
                    detail: format!("cannot create {}", user.name),
                });
            }
            let mut vhosts = self.vhosts.lock().unwrap();
            if !vhosts.contains(&user.name) {
                vhosts.push(user.name.clone());
            }
            if self.fail_after_vhost == Some(user.name.as_str()) {
                return Err(ProvisionError::Failed {
                    service: self.name(),
                    detail: "stopped half-way".to_owned(),
                });
            }
            self.batch.lock().unwrap().push(user.name.clone());
            let mut users = self.users.lock().unwrap();
            let pw = user.password.expose_secret().to_owned();
            Ok(match users.insert(user.name.clone(), pw.clone()) {
                None => Outcome::Created,
                Some(old) if old == pw => Outcome::Unchanged,
                Some(_) => Outcome::Updated,
            })
        })
    }
    fn finish_users(&self) -> BoxFuture<'_, Vec<(String, ProvisionError)>> {
        Box::pin(async move {
            let mut batch = std::mem::take(&mut *self.batch.lock().unwrap());
            batch.sort();
            let failed = batch
                .iter()
                .filter(|u| self.finish_fails == Some(u.as_str()))
                .map(|u| {
                    let detail = format!("batched work of {u} failed");
                    (
                        u.clone(),
                        ProvisionError::Failed {
                            service: self.name(),
                            detail,
                        },
                    )
                })
                .collect();
            self.finished.lock().unwrap().push(batch);
            failed
        })
    }
    fn remove_user<'a>(
        &'a self,
        name: &'a str,
        keep_data: bool,
    ) -> BoxFuture<'a, Result<Removal, ProvisionError>> {
        // Keeping data blocks the account instead (as GitLab does).
        Box::pin(async move {
            Ok(match self.users.lock().unwrap().remove(name) {
                Some(_) if keep_data => Removal::Blocked,
                Some(_) => Removal::Removed,
                None => Removal::Absent,
            })
        })
    }
    fn reserved_names(&self) -> Vec<Reserved> {
        self.admin
            .map(|a| vec![Reserved::new("user", a, "the admin (ADMIN_USERNAME)")])
            .unwrap_or_default()
    }
    fn claims(&self, name: &str, _email: Option<&str>) -> Vec<Claim> {
        let rule = if self.ignore_case {
            NameRule::IgnoreCase
        } else {
            NameRule::Exact
        };
        vec![
            Claim::new("user", name, rule),
            Claim::new("vhost", name, rule),
        ]
    }
    fn existing_objects(&self) -> BoxFuture<'_, Result<Vec<Existing>, ProvisionError>> {
        Box::pin(async move {
            let mut out: Vec<Existing> = self
                .users
                .lock()
                .unwrap()
                .keys()
                .map(|u| Existing::new("user", u.clone()))
                .collect();
            out.extend(
                self.vhosts
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|v| Existing::new("vhost", v.clone())),
            );
            Ok(out)
        })
    }
}

#[derive(Debug)]
struct Shared(std::sync::Arc<Memory>);
impl Provisioner for Shared {
    fn service(&self) -> Service {
        self.0.service()
    }
    fn probe(&self) -> BoxFuture<'_, Result<(), ProvisionError>> {
        self.0.probe()
    }
    fn list_users(&self) -> BoxFuture<'_, Result<Vec<String>, ProvisionError>> {
        self.0.list_users()
    }
    fn ensure_user<'a>(
        &'a self,
        u: &'a UserSpec,
    ) -> BoxFuture<'a, Result<Outcome, ProvisionError>> {
        self.0.ensure_user(u)
    }
    fn finish_users(&self) -> BoxFuture<'_, Vec<(String, ProvisionError)>> {
        self.0.finish_users()
    }
    fn remove_user<'a>(
        &'a self,
        n: &'a str,
        k: bool,
    ) -> BoxFuture<'a, Result<Removal, ProvisionError>> {
        self.0.remove_user(n, k)
    }
    fn reserved_names(&self) -> Vec<Reserved> {
        self.0.reserved_names()
    }
    fn claims(&self, n: &str, e: Option<&str>) -> Vec<Claim> {
        self.0.claims(n, e)
    }
    fn existing_objects(&self) -> BoxFuture<'_, Result<Vec<Existing>, ProvisionError>> {
        self.0.existing_objects()
    }
}

async fn secrets(db: &TestDb, dir: &tempfile::TempDir) -> PasswordStore {
    let store = Store::open(&db.location()).await.unwrap();
    PasswordStore::open(store, &KeySource::File(dir.path().join("key")))
        .await
        .unwrap()
}

fn creds(text: &str) -> credentials::Credentials {
    credentials::parse(text.as_bytes(), "credentials.csv", &[]).unwrap()
}

fn table(report: &users::Report) -> String {
    report
        .rows
        .iter()
        .map(|r| {
            format!(
                "{:<10} {:<6} {}{}",
                r.service.display_name(),
                r.user,
                r.action.as_str(),
                r.detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn every_row_is_attempted_and_reruns_are_unchanged() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets(&db, &dir).await;
    let mut pg = Memory::new(Service::Postgres);
    pg.fail_user = Some("u2");
    let rabbit = Memory::new(Service::RabbitMq);
    let down = Memory {
        unauthorized: true,
        ..Memory::new(Service::Grafana)
    };
    let ps: Vec<Box<dyn Provisioner>> = vec![Box::new(pg), Box::new(rabbit), Box::new(down)];
    let c = creds("username,password\nu1,pass-one-1\nu2,pass-two-2\nu3,pass-three-3\n");

    let report = users::add(&ps, &c, &secrets, &AddOptions::default()).await;
    assert!(report.failed());
    insta::assert_snapshot!(table(&report), @"
    PostgreSQL u1     created
    PostgreSQL u2     failed (PostgreSQL: cannot create u2)
    PostgreSQL u3     created
    RabbitMQ   u1     created
    RabbitMQ   u2     created
    RabbitMQ   u3     created
    Grafana    u1     failed (Grafana refused the admin credentials: HTTP 401)
    Grafana    u2     failed (Grafana refused the admin credentials: HTTP 401)
    Grafana    u3     failed (Grafana refused the admin credentials: HTTP 401)
    ");

    // Second run: recorded fingerprints say "same" for what succeeded.
    let report = users::add(&ps, &c, &secrets, &AddOptions::default()).await;
    insta::assert_snapshot!(table(&report), @"
    PostgreSQL u1     unchanged
    PostgreSQL u2     failed (PostgreSQL: cannot create u2)
    PostgreSQL u3     unchanged
    RabbitMQ   u1     unchanged
    RabbitMQ   u2     unchanged
    RabbitMQ   u3     unchanged
    Grafana    u1     failed (Grafana refused the admin credentials: HTTP 401)
    Grafana    u2     failed (Grafana refused the admin credentials: HTTP 401)
    Grafana    u3     failed (Grafana refused the admin credentials: HTTP 401)
    ");

    // A changed password is passed on as Changed.
    let c2 = creds("username,password\nu1,pass-one-CHANGED\nu3,pass-three-3\n");
    let dry = users::add(
        &ps,
        &c2,
        &secrets,
        &AddOptions {
            dry_run: true,
            ..AddOptions::default()
        },
    )
    .await;
    insta::assert_snapshot!(table(&dry), @"
    PostgreSQL u1     would update
    PostgreSQL u3     unchanged
    RabbitMQ   u1     would update
    RabbitMQ   u3     unchanged
    Grafana    u1     failed (Grafana refused the admin credentials: HTTP 401)
    Grafana    u3     failed (Grafana refused the admin credentials: HTTP 401)
    ");
    let report = users::add(&ps[1..2], &c2, &secrets, &AddOptions::default()).await;
    assert_eq!(report.rows[0].action, Action::Updated);
    assert!(!report.failed());

    // The journal never holds a password.
    let history = secrets.store().history(50).await.unwrap();
    let text = format!("{history:?}");
    assert!(text.contains("user add"), "{text}");
    for pw in ["pass-one", "pass-two", "pass-three"] {
        assert!(!text.contains(pw), "{text}");
    }
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains("pass-"), "{json}");
}

/// A provisioner's batched work (GitLab: one runner for every changed password) runs once
/// per run, after every row's `ensure_user`; a user it fails is a failed row whose password
/// is not recorded, so the next run sets it again.
#[tokio::test]
async fn batched_work_runs_once_after_the_rows_and_a_user_it_fails_is_not_recorded() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets(&db, &dir).await;
    let mem = Arc::new(Memory {
        finish_fails: Some("u2"),
        ..Memory::new(Service::GitLab)
    });
    let ps: Vec<Box<dyn Provisioner>> = vec![Box::new(Shared(mem.clone()))];
    let c = creds("username,password\nu1,pass-one-1\nu2,pass-two-2\nu3,pass-three-3\n");
    let report = users::add(&ps, &c, &secrets, &AddOptions::default()).await;
    insta::assert_snapshot!(table(&report), @"
    GitLab     u1     created
    GitLab     u2     failed (GitLab: batched work of u2 failed)
    GitLab     u3     created
    ");
    assert_eq!(*mem.finished.lock().unwrap(), [["u1", "u2", "u3"]]);

    // u2's account was claimed but its fingerprint never recorded: its password is set
    // again (Changed), the others are unchanged.
    users::add(&ps, &c, &secrets, &AddOptions::default()).await;
    let seen = mem.seen_states.lock().unwrap().clone();
    assert_eq!(
        seen[3..]
            .iter()
            .map(|(u, s)| (u.as_str(), *s))
            .collect::<BTreeMap<_, _>>(),
        BTreeMap::from([
            ("u1", PasswordState::Same),
            ("u2", PasswordState::Changed),
            ("u3", PasswordState::Same),
        ])
    );
    assert_eq!(mem.finished.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn states_passed_to_the_service_follow_the_fingerprints() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets(&db, &dir).await;
    let mem = std::sync::Arc::new(Memory::new(Service::RabbitMq));
    let ps: Vec<Box<dyn Provisioner>> = vec![Box::new(Shared(mem.clone()))];
    let opts = AddOptions::default();
    users::add(
        &ps,
        &creds("username,password\na,pw-aaaaaa1\n"),
        &secrets,
        &opts,
    )
    .await;
    users::add(
        &ps,
        &creds("username,password\na,pw-aaaaaa1\n"),
        &secrets,
        &opts,
    )
    .await;
    users::add(
        &ps,
        &creds("username,password\na,pw-aaaaaa2\n"),
        &secrets,
        &opts,
    )
    .await;
    let seen = mem.seen_states.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            ("a".to_owned(), PasswordState::Unknown),
            ("a".to_owned(), PasswordState::Same),
            ("a".to_owned(), PasswordState::Changed),
        ]
    );

    let listed = users::list(&ps, &creds("username,password\nb,pw-bbbbbb1\n"), &secrets).await;
    let rows: Vec<_> = listed
        .rows
        .iter()
        .map(|r| (r.user.as_str(), r.in_csv, r.in_service, r.recorded))
        .collect();
    assert_eq!(rows, [("a", false, true, true), ("b", true, false, false)]);

    let removed = users::remove(&ps, "a", false, &secrets).await;
    assert_eq!(removed.rows[0].result, "removed");
    assert!(
        secrets
            .store()
            .account("rabbitmq", "a")
            .await
            .unwrap()
            .is_none()
    );
    let removed = users::remove(&ps, "a", false, &secrets).await;
    assert_eq!(removed.rows[0].result, "absent");
}

#[tokio::test]
async fn a_blocked_account_is_reported_as_kept() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let secrets = secrets(&db, &dir).await;
    let ps: Vec<Box<dyn Provisioner>> = vec![Box::new(Memory::new(Service::GitLab))];
    users::add(
        &ps,
        &creds("username,password\na,pw-aaaaaa1\n"),
        &secrets,
        &AddOptions::default(),
    )
    .await;
    let removed = users::remove(&ps, "a", true, &secrets).await;
    assert!(!removed.failed());
    assert_eq!(removed.rows[0].result, "blocked");
    insta::assert_snapshot!(
        serde_json::to_string(&removed).unwrap(),
        @r#"{"keep_data":true,"rows":[{"service":"gitlab","user":"a","result":"blocked","detail":"account blocked, not deleted: its data is kept"}]}"#
    );
    let history = format!("{:?}", secrets.store().history(5).await.unwrap());
    assert!(history.contains("a: blocked (data kept)"), "{history}");
}
