//! A lease per job in the state database, so two runners (two CronJob pods, a daemon and a
//! manual run) never run the same job at once. The lease is renewed while the job runs and
//! given back when it ends; a runner that dies leaves it to expire after [`LEASE_TTL`].

use std::future::Future;
use std::time::{Duration, SystemTime};

use store::{Lease, Store, StoreError};

/// How long a lease lasts without renewal.
pub(crate) const LEASE_TTL: Duration = Duration::from_secs(60);

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The outcome of [`with_lease`].
#[derive(Debug)]
pub(crate) enum Leased<T> {
    /// We held the lease and ran the work.
    Ran(T),
    /// Someone else holds it: the work was not run.
    Held(Lease),
}

/// Run `work` while holding the lease `name` for `holder`; if another holder has it, do
/// not run and return who holds it.
///
/// # Errors
/// The state database failed while taking the lease.
pub(crate) async fn with_lease<F, T>(
    store: &Store,
    name: &str,
    holder: &str,
    ttl: Duration,
    work: F,
) -> Result<Leased<T>, StoreError>
where
    F: Future<Output = T>,
{
    let acquired = store
        .try_acquire_lease(name, holder, SystemTime::now(), ttl)
        .await?;
    if acquired.is_none() {
        // Read who holds it; it may have been released in between (then report "unknown").
        let lease = store.lease(name).await?.unwrap_or_else(|| Lease {
            name: name.to_owned(),
            holder: "another runner (already released)".to_owned(),
            expires_at: SystemTime::now(),
        });
        return Ok(Leased::Held(lease));
    }
    let renewer = {
        let store = store.clone();
        let name = name.to_owned();
        let holder = holder.to_owned();
        tokio::spawn(async move {
            let every = (ttl / 3).max(Duration::from_millis(100));
            loop {
                tokio::time::sleep(every).await;
                match store
                    .renew_lease(&name, &holder, SystemTime::now(), ttl)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(lease = %name, "lease lost while the job runs");
                    }
                    Err(e) => tracing::warn!(lease = %name, error = %e, "lease renewal failed"),
                }
            }
        })
    };
    // Aborted on every way out, also when the run itself is dropped (a forced stop).
    let renewer = AbortOnDrop(renewer);
    let out = work.await;
    drop(renewer);
    if let Err(e) = store.release_lease(name, holder).await {
        tracing::warn!(lease = %name, error = %e, "lease release failed (it expires by itself)");
    }
    Ok(Leased::Ran(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::test_support::TestDb;

    #[tokio::test]
    async fn a_second_holder_is_told_who_holds_the_lease_and_does_not_run() {
        let db = TestDb::sqlite();
        let store = Store::open(&db.location()).await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let s1 = store.clone();
        let first = tokio::spawn(async move {
            with_lease(&s1, "job:x", "host-a:1", LEASE_TTL, async move {
                started_tx.send(()).unwrap();
                rx.await.unwrap();
                "first ran"
            })
            .await
            .unwrap()
        });
        started_rx.await.unwrap();
        let mut ran = false;
        let second = with_lease(&store, "job:x", "host-b:2", LEASE_TTL, async {
            ran = true;
        })
        .await
        .unwrap();
        match second {
            Leased::Held(l) => assert_eq!(l.holder, "host-a:1"),
            Leased::Ran(()) => panic!("the second runner ran"),
        }
        assert!(!ran);
        tx.send(()).unwrap();
        assert!(matches!(first.await.unwrap(), Leased::Ran("first ran")));
        // Released: the next runner gets it.
        let third = with_lease(&store, "job:x", "host-b:2", LEASE_TTL, async { 3 })
            .await
            .unwrap();
        assert!(matches!(third, Leased::Ran(3)));
        assert_eq!(store.lease("job:x").await.unwrap(), None);
    }
}
