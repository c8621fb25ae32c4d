//! services_grafana: user provisioning in Grafana through its admin HTTP API with the
//! `GRAFANA_ADMIN_USERNAME` basic-auth login — per CSV user a Grafana user (login = the
//! username, email when given) with the CSV password; new users join the main org through
//! Grafana's auto-assign. The admin is never touched.
//!
//! It never prints and never reads environment variables.

mod provisioner;

pub use provisioner::{GrafanaOptions, GrafanaProvisioner};
