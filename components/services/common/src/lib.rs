//! services_common: what every service crate that provisions users shares — the ONE
//! reqwest client builder (applying `SSL_VERIFY` and the project's CA), a bounded retry for
//! network errors and 5xx answers (never 4xx; a POST or PATCH only when it cannot have been
//! carried out: no connection, or 503), the [`Provisioner`] trait each service
//! implements (`list_users`, `ensure_user`, `remove_user`, a readiness probe, and the facts the
//! users component's admin/foreign-object rule needs: `reserved_names`, `claims`,
//! `existing_objects` with each service's [`NameRule`]), the shared [`ProvisionError`], and
//! [`encode`], the one percent-encoder of path segments, query and form values.
//!
//! It knows no particular service API, never prints and never reads environment variables;
//! secrets stay `SecretString`s and never reach an error message.

mod encode;
mod error;
mod http;
mod provision;

pub use encode::encode;
pub use error::ProvisionError;
pub use http::{HttpApi, HttpOptions, Retry, http_client, project_ca_file};
pub use provision::{
    BoxFuture, Claim, Existing, NameRule, Outcome, PasswordState, Provisioner, Removal, Reserved,
    UserSpec, refuse_admin,
};
