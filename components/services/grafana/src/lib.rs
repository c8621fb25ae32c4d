//! services_grafana: user provisioning in Grafana through its admin HTTP API — per CSV user
//! a Grafana user (login = the username, email when given) with the CSV password; new users
//! join the main org through Grafana's auto-assign. The admin is never touched.
//!
//! The generated Grafana has basic auth off (`GF_AUTH_BASIC_ENABLED=false`: Grafana then
//! registers no basic-auth client, grafana/grafana v12.3.1
//! pkg/services/authn/authnimpl/registration.go), and the admin API needs a server admin
//! (service accounts never are). So each operation logs in as `GRAFANA_ADMIN_USERNAME`
//! through the form login (`POST /login`, always registered unless the login form is
//! disabled), uses the session cookie for the admin API (no `Origin` header: Grafana's CSRF
//! check, pkg/middleware/csrf/csrf.go, compares only a present Origin with the Host) and logs
//! out (`GET /logout`). Whether a user's CSV password works is checked the same way.
//!
//! It never prints and never reads environment variables.

mod provisioner;

pub use provisioner::{GrafanaOptions, GrafanaProvisioner};
