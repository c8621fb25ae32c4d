use std::collections::BTreeMap;

use catalog::Service;

/// What happened (or, in a dry run, would happen) to one user in one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Created,
    Updated,
    Unchanged,
    Failed,
    /// Refused by the guard (an admin account, a platform object or an object that is not
    /// the user's own): nothing was changed.
    Refused,
    /// Not attempted: other rows were refused, so nothing was changed.
    Skipped,
    /// Dry run: the user would be created.
    WouldCreate,
    /// Dry run: the user exists and its password (or state) would be updated.
    WouldUpdate,
}

impl Action {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
            Self::Failed => "failed",
            Self::Refused => "refused",
            Self::Skipped => "skipped",
            Self::WouldCreate => "would create",
            Self::WouldUpdate => "would update",
        }
    }
}

/// One user in one service.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Row {
    pub service: Service,
    pub user: String,
    pub action: Action,
    /// The error (for `failed`), never a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The result of `add`: one row per service and CSV user, ordered by service then CSV order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub rows: Vec<Row>,
    /// Per service: how many rows had each action.
    pub summary: BTreeMap<Service, BTreeMap<&'static str, usize>>,
}

impl Report {
    pub(crate) fn new(dry_run: bool, rows: Vec<Row>) -> Self {
        let mut summary: BTreeMap<Service, BTreeMap<&'static str, usize>> = BTreeMap::new();
        for r in &rows {
            *summary
                .entry(r.service)
                .or_default()
                .entry(r.action.as_str())
                .or_default() += 1;
        }
        Self {
            dry_run,
            rows,
            summary,
        }
    }

    /// Whether any row failed or was refused.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.rows
            .iter()
            .any(|r| matches!(r.action, Action::Failed | Action::Refused))
    }

    /// Whether the guard refused rows (then nothing was changed).
    #[must_use]
    pub fn refused(&self) -> bool {
        self.rows.iter().any(|r| r.action == Action::Refused)
    }
}

/// One user as seen by `list`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListRow {
    pub service: Service,
    pub user: String,
    pub in_csv: bool,
    pub in_service: bool,
    /// Whether the state database has a record (fingerprint) of it.
    pub recorded: bool,
}

/// The result of `list`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListReport {
    pub rows: Vec<ListRow>,
    /// Services that could not be listed, with the error.
    pub errors: BTreeMap<Service, String>,
}

/// One service in `remove`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RemoveRow {
    pub service: Service,
    pub user: String,
    /// `removed`, `absent`, `blocked` (kept: the account is blocked, not deleted) or
    /// `failed`.
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The result of `remove`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RemoveReport {
    pub keep_data: bool,
    pub rows: Vec<RemoveRow>,
}

impl RemoveReport {
    /// Whether any service failed.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.rows.iter().any(|r| r.result == "failed")
    }
}
