//! Several processes writing one store: nothing lost, and a killed writer leaves the previous
//! state readable. Children are this test binary re-executed on an ignored test.

use std::process::{Child, Command, Stdio};
use std::time::SystemTime;

use secrecy::SecretString;
use store::{JournalEntry, NewSecret, Outcome, Store, StoreLocation};

use store::both_backends;
use store::test_support::TestDb;

const CHILD_LOCATION: &str = "DTAAS_STORE_TEST_CHILD_LOCATION";
const CHILD_MODE: &str = "DTAAS_STORE_TEST_CHILD_MODE";
const WRITES: usize = 40;
const BATCH: usize = 10;

fn child_location() -> StoreLocation {
    let raw = std::env::var(CHILD_LOCATION).expect("child location");
    match raw.strip_prefix("sqlite:") {
        Some(path) => StoreLocation::Sqlite(path.into()),
        None => StoreLocation::Postgres(SecretString::from(raw)),
    }
}

fn spawn_child(db: &TestDb, mode: &str, tag: &str) -> Child {
    let location = match db.sqlite_path() {
        Some(p) => format!("sqlite:{}", p.display()),
        None => match db.location() {
            StoreLocation::Postgres(url) => secrecy::ExposeSecret::expose_secret(&url).to_owned(),
            StoreLocation::Sqlite(_) => unreachable!(),
        },
    };
    Command::new(std::env::current_exe().unwrap())
        .args([
            "concurrency::child_writer",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_LOCATION, location)
        .env(CHILD_MODE, format!("{mode}:{tag}"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child writer")
}

/// Child process body (run only when re-executed by the tests below).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper process for the concurrency tests"]
async fn child_writer() {
    let mode = std::env::var(CHILD_MODE).expect("only run as a child of the concurrency tests");
    let (mode, tag) = mode.split_once(':').unwrap();
    let store = Store::open(&child_location()).await.expect("child open");
    match mode {
        "fixed" => {
            for i in 0..WRITES {
                store
                    .record(&JournalEntry::new(format!("{tag} {i}"), Outcome::Ok))
                    .await
                    .unwrap();
                let s = NewSecret {
                    name: format!("{tag}_{i}"),
                    ciphertext: vec![1; 32],
                    nonce: vec![2; 24],
                };
                store.put_secret(&s, SystemTime::now()).await.unwrap();
            }
        }
        "forever" => {
            for batch in 0.. {
                let secrets: Vec<NewSecret> = (0..BATCH)
                    .map(|i| NewSecret {
                        name: format!("{tag}_{batch}_{i}"),
                        ciphertext: vec![7; 4096],
                        nonce: vec![8; 24],
                    })
                    .collect();
                store
                    .import_secrets_once(
                        &format!("batch.{tag}.{batch}"),
                        "x",
                        &secrets,
                        SystemTime::now(),
                    )
                    .await
                    .unwrap();
            }
        }
        other => panic!("unknown child mode {other}"),
    }
    store.close().await;
}

async fn two_processes_lose_nothing(db: &TestDb) {
    // Create the schema first on PostgreSQL? No: let both children race on the first open too.
    let mut a = spawn_child(db, "fixed", "A");
    let mut b = spawn_child(db, "fixed", "B");
    assert!(a.wait().unwrap().success(), "child A failed");
    assert!(b.wait().unwrap().success(), "child B failed");

    let store = Store::open(&db.location()).await.unwrap();
    let history = store.history(1000).await.unwrap();
    assert_eq!(history.len(), 2 * WRITES);
    for tag in ["A", "B"] {
        let n = history
            .iter()
            .filter(|r| r.entry.command.starts_with(tag))
            .count();
        assert_eq!(n, WRITES, "journal lines of {tag}");
    }
    assert_eq!(store.list_secrets().await.unwrap().len(), 2 * WRITES);
    store.close().await;
}
both_backends!(two_processes, super::two_processes_lose_nothing);

async fn a_killed_writer_leaves_a_readable_store(db: &TestDb) {
    let store = Store::open(&db.location()).await.unwrap();
    let mut child = spawn_child(db, "forever", "K");
    // Wait until the child has committed a few batches, then kill it mid-write.
    loop {
        if store.list_secrets().await.unwrap().len() >= 3 * BATCH {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("child writer exited early: {status}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    store.close().await;

    let store = Store::open(&db.location())
        .await
        .expect("reopen after kill");
    let secrets = store.list_secrets().await.unwrap();
    assert!(secrets.len() >= 3 * BATCH);
    assert_eq!(
        secrets.len() % BATCH,
        0,
        "a batch was partly written: {}",
        secrets.len()
    );
    // Every committed batch has its marker, and only those.
    let batches = secrets.len() / BATCH;
    for batch in 0..batches {
        assert!(
            store
                .get_meta(&format!("batch.K.{batch}"))
                .await
                .unwrap()
                .is_some(),
            "batch {batch}"
        );
    }
    assert_eq!(
        store.get_meta(&format!("batch.K.{batches}")).await.unwrap(),
        None
    );
    // And the store still takes writes.
    store
        .record(&JournalEntry::new("after kill", Outcome::Ok))
        .await
        .unwrap();
    store.close().await;
}
both_backends!(
    killed_writer,
    super::a_killed_writer_leaves_a_readable_store
);
