//! The jobs themselves: each returns a [`crate::job::JobOutput`].

pub(crate) mod admin_credentials;
pub(crate) mod certs_expiry;
pub(crate) mod prune_history;
pub(crate) mod service_health;
pub(crate) mod users_sync;
