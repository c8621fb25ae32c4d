//! The maintenance marker (issue 16): while `service backup`, `restore` or `upgrade` works on
//! services, they are marked in the state database with the command, process, host and
//! start time, so `dtaas-jobs` leaves them alone and `service status` says why.

use std::future::Future;

use catalog::Service;
use store::{Desired, Holder, Store};

use crate::{LifecycleError, Selection};

/// Run `work` with the selected services marked as in maintenance by this process running
/// `command`; the marker is cleared however `work` ends (a process killed meanwhile leaves
/// it: the next `start`/`stop`/`restart`/`remove` of the service clears it, and
/// `service-health` skips the service and says so until then). With `desired`, that intent
/// is recorded first (`upgrade` → running).
///
/// # Errors
/// The state database fails (as the caller's error type), or `work`'s error.
pub async fn in_maintenance<T, Er, F>(
    store: &Store,
    sel: &Selection,
    command: &str,
    desired: Option<Desired>,
    work: F,
) -> Result<T, Er>
where
    F: Future<Output = Result<T, Er>>,
    Er: From<LifecycleError>,
{
    let services: Vec<&str> = match sel {
        Selection::All => Service::ALL.iter().map(|s| s.compose_name()).collect(),
        Selection::Only(v) => v.iter().map(|s| s.compose_name()).collect(),
    };
    let me = Holder::this_process(command);
    let store_err = |e: store::StoreError| Er::from(LifecycleError::Store(e));
    if let Some(d) = desired {
        store
            .set_desired(&services, d, command, me.since)
            .await
            .map_err(store_err)?;
    }
    store
        .begin_maintenance(&services, &me)
        .await
        .map_err(store_err)?;
    let out = work.await;
    if let Err(e) = store.end_maintenance(&services, Some(&me)).await {
        // The work is done; a marker left behind is reported by status and service-health.
        tracing::warn!(error = %e, "cannot clear the maintenance marker");
    }
    out
}
