//! What the operator wants of each service (`service_intent`), and the maintenance marker a
//! backup, restore or upgrade sets on the services it works on.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use crate::error::StoreError;
use crate::holder::Holder;
use crate::open::{Store, with_pool, with_tx};
use crate::time::{from_millis, to_millis};

/// The state the operator asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Desired {
    /// `start`, `restart`, `install`, `upgrade`.
    Running,
    /// `stop`.
    Stopped,
    /// `remove`.
    Absent,
}

impl Desired {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Stopped => "stopped",
            Self::Absent => "absent",
        }
    }
}

impl fmt::Display for Desired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Desired {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "running" => Self::Running,
            "stopped" => Self::Stopped,
            "absent" => Self::Absent,
            other => return Err(format!("unknown desired state {other:?}")),
        })
    }
}

/// The recorded intent of one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceIntent {
    /// `None`: never recorded (a legacy install, or only a maintenance marker).
    pub desired: Option<Desired>,
    /// The command that recorded `desired` (empty when none did).
    pub command: String,
    pub updated_at: SystemTime,
    /// Set while a backup, restore or upgrade works on the service.
    pub maintenance: Option<Holder>,
}

type IntentRow = (
    String,
    Option<String>,
    String,
    i64,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<i64>,
);

impl Store {
    /// Record that the operator wants `services` in state `desired` (by `command`).
    pub async fn set_desired(
        &self,
        services: &[&str],
        desired: Desired,
        command: &str,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let r: Result<(), sqlx::Error> = with_tx!(self, |tx| {
            for s in services {
                sqlx::query(
                    "INSERT INTO service_intent (service, desired, command, updated_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (service) DO UPDATE SET \
                     desired = excluded.desired, command = excluded.command, \
                     updated_at = excluded.updated_at",
                )
                .bind(*s)
                .bind(desired.as_str())
                .bind(command)
                .bind(to_millis(now))
                .execute(&mut *tx)
                .await?;
            }
        });
        r.map_err(|e| self.db_err(e))
    }

    /// Mark `services` as in maintenance by `holder` (replacing any older marker).
    pub async fn begin_maintenance(
        &self,
        services: &[&str],
        holder: &Holder,
    ) -> Result<(), StoreError> {
        let since = to_millis(holder.since);
        let r: Result<(), sqlx::Error> = with_tx!(self, |tx| {
            for s in services {
                sqlx::query(
                    "INSERT INTO service_intent \
                     (service, updated_at, maint_command, maint_pid, maint_host, maint_since) \
                     VALUES ($1, $2, $3, $4, $5, $2) ON CONFLICT (service) DO UPDATE SET \
                     maint_command = excluded.maint_command, maint_pid = excluded.maint_pid, \
                     maint_host = excluded.maint_host, maint_since = excluded.maint_since",
                )
                .bind(*s)
                .bind(since)
                .bind(&holder.command)
                .bind(i64::from(holder.pid))
                .bind(&holder.host)
                .execute(&mut *tx)
                .await?;
            }
        });
        r.map_err(|e| self.db_err(e))
    }

    /// Clear the maintenance marker of `services`: only markers of `holder`'s process when
    /// given, every marker otherwise. Returns how many were cleared.
    pub async fn end_maintenance(
        &self,
        services: &[&str],
        holder: Option<&Holder>,
    ) -> Result<u64, StoreError> {
        let (pid, host) =
            holder.map_or((-1, String::new()), |h| (i64::from(h.pid), h.host.clone()));
        let r: Result<u64, sqlx::Error> = with_tx!(self, |tx| {
            let mut n = 0;
            for s in services {
                n += sqlx::query(
                    "UPDATE service_intent SET maint_command = NULL, maint_pid = NULL, \
                     maint_host = NULL, maint_since = NULL \
                     WHERE service = $1 AND maint_command IS NOT NULL \
                     AND ($2 < 0 OR (maint_pid = $2 AND maint_host = $3))",
                )
                .bind(*s)
                .bind(pid)
                .bind(&host)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            n
        });
        r.map_err(|e| self.db_err(e))
    }

    /// Clear the maintenance markers of `services` that another process than `this` left.
    /// Only for a caller holding the project lock: every command that sets a marker holds
    /// the lock while it works, so a marker of another process is one left by a command
    /// that was interrupted. Returns the markers cleared.
    pub async fn end_stale_maintenance(
        &self,
        services: &[&str],
        this: &Holder,
    ) -> Result<Vec<(String, Holder)>, StoreError> {
        let all = self.intents().await?;
        let stale: Vec<(String, Holder)> = services
            .iter()
            .filter_map(|s| {
                let m = all.get(*s)?.maintenance.as_ref()?;
                (m.pid != this.pid || m.host != this.host).then(|| ((*s).to_owned(), m.clone()))
            })
            .collect();
        let names: Vec<&str> = stale.iter().map(|(s, _)| s.as_str()).collect();
        if !names.is_empty() {
            self.end_maintenance(&names, None).await?;
        }
        Ok(stale)
    }

    /// Every recorded intent, by service name.
    pub async fn intents(&self) -> Result<BTreeMap<String, ServiceIntent>, StoreError> {
        let r: Result<Vec<IntentRow>, sqlx::Error> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT service, desired, command, updated_at, maint_command, maint_pid, \
                 maint_host, maint_since FROM service_intent",
            )
            .fetch_all(pool)
            .await
        });
        r.map_err(|e| self.db_err(e))?
            .into_iter()
            .map(|(service, desired, command, at, mc, mp, mh, ms)| {
                let desired = desired
                    .map(|d| d.parse::<Desired>())
                    .transpose()
                    .map_err(|e| self.decode_err(e))?;
                let maintenance = match (mc, mp, mh, ms) {
                    (Some(command), Some(pid), Some(host), Some(since)) => Some(Holder {
                        command,
                        pid: u32::try_from(pid).map_err(|e| self.decode_err(e.to_string()))?,
                        host,
                        since: from_millis(since),
                    }),
                    _ => None,
                };
                Ok((
                    service,
                    ServiceIntent {
                        desired,
                        command,
                        updated_at: from_millis(at),
                        maintenance,
                    },
                ))
            })
            .collect()
    }
}
