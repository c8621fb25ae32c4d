//! Recording what the operator asked for (issue 16): a recording [`Lifecycle`] writes the
//! desired state of the services a command acts on before it touches the engine, and
//! `status` reads it back.

use catalog::Service;
use docker::Engine;
use store::{Desired, Holder, Store};

use crate::reconcile::{deviation, wanted};
use crate::{Lifecycle, LifecycleError, StatusReport};

/// Where a recording lifecycle writes, and as which command.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    pub(crate) store: Store,
    pub(crate) command: String,
}

impl<'e, E: Engine> Lifecycle<'e, E> {
    /// Record the operator's intent in `store` for every command of this lifecycle (`start`,
    /// `restart` → running, `stop` → stopped, `remove` → absent), as `command` (e.g.
    /// `service stop`). The caller holds the project lock, so a maintenance marker another
    /// process left on a service a command acts on is stale and is cleared. `status` then
    /// shows the desired state beside the actual one.
    #[must_use]
    pub fn recording(mut self, store: &Store, command: &str) -> Self {
        self.recorder = Some(Recorder {
            store: store.clone(),
            command: command.to_owned(),
        });
        self
    }

    /// Read the recorded intent from `store` for `status` (desired state, maintenance,
    /// deviation), for a lifecycle that only reads.
    #[must_use]
    pub fn with_intents(self, store: &Store) -> Self {
        self.recording(store, "")
    }

    /// Record `desired` for `services` (no-op on a lifecycle that does not record).
    pub(crate) async fn record(
        &self,
        services: &[Service],
        desired: Desired,
    ) -> Result<(), LifecycleError> {
        let Some(r) = self.recorder.as_ref().filter(|r| !r.command.is_empty()) else {
            return Ok(());
        };
        let names: Vec<&str> = services.iter().map(|s| s.compose_name()).collect();
        let me = Holder::this_process(r.command.clone());
        for (service, m) in r.store.end_stale_maintenance(&names, &me).await? {
            tracing::warn!(%service, marker = %m, "cleared a maintenance marker an interrupted command left");
        }
        r.store
            .set_desired(&names, desired, &r.command, std::time::SystemTime::now())
            .await?;
        Ok(())
    }

    /// Fill the desired state, maintenance and deviation of each row from the store.
    pub(crate) async fn annotate(&self, report: &mut StatusReport) -> Result<(), LifecycleError> {
        let Some(r) = &self.recorder else {
            return Ok(());
        };
        let intents = r.store.intents().await?;
        for row in &mut report.services {
            let intent = intents.get(row.service.compose_name());
            let w = wanted(row, intent);
            row.desired = w.map(|w| w.desired);
            row.desired_assumed = w.is_some_and(|w| w.assumed);
            row.maintenance = intent
                .and_then(|i| i.maintenance.as_ref())
                .map(ToString::to_string);
            row.deviation = deviation(row, w);
        }
        Ok(())
    }
}
